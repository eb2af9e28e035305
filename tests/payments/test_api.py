"""The payments API and the reversal page: OpenAPI, bounded pages, who sees what, reversals."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from payments.models import Allocation, CreditEntry, PaymentReversal
from retribusi.audit import AuditEvent
from retribusi.auth.models import Role
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.models import Bill
from tests.conftest import AuthActions, csrf_token
from tests.levy import factories as f
from tests.payments.factories import api_headers, pay
from vendors.models import Vendor

MONTH_IDR = 157_500


@pytest.fixture
def ledger(app: Flask) -> dict[str, Any]:
    """A Klewer vendor (two payments) and a Legi vendor (one payment)."""
    with app.app_context():
        f.illustrative_tariffs()
        klewer = f.holding("KLEWER", area_m2="5")
        legi = f.holding("LEGI", area_m2="5")
        issue_bills("2026-10", actor="t", issued_on=date(2026, 10, 1))
        issue_bills("2026-11", actor="t")
        first = pay(klewer.vendor.id, MONTH_IDR + 1_575)
        second = pay(klewer.vendor.id, 20_000)
        other = pay(legi.vendor.id, 10_000)
        bill = db.session.scalars(
            sa.select(Bill.id).where(Bill.vendor_id == klewer.vendor.id).order_by(Bill.due_on)
        ).first()
        return {
            "klewer_vendor": klewer.vendor.id,
            "legi_vendor": legi.vendor.id,
            "first": first.payment_id,
            "second": second.payment_id,
            "legi": other.payment_id,
            "october": bill,
            "first_receipt": first.receipt_number,
        }


def test_openapi_documents_the_payments_api(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    for path in (
        "/api/v1/payments",
        "/api/v1/payments/{payment_id}",
        "/api/v1/payments/{payment_id}/reversal",
        "/api/v1/allocations",
        "/api/v1/receipts",
        "/api/v1/receipts/{receipt_id}",
        "/api/v1/receipts/verify",
        "/api/v1/cash-payments",
        "/api/v1/cash-payments/undeposited",
        "/api/v1/deposits",
        "/api/v1/deposits/{deposit_id}",
        "/api/v1/deposits/{deposit_id}/verification",
    ):
        assert path in paths, path
    cash = paths["/api/v1/cash-payments"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in cash["parameters"])
    assert {"200", "201", "422"} <= set(cash["responses"])
    amount = spec["components"]["schemas"]["CashPaymentRequest"]["properties"]["amount_idr"]
    assert amount["minimum"] == 1 and amount["maximum"] == 10**12


def test_payments_are_paged_and_bounded(
    app: Flask, client: FlaskClient, ledger: dict[str, Any]
) -> None:
    finance = api_headers(app, client, Role.FINANCE).headers
    body = client.get("/api/v1/payments?page_size=2", headers=finance).get_json()
    assert (body["total"], len(body["items"])) == (3, 2)
    assert (
        client.get("/api/v1/payments?page=2&page_size=2", headers=finance).get_json()["items"][0][
            "id"
        ]
        == ledger["first"]
    )
    for query in ("page_size=201", "page_size=0", "page=0", "vendor_id=0", "channel=gold",
                  "paid_from=yesterday", f"vendor_id={2**60}"):  # fmt: skip
        response = client.get(f"/api/v1/payments?{query}", headers=finance)
        assert response.status_code == 422, query
    filtered = client.get(
        f"/api/v1/payments?vendor_id={ledger['legi_vendor']}&channel=counter"
        "&paid_from=2026-11-23&paid_to=2026-11-23",
        headers=finance,
    ).get_json()
    assert [p["id"] for p in filtered["items"]] == [ledger["legi"]]


def test_officers_and_vendors_see_only_theirs(
    app: Flask, client: FlaskClient, auth: AuthActions, ledger: dict[str, Any]
) -> None:
    officer = api_headers(app, client, Role.OFFICER, market_codes=("KLEWER",)).headers
    seen = client.get("/api/v1/payments", headers=officer).get_json()
    assert sorted(p["id"] for p in seen["items"]) == sorted([ledger["first"], ledger["second"]])
    assert client.get(f"/api/v1/payments/{ledger['legi']}", headers=officer).status_code == 403
    assert client.get(f"/api/v1/payments/{ledger['first']}", headers=officer).status_code == 200
    assert (
        client.get(f"/api/v1/allocations?payment_id={ledger['legi']}", headers=officer).status_code
        == 403
    )
    receipts = client.get("/api/v1/receipts", headers=officer).get_json()
    assert receipts["total"] == 2
    user = auth.login_as(Role.VENDOR)
    with app.app_context():
        vendor = db.session.get(Vendor, ledger["klewer_vendor"])
        assert vendor is not None
        vendor.user_id = user.id
        db.session.commit()
    own = client.get("/api/v1/payments").get_json()
    assert sorted(p["id"] for p in own["items"]) == sorted([ledger["first"], ledger["second"]])
    assert client.get(f"/api/v1/payments?vendor_id={ledger['legi_vendor']}").status_code == 403
    assert client.get(f"/api/v1/payments/{ledger['legi']}").status_code == 403
    detail = client.get(f"/api/v1/payments/{ledger['first']}").get_json()
    assert detail["receipt"]["number"] == ledger["first_receipt"]
    assert detail["receipt"]["pdf_urls"]["58mm"].endswith("/kuitansi-58mm.pdf")
    assert client.get(detail["receipt"]["pdf_urls"]["a6"]).status_code == 200
    by_number = client.get("/api/v1/receipts", query_string={"number": ledger["first_receipt"]})
    assert [r["payment_id"] for r in by_number.get_json()["items"]] == [ledger["first"]]
    allocations = client.get(f"/api/v1/allocations?bill_id={ledger['october']}").get_json()
    assert {a["payment_id"] for a in allocations["items"]} == {ledger["first"]}
    assert client.get("/api/v1/deposits").status_code == 403


def test_a_payment_shows_its_allocations_and_receipt(
    app: Flask, client: FlaskClient, ledger: dict[str, Any]
) -> None:
    finance = api_headers(app, client, Role.FINANCE).headers
    body = client.get(f"/api/v1/payments/{ledger['first']}", headers=finance).get_json()
    # Principal across bills first: all of October's, then 1 575 of November's.
    parts = [(a["bill_id"], a["component"], a["amount_idr"]) for a in body["allocations"]]
    assert parts[0] == (ledger["october"], "principal", MONTH_IDR)
    assert parts[1][1:] == ("principal", 1_575) and parts[1][0] != ledger["october"]
    assert body["receipt"]["verify_url"].startswith("http://127.0.0.1:5000/kuitansi/v/")
    assert body["reversal"] is None and body["reversed"] is False
    alloc = client.get(f"/api/v1/allocations?payment_id={ledger['first']}", headers=finance)
    assert alloc.get_json()["total"] == 2
    assert client.get("/api/v1/allocations", headers=finance).status_code == 422
    both = f"/api/v1/allocations?payment_id={ledger['first']}&bill_id={ledger['october']}"
    assert client.get(both, headers=finance).status_code == 422
    assert client.get("/api/v1/payments/999999", headers=finance).status_code == 404
    big = "9" * 30  # more than any database integer holds: not found, not an overflow
    for path in (f"/api/v1/payments/{big}", f"/api/v1/receipts/{big}", f"/api/v1/deposits/{big}"):
        assert client.get(path, headers=finance).status_code == 404, path
    assert client.get(f"/api/v1/payments?vendor_id={big}", headers=finance).status_code == 422


def written(app: Flask) -> tuple[int, int, int, int]:
    with app.app_context():
        return (
            f.count(PaymentReversal),
            f.count(Allocation),
            f.count(CreditEntry),
            f.count(AuditEvent),
        )


def test_api_reversal_once_with_its_reference_and_reason(
    app: Flask, client: FlaskClient, ledger: dict[str, Any]
) -> None:
    finance = api_headers(app, client, Role.FINANCE).headers
    url = f"/api/v1/payments/{ledger['first']}/reversal"
    body = {"reference": "RVSL-001", "reason": "the bank reversed the transfer"}
    done = client.post(url, json=body, headers=finance)
    assert done.status_code == 201, done.get_json()
    result = done.get_json()
    assert result["replayed"] is False and len(result["reopened_bill_ids"]) == 2
    assert ledger["october"] in result["reopened_bill_ids"]
    assert result["payment"]["reversal"]["reference"] == "RVSL-001"
    assert result["payment"]["reversed"] is True
    negatives = [a for a in result["payment"]["allocations"] if a["amount_idr"] < 0]
    assert len(negatives) == 2
    before = written(app)
    again = client.post(url, json=body, headers=finance)
    assert again.status_code == 200 and again.get_json()["replayed"] is True
    assert again.headers["Idempotent-Replayed"] == "true"
    # A reversal of a reversal: the payment is reversed already.
    other = client.post(url, json={**body, "reference": "RVSL-002"}, headers=finance)
    assert other.status_code == 409
    assert other.get_json()["details"]["errors"][0]["reason"] == "already_reversed"
    assert written(app) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"reference": "R", "reason": "short"}, 422),
        ({"reference": "", "reason": "long enough reason"}, 422),
        ({"reference": "R" * 129, "reason": "long enough reason"}, 422),
        ({"reason": "long enough reason"}, 422),
        ({"reference": "R\n1", "reason": "long enough reason"}, 422),
    ],
)
def test_api_reversal_refuses_bad_input(
    app: Flask, client: FlaskClient, ledger: dict[str, Any], body: dict[str, Any], status: int
) -> None:
    finance = api_headers(app, client, Role.FINANCE).headers
    before = written(app)
    response = client.post(
        f"/api/v1/payments/{ledger['first']}/reversal", json=body, headers=finance
    )
    assert response.status_code == status
    assert written(app) == before


def test_only_finance_and_admin_reverse(
    app: Flask, client: FlaskClient, ledger: dict[str, Any]
) -> None:
    officer = api_headers(app, client, Role.OFFICER, market_codes=("KLEWER",)).headers
    body = {"reference": "R-1", "reason": "long enough reason"}
    url = f"/api/v1/payments/{ledger['first']}/reversal"
    assert client.post(url, json=body, headers=officer).status_code == 403
    admin = api_headers(app, client, Role.ADMIN).headers
    assert (
        client.post("/api/v1/payments/999999/reversal", json=body, headers=admin).status_code == 404
    )
    assert client.post(url, json=body, headers=admin).status_code == 201


def test_the_reversal_page(
    app: Flask, client: FlaskClient, auth: AuthActions, ledger: dict[str, Any]
) -> None:
    auth.login_as(Role.FINANCE)
    page = f"/pembayaran/{ledger['first']}"
    url = f"{page}/batal"
    short = client.post(
        url, data={"csrf_token": csrf_token(client, page), "reference": "R-1", "reason": "short"}
    )
    assert short.status_code == 422
    assert "10" in short.get_data(as_text=True) or "alasan" in short.get_data(as_text=True).lower()
    assert written(app)[0] == 0
    fields = {"reference": "KAS-RV-1", "reason": "cash entered for the wrong vendor"}
    done = client.post(url, data={"csrf_token": csrf_token(client, page), **fields})
    assert done.status_code == 302
    shown = client.get(page).get_data(as_text=True)
    assert "DIBATALKAN" in shown and "cash entered for the wrong vendor" in shown
    assert "Batalkan pembayaran ini" not in shown  # nothing left to reverse
    before = written(app)
    twice = client.post(url, data={"csrf_token": csrf_token(client, page), **fields})
    assert twice.status_code == 302  # the same form sent twice: the reversal already made
    other = client.post(
        url, data={"csrf_token": csrf_token(client, page), **fields, "reference": "KAS-RV-2"}
    )
    assert other.status_code == 409
    assert "sudah dibatalkan" in other.get_data(as_text=True)
    assert written(app) == before
    auth.logout()
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    token = csrf_token(client, page)
    refused = client.post(
        f"/pembayaran/{ledger['second']}/batal", data={"csrf_token": token, **fields}
    )
    assert refused.status_code == 403


def test_payment_pages_list_and_filter(
    client: FlaskClient, auth: AuthActions, ledger: dict[str, Any]
) -> None:
    auth.login_as(Role.FINANCE)
    page = client.get("/pembayaran").get_data(as_text=True)
    assert "3 pembayaran" in page and ledger["first_receipt"] in page
    only_legi = client.get(f"/pembayaran?vendor={ledger['legi_vendor']}").get_data(as_text=True)
    assert "1 pembayaran" in only_legi
    for junk in ("page=-1", "page=abc", "from=2026-13-45", "channel=gold", "vendor=x",
                 "vendor=" + "9" * 30, "page=" + "9" * 30):  # fmt: skip
        assert client.get(f"/pembayaran?{junk}").status_code == 200
    for path in ("/pembayaran/" + "9" * 30, "/setoran/" + "9" * 30, "/pembayaran/0"):
        assert client.get(path).status_code == 404
