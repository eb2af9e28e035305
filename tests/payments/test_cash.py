"""Officer cash, through the real pages and the real API: recorded once however often it is sent,
refused with its reason (and nothing written) when it must be."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from payments.cash import CashIn, record_cash
from payments.models import Allocation, Channel, Payment, Receipt
from retribusi import clock
from retribusi.auth.models import Role
from retribusi.errors import Forbidden
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.models import Bill
from tests.conftest import AuthActions, csrf_token
from tests.factories import make_user
from tests.levy import factories as f
from tests.payments.factories import api_headers, form_key

MONTH_IDR = 157_500  # a 5 m² Klewer kios under the illustrative table


@pytest.fixture
def klewer(app: Flask) -> dict[str, Any]:
    with app.app_context():
        f.illustrative_tariffs()
        holding = f.holding("KLEWER", area_m2="5")
        f.holding("LEGI")  # Pasar Legi exists, with a vendor of its own
        issue_bills("2026-10", actor="t", issued_on=date(2026, 10, 1))
        issue_bills("2026-11", actor="t")
        bills = db.session.scalars(
            sa.select(Bill.id).where(Bill.vendor_id == holding.vendor.id).order_by(Bill.due_on)
        ).all()
        return {"vendor": holding.vendor.id, "name": holding.vendor.full_name, "bills": bills}


def written(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        return f.count(Payment), f.count(Allocation), f.count(Receipt)


def open_form(client: FlaskClient, vendor_id: int) -> dict[str, str]:
    page = client.get(f"/kas/baru?vendor={vendor_id}")
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    token = csrf_token(client, f"/kas/baru?vendor={vendor_id}")
    return {"csrf_token": token, "idempotency_key": form_key(html), "market": "KLEWER"}


def send(client: FlaskClient, vendor_id: int, form: dict[str, str], **fields: str) -> Any:
    return client.post(f"/kas/baru?vendor={vendor_id}", data={**form, **fields})


# --- the page ---------------------------------------------------------------------------------


def test_a_double_tap_a_refresh_and_a_resend_record_the_cash_once(
    app: Flask, client: FlaskClient, auth: AuthActions, klewer: dict[str, Any]
) -> None:
    officer = auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    form = open_form(client, klewer["vendor"])
    first = send(client, klewer["vendor"], form, amount="Rp 157.500")
    assert first.status_code == 302
    for _ in range(3):  # the same form, sent again
        again = send(client, klewer["vendor"], form, amount="157500")
        assert again.status_code == 302
        assert again.headers["Location"] == first.headers["Location"]
    with app.app_context():
        payment = db.session.scalars(sa.select(Payment)).one()
        assert (payment.channel, payment.sender, payment.external_ref) == (
            Channel.CASH,
            f"officer:{officer.id}",
            form["idempotency_key"],
        )
        assert payment.amount_idr == MONTH_IDR
        assert payment.market_id == f.market("KLEWER").id
        assert payment.raw["source"] == "form"
        # Oldest first: October's principal.
        assert {a.bill_id for a in payment.allocations} == {klewer["bills"][0]}
    receipt = client.get(first.headers["Location"])
    page = receipt.get_data(as_text=True)
    assert receipt.status_code == 200
    assert "SSRD/2026/0000001" in page and "Rp157.500" in page
    assert "Tunai" in page or "Cash" in page
    assert 'class="qr"' in page and "wa.me" in page


def test_the_same_key_with_another_amount_is_a_conflict_shown_plainly(
    app: Flask, client: FlaskClient, auth: AuthActions, klewer: dict[str, Any]
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    form = open_form(client, klewer["vendor"])
    assert send(client, klewer["vendor"], form, amount="50000").status_code == 302
    before = written(app)
    conflict = send(client, klewer["vendor"], form, amount="60000")
    assert conflict.status_code == 409
    page = conflict.get_data(as_text=True)
    assert "Rp50.000" in page and "SSRD/2026/0000001" in page
    assert "Tidak ada yang dicatat" in page  # "nothing new was recorded", in Indonesian
    assert written(app) == before


def test_a_forged_or_missing_key_is_refused_and_a_fresh_form_given(
    app: Flask, client: FlaskClient, auth: AuthActions, klewer: dict[str, Any]
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    form = open_form(client, klewer["vendor"])
    key = form["idempotency_key"]
    with app.app_context():
        other = make_user(Role.OFFICER, secret="x-password-1", market_codes=("KLEWER",))
        from payments.cash import new_form_key

        someone_elses = new_form_key(other.id)
    changed = key[:-3] + ("A" if key[-3] != "A" else "B") + key[-2:]
    for bad in (changed, "", "made-up-by-hand-0001", someone_elses, "x" * 200):
        response = send(client, klewer["vendor"], {**form, "idempotency_key": bad}, amount="5000")
        assert response.status_code == 422, bad
        page = response.get_data(as_text=True)
        assert "field-error" in page or "form-error" in page
        assert form_key(page) != bad
    assert written(app) == (0, 0, 0)
    # The fresh key the refusal gave is a good one.
    fresh = form_key(
        send(client, klewer["vendor"], {**form, "idempotency_key": ""}, amount="1").get_data(
            as_text=True
        )
    )
    assert (
        send(
            client, klewer["vendor"], {**form, "idempotency_key": fresh}, amount="5000"
        ).status_code
        == 302
    )


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "lebih dari nol"),
        ("-5000", "15.000"),
        ("1.500,50", "sen"),
        ("15000.5", "15.000"),
        ("lima ribu", "15.000"),
        ("", "wajib"),
        ("10.000.001", "batas"),
    ],
)
def test_bad_amounts_are_refused_with_the_reason(
    app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    klewer: dict[str, Any],
    amount: str,
    message: str,
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    form = open_form(client, klewer["vendor"])
    response = send(client, klewer["vendor"], form, amount=amount)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True).lower() or message in response.get_data(
        as_text=True
    )
    assert written(app) == (0, 0, 0)


def test_an_officer_cannot_take_cash_in_a_market_not_theirs(
    app: Flask, client: FlaskClient, auth: AuthActions, klewer: dict[str, Any]
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER", "LEGI"))
    form = open_form(client, klewer["vendor"])
    # Legi is theirs, but this vendor has no stall there.
    response = send(client, klewer["vendor"], {**form, "market": "LEGI"}, amount="5000")
    assert response.status_code == 422
    assert written(app) == (0, 0, 0)
    auth.logout()
    auth.login_as(Role.OFFICER, market_codes=("LEGI",))
    assert client.get(f"/kas/baru?vendor={klewer['vendor']}").status_code == 403
    token = csrf_token(client, "/kas/baru")
    response = client.post(
        f"/kas/baru?vendor={klewer['vendor']}",
        data={
            "csrf_token": token,
            "idempotency_key": form["idempotency_key"],
            "market": "KLEWER",
            "amount": "5000",
        },
    )
    assert response.status_code == 403
    assert written(app) == (0, 0, 0)


def test_the_service_refuses_a_market_not_theirs_before_anything(
    app: Flask, klewer: dict[str, Any]
) -> None:
    with app.app_context():
        officer = make_user(Role.OFFICER, secret="x-password-1", market_codes=("LEGI",))
        with pytest.raises(Forbidden):
            record_cash(CashIn(officer, klewer["vendor"], "KLEWER", 5000, "k" * 20, raw={}))
        db.session.rollback()
        finance = make_user(Role.FINANCE, secret="x-password-1")
        with pytest.raises(Forbidden):
            record_cash(CashIn(finance, klewer["vendor"], "KLEWER", 5000, "k" * 20, raw={}))
        assert f.count(Payment) == 0


def test_cash_aimed_at_a_bill_pays_it_first(
    app: Flask, client: FlaskClient, auth: AuthActions, klewer: dict[str, Any]
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    form = open_form(client, klewer["vendor"])
    november = klewer["bills"][1]
    response = send(client, klewer["vendor"], form, amount="100000", bill_id=str(november))
    assert response.status_code == 302
    with app.app_context():
        payment = db.session.scalars(sa.select(Payment)).one()
        assert {a.bill_id for a in payment.allocations} == {november}
        assert payment.target_bill_ids == [november]


def test_a_bill_choice_that_is_no_bill_is_refused(
    app: Flask, client: FlaskClient, auth: AuthActions, klewer: dict[str, Any]
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    form = open_form(client, klewer["vendor"])
    for bill in ("9" * 30, "abc", "-1", "424242", "²", "١٢"):
        response = send(client, klewer["vendor"], form, amount="5000", bill_id=bill)
        assert response.status_code == 422, bill
    assert written(app) == (0, 0, 0)


def test_only_officers_take_cash(
    client: FlaskClient, auth: AuthActions, klewer: dict[str, Any]
) -> None:
    auth.login_as(Role.FINANCE)
    assert client.get(f"/kas/baru?vendor={klewer['vendor']}").status_code == 403
    assert client.get("/kas").status_code == 403


def test_the_cash_pages_find_the_vendor_and_total_the_day(
    client: FlaskClient, auth: AuthActions, klewer: dict[str, Any]
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    found = client.get(f"/kas/baru?q={klewer['name']}").get_data(as_text=True)
    assert f"/kas/baru?vendor={klewer['vendor']}" in found
    form = open_form(client, klewer["vendor"])
    send(client, klewer["vendor"], form, amount="25.000")
    home = client.get("/kas").get_data(as_text=True)
    assert "Rp25.000" in home


# --- the API ----------------------------------------------------------------------------------


def cash_body(klewer: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"vendor_id": klewer["vendor"], "market": "KLEWER", "amount_idr": 50_000, **changes}


def test_api_records_once_per_device_key(
    app: Flask, client: FlaskClient, klewer: dict[str, Any]
) -> None:
    officer = api_headers(app, client, Role.OFFICER, market_codes=("KLEWER",))
    key = str(uuid.uuid4())
    headers = {**officer.headers, "Idempotency-Key": key}
    first = client.post("/api/v1/cash-payments", json=cash_body(klewer), headers=headers)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["replayed"] is False and body["receipt"]["number"] == body["receipt_number"]
    assert body["receipt"]["verify_url"].startswith("http://127.0.0.1:5000/kuitansi/v/")
    # The device resends later, after the signal came back: the same collection.
    later = (clock.now() - timedelta(minutes=3)).isoformat()
    again = client.post(
        "/api/v1/cash-payments", json=cash_body(klewer, paid_at=later), headers=headers
    )
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["payment_id"] == body["payment_id"]
    assert again.get_json()["replayed"] is True
    other = client.post(
        "/api/v1/cash-payments", json=cash_body(klewer, amount_idr=60_000), headers=headers
    )
    assert other.status_code == 409
    assert other.get_json()["details"]["errors"][0]["reason"] == "reused"
    assert other.get_json()["details"]["payment_id"] == body["payment_id"]
    assert written(app)[0] == 1
    with app.app_context():
        payment = db.session.get(Payment, body["payment_id"])
        assert payment is not None
        assert payment.external_ref == key and payment.sender == f"officer:{officer.id}"
        assert payment.raw["source"] == "api"


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        ({"amount_idr": 0}, 422, None),
        ({"amount_idr": -1}, 422, None),
        ({"amount_idr": 1500.5}, 422, None),
        ({"amount_idr": "1500"}, 422, None),
        ({"amount_idr": 10**15}, 422, None),
        ({"amount_idr": 10_000_001}, 422, "too_large"),
        ({"vendor_id": 999_999}, 404, "not_found"),
        ({"market": "LEGI"}, 403, None),
        ({"market": "NOWHERE"}, 404, "not_found"),
        ({"bill_ids": [999_999]}, 422, "not_vendors"),
        ({"paid_at": "2026-11-01T10:00:00+07:00"}, 422, "too_old"),
        ({"paid_at": "2026-11-23T10:00:00"}, 422, None),
        ({"paid_at": "2026-12-25T10:00:00+07:00"}, 422, "future"),
    ],
)
def test_api_refuses_bad_cash_with_its_reason(
    app: Flask,
    client: FlaskClient,
    klewer: dict[str, Any],
    changes: dict[str, Any],
    status: int,
    reason: str | None,
) -> None:
    officer = api_headers(app, client, Role.OFFICER, market_codes=("KLEWER",))
    headers = {**officer.headers, "Idempotency-Key": str(uuid.uuid4())}
    response = client.post(
        "/api/v1/cash-payments", json=cash_body(klewer, **changes), headers=headers
    )
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    if reason is not None:
        assert body["details"]["errors"][0]["reason"] == reason
    else:
        assert body["message"]
    assert written(app) == (0, 0, 0)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "required"),
        ("", "required"),
        ("short", "format"),
        ("a b" * 10, "format"),
        ("é" * 20, "format"),
    ],
)
def test_api_needs_a_well_formed_device_key(
    app: Flask, client: FlaskClient, klewer: dict[str, Any], key: str | None, reason: str
) -> None:
    officer = api_headers(app, client, Role.OFFICER, market_codes=("KLEWER",))
    headers = dict(officer.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    response = client.post("/api/v1/cash-payments", json=cash_body(klewer), headers=headers)
    assert response.status_code == 422
    assert response.get_json()["details"]["errors"][0]["reason"] == reason
    assert written(app) == (0, 0, 0)


def test_api_cash_is_for_officers_only(
    app: Flask, client: FlaskClient, klewer: dict[str, Any]
) -> None:
    finance = api_headers(app, client, Role.FINANCE)
    response = client.post(
        "/api/v1/cash-payments",
        json=cash_body(klewer),
        headers={**finance.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 403
    assert client.post("/api/v1/cash-payments", json=cash_body(klewer)).status_code == 401
    assert written(app) == (0, 0, 0)
