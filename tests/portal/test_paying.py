"""The vendor pays from their own page: VA numbers with the steps, a QRIS code for chosen bills,
and in the demo the simulated bank and acquirer paying over the real SNAP endpoints."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from payments.ledger import credit_balance
from payments.models import Channel, Payment
from retribusi.auth.models import Role, User
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from tests.conftest import AuthActions, csrf_token
from tests.levy import factories as f
from tests.va.fixtures import TODAY
from vendors.models import Vendor

MONTH_IDR = 157_500


@pytest.fixture
def owing(app: Flask, auth: AuthActions, runner: FlaskCliRunner) -> tuple[User, int]:
    """A signed-in vendor owing November for a Klewer kios; the demo bank and acquirer set up."""
    assert runner.invoke(args=["sim", "setup"]).exit_code == 0
    assert runner.invoke(args=["sim", "qris", "setup"]).exit_code == 0
    user = auth.login_as(Role.VENDOR)
    with app.app_context():
        f.illustrative_tariffs()
        holding = f.holding("KLEWER", area_m2="5")
        vendor = db.session.get(Vendor, holding.vendor.id)
        assert vendor is not None
        vendor.user_id = user.id
        db.session.commit()
        issue_bills("2026-11", actor="test", issued_on=TODAY)
        return user, holding.vendor.id


def payments(app: Flask) -> list[Payment]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Payment).order_by(Payment.id)))


def test_the_page_shows_the_va_number_and_how_to_pay_it(
    app: Flask, auth: AuthActions, owing: tuple[User, int]
) -> None:
    _user, vendor_id = owing
    page = auth._client.get(f"/saya/{vendor_id}").get_data(as_text=True)
    assert "Cara membayar" in page and "Transfer ke virtual account Anda" in page
    digits = re.search(r"<code>(\d{10,20})</code>", page)
    assert digits, "the VA number is shown"
    assert f'data-copy="{digits.group(1)}"' in page and "Lewat mobile banking" in page
    assert "Bayar tepat sejumlah tagihan" in page or "Jumlah bebas" in page
    assert "Tampilkan kode QRIS" in page and "Bayar lewat bank simulasi" in page


def test_the_simulated_bank_pays_from_the_vendors_page(
    app: Flask, auth: AuthActions, owing: tuple[User, int]
) -> None:
    _user, vendor_id = owing
    client = auth._client
    token = csrf_token(client, f"/saya/{vendor_id}")
    answer = client.post("/simulasi/bank/bayar", data={"csrf_token": token, "vendor_id": vendor_id})
    assert answer.status_code == 302 and answer.headers["Location"] == f"/saya/{vendor_id}"
    [paid] = payments(app)
    assert (paid.channel, paid.amount_idr, paid.vendor_id) == (Channel.VA, MONTH_IDR, vendor_id)
    page = client.get(f"/saya/{vendor_id}").get_data(as_text=True)
    assert "Tidak ada yang perlu dibayar hari ini" in page
    assert client.get(f"/saya/{vendor_id}/status.json").get_json()["latest_payment_id"] == paid.id


def test_a_qris_code_for_the_chosen_bill_is_paid_by_the_simulated_acquirer(
    app: Flask, auth: AuthActions, owing: tuple[User, int]
) -> None:
    _user, vendor_id = owing
    client = auth._client
    page = client.get(f"/saya/{vendor_id}").get_data(as_text=True)
    bill_id = re.search(r'name="bill_id" value="(\d+)"', page)
    assert bill_id
    token = csrf_token(client, f"/saya/{vendor_id}")
    made = client.post(
        "/qris/bayar",
        data={"csrf_token": token, "vendor_id": vendor_id, "bill_id": bill_id.group(1)},
    )
    assert made.status_code == 302
    code_page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "Rp157.500" in code_page and "<svg" in code_page
    assert f'data-then="/saya/{vendor_id}"' in code_page  # watches for the payment to land
    reference = made.headers["Location"].rsplit("/", 1)[1]
    picture = client.get(f"/qris/kode/{reference}.png")
    assert picture.status_code == 200 and picture.data[:8] == b"\x89PNG\r\n\x1a\n"
    paid = client.post(f"/simulasi/qris/bayar/{reference}", data={"csrf_token": token})
    assert paid.status_code == 302 and paid.headers["Location"] == f"/saya/{vendor_id}"
    [payment] = payments(app)
    assert (payment.channel, payment.amount_idr, payment.target_bill_ids) == (
        Channel.QRIS,
        MONTH_IDR,
        [int(bill_id.group(1))],
    )
    # A second press is a second payer's app paying the same code (a new acquirer reference):
    # money received is recorded, and as the bill is paid it becomes credit, never a double bill.
    again = client.post(f"/simulasi/qris/bayar/{reference}", data={"csrf_token": token})
    assert again.status_code == 302
    _first, second = payments(app)
    assert second.flags["bills_already_paid"] == [int(bill_id.group(1))]
    with app.app_context():
        assert credit_balance(vendor_id) == MONTH_IDR


def test_a_proxy_payer_pays_for_the_vendor_they_help(
    app: Flask, auth: AuthActions, runner: FlaskCliRunner
) -> None:
    assert runner.invoke(args=["sim", "setup"]).exit_code == 0
    child = auth.login_as(Role.VENDOR)
    with app.app_context():
        f.illustrative_tariffs()
        mother = f.holding("KLEWER", area_m2="5")
        vendor = db.session.get(Vendor, mother.vendor.id)
        assert vendor is not None
        vendor.proxy_name, vendor.proxy_phone = "Anak", child.phone
        db.session.commit()
        issue_bills("2026-11", actor="test", issued_on=TODAY)
        other = f.holding("LEGI")
    client = auth._client
    token = csrf_token(client, f"/saya/{mother.vendor.id}")
    paid = client.post(
        "/simulasi/bank/bayar", data={"csrf_token": token, "vendor_id": mother.vendor.id}
    )
    assert paid.status_code == 302
    assert [p.vendor_id for p in payments(app)] == [mother.vendor.id]
    refused = client.post(
        "/simulasi/bank/bayar", data={"csrf_token": token, "vendor_id": other.vendor.id}
    )
    assert refused.status_code == 403
    bad = client.post("/simulasi/bank/bayar", data={"csrf_token": token, "vendor_id": "1e9"})
    assert bad.status_code == 400
    assert len(payments(app)) == 1
