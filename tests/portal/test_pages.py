"""The vendor's and the officer's front doors through real logins and real data."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from payments.ledger import reverse_payment
from payments.portal.services import arrears_trend
from retribusi.auth.models import Role, User
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills, void_bill
from retribusi.levy.models import Bill
from tests.conftest import AuthActions
from tests.levy import factories as f
from tests.payments.factories import pay
from vendors.models import Vendor

MONTH_IDR = 157_500


def _bill_months(*months: str) -> None:
    for month in months:
        first = date(int(month[:4]), int(month[5:]), 1)
        issue_bills(month, actor="test", issued_on=first)


@pytest.fixture
def vendor_login(app: Flask, auth: AuthActions) -> tuple[User, f.Holding]:
    """A vendor signed in with their phone and PIN, holding a Klewer kios billed Sep-Nov."""
    user = auth.login_as(Role.VENDOR)
    with app.app_context():
        f.illustrative_tariffs()
        holding = f.holding("KLEWER", area_m2="5")
        vendor = db.session.get(Vendor, holding.vendor.id)
        assert vendor is not None
        vendor.user_id = user.id
        db.session.commit()
        _bill_months("2026-09", "2026-10", "2026-11")
    return user, holding


def text(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path, follow_redirects=True)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_the_vendor_lands_on_their_bills_with_sanctions_in_plain_words(
    app: Flask, client: FlaskClient, vendor_login: tuple[User, f.Holding]
) -> None:
    _user, holding = vendor_login
    page = text(client, "/")
    assert holding.vendor.full_name in page
    # On 23 Nov: Sep 2 months late (3 150), Oct 1 month (1 575), Nov not yet due.
    assert "Rp477.225" in page  # 3 × 157 500 + 3 150 + 1 575
    assert "Bulan 2026-09" in page and "Bulan 2026-11" in page
    assert (
        "Sanksi keterlambatan (denda): 1% per bulan dari pokok yang belum dibayar, "
        "2 bulan sejak jatuh tempo = Rp3.150"
    ) in page
    assert 'src="/static/portal/portal.js"' in page
    assert "<script>" not in page  # no inline script


def test_the_payment_shows_on_the_page_and_in_the_history(
    app: Flask, client: FlaskClient, vendor_login: tuple[User, f.Holding]
) -> None:
    _user, holding = vendor_login
    path = f"/saya/{holding.vendor.id}"
    before = client.get(f"{path}/status.json").get_json()
    assert before["latest_payment_id"] == 0 and before["outstanding_idr"] == 477_225
    with app.app_context():
        paid = pay(
            holding.vendor.id, MONTH_IDR + 3_150, paid_at=datetime(2026, 11, 23, 2, tzinfo=UTC)
        )
    after = client.get(f"{path}/status.json").get_json()
    assert after["latest_payment_id"] == paid.payment_id
    assert after["outstanding_idr"] == 477_225 - MONTH_IDR - 3_150
    history = text(client, f"{path}/riwayat")
    assert paid.receipt_number in history and "Rp160.650" in history
    assert "23-11-2026 09:00 WIB" in history


def test_a_vendor_cannot_open_another_vendors_account(
    app: Flask, client: FlaskClient, vendor_login: tuple[User, f.Holding]
) -> None:
    with app.app_context():
        other = f.holding("LEGI")
    for path in (f"/saya/{other.vendor.id}", f"/saya/{other.vendor.id}/status.json"):
        assert client.get(path).status_code == 403


def test_a_proxy_payer_chooses_whom_to_pay_for(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    user = auth.login_as(Role.VENDOR)
    with app.app_context():
        f.illustrative_tariffs()
        mother, father = f.holding("KLEWER"), f.holding("LEGI")
        for holding in (mother, father):
            vendor = db.session.get(Vendor, holding.vendor.id)
            assert vendor is not None
            vendor.proxy_name, vendor.proxy_phone = "Anak", user.phone
        db.session.commit()
    page = text(client, "/saya")
    assert mother.vendor.full_name in page and father.vendor.full_name in page
    account = text(client, f"/saya/{father.vendor.id}")
    assert "Anda membayar atas nama pedagang ini." in account


def test_a_login_with_no_stall_is_told_what_to_do(client: FlaskClient, auth: AuthActions) -> None:
    auth.login_as(Role.VENDOR)
    assert "belum terhubung" in text(client, "/saya")


def test_staff_cannot_open_the_vendor_pages(client: FlaskClient, auth: AuthActions) -> None:
    auth.login_as(Role.OFFICER)
    assert client.get("/saya").status_code == 403


def test_the_officer_sees_today_and_the_arrears_of_their_markets(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    with app.app_context():
        f.illustrative_tariffs()
        klewer, legi = f.holding("KLEWER"), f.holding("LEGI")
        _bill_months("2026-10")
        pay(klewer.vendor.id, 100_000)
        pay(legi.vendor.id, 50_000)
    page = text(client, "/")
    assert "Hari ini, 23-11-2026" in page
    assert "KLEWER" in page and "LEGI" not in page
    assert "Rp100.000" in page and "Rp50.000" not in page
    # October, a month late: 57 500 of principal left, and 1 % of all 157 500 as sanction (the
    # 100 000 paid today was a month late too).
    assert "Rp57.500" in page and "Rp1.575" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Vendor)) == 2


def test_finance_sees_collection_by_channel_market_and_the_arrears_trend(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as(Role.FINANCE)
    with app.app_context():
        f.illustrative_tariffs()
        klewer, legi = f.holding("KLEWER"), f.holding("LEGI")
        _bill_months("2026-09", "2026-10")
        pay(klewer.vendor.id, MONTH_IDR, paid_at=datetime(2026, 10, 5, 3, tzinfo=UTC))
        from payments.models import Channel

        pay(legi.vendor.id, 20_000, channel=Channel.VA, sender="bank-jateng")
    page = text(client, "/")
    assert "Meja keuangan" in page
    assert page.count("<svg") == 3 and "<script>" not in page
    # October: the counter payment; November: the VA payment.
    assert "2026-10" in page and "Rp157.500" in page and "Rp20.000" in page
    market_page = text(client, "/keuangan?bulan=2026-10")
    assert '<th scope="row">KLEWER' in market_page
    assert '<th scope="row">LEGI' not in market_page  # LEGI paid in November
    # Principal overdue at the end of October: 3 bills due by then (Sep ×2, Oct ×2 → due 10
    # Sep and 10 Oct), less Klewer's September paid on 5 Oct: 4 × 157 500 − 157 500.
    assert "Rp472.500" in page
    # A month outside the six shown falls back to this month.
    assert client.get("/keuangan?bulan=1999-01").status_code == 200


def test_admin_door_lists_the_settings(client: FlaskClient, auth: AuthActions) -> None:
    auth.login_as(Role.ADMIN)
    page = text(client, "/")
    assert "Pengguna dan peran" in page and "/tarif" in page


def test_admin_door_warns_when_qris_is_demo_or_off(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    from payments.qris.config import DEMO_MERCHANT, EXTENSION_KEY, load_settings

    auth.login_as(Role.ADMIN)
    # Outside production without RETRIBUSI_QRIS_MERCHANTS: the demo merchant, said so.
    assert "QRIS memakai merchant demo" in text(client, "/admin")
    # Production without it: QRIS is off, and the administrator is told why.
    app.extensions[EXTENSION_KEY] = load_settings({**app.config, "ENV": "production"})
    page = text(client, "/admin")
    assert "QRIS dimatikan: RETRIBUSI_QRIS_MERCHANTS belum diisi" in page
    assert "merchant demo" not in page
    # A configured merchant: nothing to say.
    merchant = {"*": {**DEMO_MERCHANT, "nmid": "ID1026123456790"}}
    app.extensions[EXTENSION_KEY] = load_settings(
        {**app.config, "ENV": "production", "QRIS_MERCHANTS": merchant}
    )
    assert 'role="alert"' not in text(client, "/admin")


def test_vendor_and_officer_cannot_open_the_finance_desk(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as(Role.OFFICER)
    assert client.get("/keuangan").status_code == 403
    assert client.get("/admin").status_code == 403


def test_the_officer_lists_the_warning_letters_of_their_market(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    from retribusi.levy.notices import issue_notices

    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    with app.app_context():
        f.illustrative_tariffs()
        f.holding("KLEWER")
        f.holding("LEGI")
        _bill_months("2026-08", "2026-09")
        summary = issue_notices(actor="test")
        assert summary.to_dict()["ok"]
    page = text(client, "/petugas/teguran")
    assert "/KLEWER/" in page and "/LEGI/" not in page
    assert "Surat teguran 1" in page or "STRD" in page
    assert client.get("/petugas/teguran?pasar=LEGI").status_code == 200  # falls back to theirs
    assert "/LEGI/" not in text(client, "/petugas/teguran?pasar=LEGI")


def test_every_door_links_to_its_tasks(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    with app.app_context():
        f.illustrative_tariffs()
        holding = f.holding("KLEWER")
        _bill_months("2026-10")
    officer = text(client, "/")
    for path in ("/kas/baru", "/kas", "/qris/kartu", "/petugas/teguran", "/karcis"):
        assert f'href="{path}"' in officer, path
    vendor_page = text(client, f"/pedagang/{holding.vendor.id}")
    assert "Terutang hari ini" in vendor_page and "Rp159.075" in vendor_page  # + 1 % of it
    assert f'href="/kas/baru?vendor={holding.vendor.id}"' in vendor_page
    auth.logout()
    auth.login_as(Role.FINANCE)
    desk = text(client, "/")
    assert 'href="/pembayaran"' in desk and 'href="/setoran"' in desk
    assert f'href="/kas/baru?vendor={holding.vendor.id}"' not in text(
        client, f"/pedagang/{holding.vendor.id}"
    )  # finance reads; officers take cash
    auth.logout()
    auth.login_as(Role.ADMIN)
    assert 'href="/admin/mitra-snap"' in text(client, "/")


def test_the_vendors_history_links_each_receipt(
    app: Flask, client: FlaskClient, vendor_login: tuple[User, f.Holding]
) -> None:
    _user, holding = vendor_login
    with app.app_context():
        paid = pay(holding.vendor.id, 10_000)
    history = text(client, f"/saya/{holding.vendor.id}/riwayat")
    assert f'href="/pembayaran/{paid.payment_id}"' in history
    assert paid.receipt_number in text(client, f"/pembayaran/{paid.payment_id}")


def test_the_arrears_trend_keeps_what_the_books_said_on_each_day(app: Flask) -> None:
    """A reversal counts from the day it is made and a bill voided later still counted before:
    October's point does not move when November undoes a payment or voids a bill."""
    with app.app_context():
        f.illustrative_tariffs()
        klewer, legi = f.holding("KLEWER"), f.holding("LEGI")
        _bill_months("2026-09", "2026-10")
        paid = pay(klewer.vendor.id, MONTH_IDR, paid_at=datetime(2026, 10, 5, 3, tzinfo=UTC))
        today = date(2026, 11, 23)
        before = dict(arrears_trend(today))
        # Sep x2 and Oct x2 due by the end of October, less Klewer's September.
        assert before["2026-10"] == 3 * MONTH_IDR
        reverse_payment(
            paid.payment_id, reference="RV-1", reason="salah catat di loket", actor="test"
        )
        reversed_only = dict(arrears_trend(today))
        legi_october = db.session.scalars(
            sa.select(Bill).where(Bill.vendor_id == legi.vendor.id, Bill.period == "2026-10")
        ).one()
        void_bill(legi_october.id, reason="tempat tutup sejak Oktober", actor="test")
        after = dict(arrears_trend(today))
    assert reversed_only["2026-10"] == after["2026-10"] == before["2026-10"]
    assert reversed_only["2026-11"] == 4 * MONTH_IDR  # Klewer's September is owed again
    # Today sees both: Klewer's September owed again (+157 500), Legi's October gone (-157 500).
    assert before["2026-11"] == 3 * MONTH_IDR and after["2026-11"] == 3 * MONTH_IDR
    assert before["2026-09"] == after["2026-09"] == 2 * MONTH_IDR  # both Septembers, unpaid then
