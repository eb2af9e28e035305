"""The front doors in a real Chromium at 360 px: the vendor pays by QRIS and by VA through the
simulators and watches each payment land; the officer's cash, sent twice and resent after a
dropped connection, is recorded once. Screenshots and page weights go to build/test-artifacts.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner
from playwright.sync_api import Page, Route, expect

from payments.models import Channel, Payment
from payments.sim.demo import demo_bank
from payments.sim.qris import demo_acquirer
from payments.va.services import va_numbers_for_vendor
from retribusi.auth.models import Role
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from tests.browser.fixtures import Traffic, record_weight, save_artifact
from tests.browser.test_login_pages import _layout_problems
from tests.factories import make_user
from tests.levy import factories as f
from vendors.models import Vendor

pytestmark = pytest.mark.browser
PAGE_BUDGET_BYTES = 60_000
MONTH_IDR = 157_500


def _payments(app: Flask) -> list[Payment]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Payment).order_by(Payment.id)))


def _owing_vendor(app: Flask, runner: FlaskCliRunner) -> tuple[int, str, str]:
    """Sri, signing in with 0812 3456 7890, owes October and November for a Klewer kios; the
    simulated bank and acquirer are set up. Returns her vendor id, name and VA digits."""
    assert runner.invoke(args=["sim", "setup"]).exit_code == 0
    assert runner.invoke(args=["sim", "qris", "setup"]).exit_code == 0
    with app.app_context():
        user = make_user(Role.VENDOR, secret="135790", phone="081234567890", full_name="Sri")
        f.illustrative_tariffs()
        holding = f.holding("KLEWER", area_m2="5")
        vendor = db.session.get(Vendor, holding.vendor.id)
        assert vendor is not None
        vendor.user_id = user.id
        db.session.commit()
        for month in ("2026-10", "2026-11"):
            issue_bills(month, actor="test", issued_on=date(2026, int(month[5:]), 1))
        [va] = va_numbers_for_vendor(vendor.id)
        return vendor.id, vendor.full_name, va.digits


def test_a_vendor_pays_by_qris_and_by_va_and_sees_each_payment_land(
    app: Flask, runner: FlaskCliRunner, live_url: str, phone_page: tuple[Page, Traffic]
) -> None:
    page, traffic = phone_page
    vendor_id, name, va_digits = _owing_vendor(app, runner)
    page.goto(f"{live_url}/login/pedagang")
    page.get_by_label("Nomor HP").fill("0812 3456 7890")
    page.get_by_label("PIN (6 angka)").fill("135790")
    traffic.reset()
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    # October, a month late (1 575 sanction), and November.
    expect(page.get_by_text("Rp316.575").first).to_be_visible()
    expect(page.get_by_text(va_digits)).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []}
    save_artifact(page, "vendor-bills-360")
    account_weight = record_weight("vendor-bills", traffic.total_bytes())

    # QRIS for October only; the acquirer pays while the code is on screen.
    page.get_by_label("Bulan 2026-11 · Rp157.500").uncheck()
    traffic.reset()
    page.get_by_role("button", name="Tampilkan kode QRIS").click()
    expect(page.get_by_role("heading", name="Bayar dengan QRIS")).to_be_visible()
    expect(page.get_by_text("Rp159.075").first).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []}
    save_artifact(page, "vendor-qris-code-360")
    code_weight = record_weight("vendor-qris-code", traffic.total_bytes())
    reference = page.url.rsplit("/", 1)[1]
    with app.test_request_context():
        from payments.qris.services import get_code

        payload = get_code(reference).payload
        reply = demo_acquirer(base_url=live_url).pay(payload)  # over real HTTP, signed
    assert reply.response_code == "2005200"
    expect(page.get_by_text("Pembayaran diterima")).to_be_visible(timeout=15_000)
    expect(page).to_have_url(f"{live_url}/saya/{vendor_id}", timeout=15_000)
    expect(page.get_by_text("Rp157.500").first).to_be_visible()  # November is left

    # VA: the bank pays while the bills page is open; the page notices by itself.
    with app.test_request_context():
        result = demo_bank(base_url=live_url).pay_bills(va_digits)
    assert result.accepted
    expect(page.get_by_text("Tidak ada yang perlu dibayar hari ini")).to_be_visible(timeout=15_000)
    save_artifact(page, "vendor-paid-360")

    assert [(p.channel, p.amount_idr) for p in _payments(app)] == [
        (Channel.QRIS, MONTH_IDR + 1_575),
        (Channel.VA, MONTH_IDR),
    ]
    page.get_by_role("link", name="Pembayaran dan kuitansi").click()
    page.get_by_role("link", name="Buka bukti bayar").first.click()
    expect(page.get_by_text("SSRD/2026/").first).to_be_visible()
    assert _layout_problems(page)["overflow"] == 0
    save_artifact(page, "vendor-receipt-360")
    assert traffic.foreign() == [] and traffic.console_errors == []
    assert account_weight < PAGE_BUDGET_BYTES, f"bills page weighs {account_weight} bytes"
    assert code_weight < PAGE_BUDGET_BYTES, f"QRIS page weighs {code_weight} bytes"


def test_cash_sent_twice_and_resent_after_a_dropped_answer_is_recorded_once(
    app: Flask, live_url: str, phone_page: tuple[Page, Traffic]
) -> None:
    page, traffic = phone_page
    with app.app_context():
        make_user(
            Role.OFFICER, secret="officer-password-1", username="budi", market_codes=("KLEWER",)
        )
        f.illustrative_tariffs()
        holding = f.holding("KLEWER", area_m2="5")
        issue_bills("2026-11", actor="test", issued_on=date(2026, 11, 1))
        vendor_id = holding.vendor.id
    page.goto(f"{live_url}/login")
    page.get_by_label("Nama pengguna").fill("budi")
    page.get_by_label("Kata sandi").fill("officer-password-1")
    page.get_by_role("button", name="Masuk").click()
    page.goto(f"{live_url}/kas/baru?vendor={vendor_id}")
    page.get_by_label("Jumlah yang diterima (Rp)").fill("157.500")
    assert _layout_problems(page) == {"overflow": 0, "small": []}
    save_artifact(page, "officer-cash-form-360")

    # The first send reaches the server, but its answer is lost on the way back.
    dropped: list[str] = []

    def lose_the_answer(route: Route) -> None:
        if route.request.method == "POST" and not dropped:
            route.fetch()  # the server records the cash...
            dropped.append(route.request.url)
            route.abort("connectionreset")  # ...and the phone never hears back
            return
        route.continue_()

    page.route("**/kas/baru*", lose_the_answer)
    submit = page.get_by_role("button", name="Catat uang tunai dan terbitkan bukti bayar")
    # The navigation fails: no answer came.
    with pytest.raises(Exception), page.expect_navigation(timeout=5_000):  # noqa: B017, PT011
        submit.click()
    assert dropped and len(_payments(app)) == 1
    # Chromium shows its own error page for the lost answer; let it land before moving on.
    page.wait_for_url(lambda url: url.startswith("chrome-error://"), timeout=10_000)
    # No receipt came: the officer opens the form again, which carries the same key, and in a
    # hurry taps the button twice.
    page.goto(f"{live_url}/kas/baru?vendor={vendor_id}")
    expect(page.get_by_text("tidak mendapat jawaban")).to_be_visible()
    submit.dblclick()
    expect(page.get_by_text("SSRD/2026/0000001").first).to_be_visible()
    expect(page.get_by_text("sudah tercatat")).to_be_visible()
    save_artifact(page, "officer-cash-receipt-360")
    payments = _payments(app)
    assert [(p.channel, p.amount_idr, p.vendor_id) for p in payments] == [
        (Channel.CASH, MONTH_IDR, vendor_id)
    ]
    assert traffic.foreign() == []
