"""Officer cash and the vendor's receipt on a 360 px phone, in a real browser."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from payments.models import Payment
from retribusi.auth.models import Role
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from tests.browser.fixtures import Traffic, save_artifact
from tests.browser.test_login_pages import _layout_problems
from tests.factories import make_user
from tests.levy import factories as f

pytestmark = pytest.mark.browser


def test_an_officer_takes_cash_on_a_phone_and_a_double_tap_records_it_once(
    app: Flask, live_url: str, phone_page: tuple[Page, Traffic]
) -> None:
    with app.app_context():
        make_user(
            Role.OFFICER, secret="officer-password-1", username="wati", market_codes=("KLEWER",)
        )
        f.illustrative_tariffs()
        holding = f.holding("KLEWER", area_m2="5")
        issue_bills("2026-10", actor="t", issued_on=date(2026, 10, 1))
        issue_bills("2026-11", actor="t")
        name = holding.vendor.full_name
    app.config["PUBLIC_BASE_URL"] = live_url  # the receipts' QR links point at this server
    page, traffic = phone_page
    page.goto(f"{live_url}/login")
    page.get_by_label("Nama pengguna").fill("wati")
    page.get_by_label("Kata sandi").fill("officer-password-1")
    page.get_by_role("button", name="Masuk").click()

    page.goto(f"{live_url}/kas/baru")
    page.get_by_label("Nama, NIK, nomor HP atau tempat").fill(name)
    page.get_by_role("button", name="Cari").click()
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=f"Uang tunai dari {name}")).to_be_visible()
    assert _layout_problems(page)["overflow"] == 0
    save_artifact(page, "payments-cash-form-360")

    page.get_by_label("Jumlah yang diterima (Rp)").fill("157.500")
    # A phone on a weak signal sends the same form three times at once (a retry and a double
    # tap), then the officer taps the button: one payment, and the tap lands on its receipt.
    statuses = page.evaluate(
        """async () => {
          const form = document.querySelector('form[action*="/kas/baru"]');
          const data = new FormData(form);
          const send = () => fetch(form.action, {method: 'POST', body: data}).then(r => r.status);
          return await Promise.all([send(), send(), send()]);
        }"""
    )
    assert statuses == [200, 200, 200]  # each redirected to the one receipt
    page.get_by_role("button", name="Catat uang tunai dan terbitkan bukti bayar").click()
    expect(page.get_by_text("Pembayaran ini sudah tercatat")).to_be_visible()
    expect(page.get_by_role("heading", name="Bukti bayar")).to_be_visible()
    expect(page.get_by_text("Rp157.500").first).to_be_visible()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1
    assert _layout_problems(page)["overflow"] == 0
    save_artifact(page, "payments-receipt-360")

    # The receipt's own check link opens the public page.
    traffic.reset()
    page.get_by_role("link", name="Periksa bukti ini").click()
    expect(page.get_by_text("SAH: bukti bayar ini diterbitkan")).to_be_visible()
    expect(page.get_by_text(name).first).to_be_visible()
    assert traffic.foreign() == []
    assert traffic.console_errors == []  # a CSP violation would show here
    assert traffic.total_bytes() < 60_000
