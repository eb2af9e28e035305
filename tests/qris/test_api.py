"""``/api/v1/qris-codes``: dynamic codes for open bills over the JSON API, with the pages' rules
on who may ask for which bills, and every bad input a 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from payments.qris import decode
from payments.qris.models import QrisCode
from retribusi.auth.models import Role
from retribusi.extensions import db
from tests.conftest import AuthActions, csrf_token
from tests.levy import factories as f
from tests.payments.factories import api_headers
from tests.qris.conftest import Market, as_vendor_of


def ask(client: FlaskClient, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post("/api/v1/qris-codes", json=body, headers=headers or {})


def test_a_vendor_asks_for_a_code_and_gets_the_live_one_again(
    app: Flask, client: FlaskClient, auth: AuthActions, market: Market
) -> None:
    as_vendor_of(app, auth, market.vendor_id)
    session = {"X-CSRFToken": csrf_token(client, "/")}
    body = {"vendor_id": market.vendor_id, "bill_ids": market.bill_ids}
    made = ask(client, body, session)
    assert made.status_code == 201, made.get_json()
    code = made.get_json()
    decoded = decode(code["payload"])
    assert decoded.valid and decoded.amount_idr == code["amount_idr"]
    assert decoded.value("62.05") == code["reference"]
    assert [b["bill_id"] for b in code["bills"]] == market.bill_ids
    assert sum(b["outstanding_idr"] for b in code["bills"]) == code["amount_idr"]
    assert code["expired"] is False and code["market_code"] == "KLEWER"
    again = ask(client, {**body, "bill_ids": list(reversed(market.bill_ids))}, session)
    assert again.status_code == 200 and again.get_json()["reference"] == code["reference"]
    fetched = client.get(f"/api/v1/qris-codes/{code['reference']}")
    assert fetched.status_code == 200 and fetched.get_json()["payload"] == code["payload"]
    # A cookie-authenticated write needs the CSRF token.
    assert ask(client, body).status_code == 400
    with app.app_context():
        assert f.count(QrisCode) == 1


def test_who_may_ask_and_see(
    app: Flask, client: FlaskClient, auth: AuthActions, market: Market
) -> None:
    body = {"vendor_id": market.vendor_id, "bill_ids": market.bill_ids[:1]}
    assert ask(client, body).status_code == 401
    legi = api_headers(app, client, Role.OFFICER, market_codes=("LEGI",)).headers
    assert ask(client, body, legi).status_code == 403
    klewer = api_headers(app, client, Role.OFFICER, market_codes=("KLEWER",)).headers
    made = ask(client, body, klewer)
    assert made.status_code == 201
    reference = made.get_json()["reference"]
    assert client.get(f"/api/v1/qris-codes/{reference}", headers=legi).status_code == 403
    assert client.get(f"/api/v1/qris-codes/{reference}", headers=klewer).status_code == 200
    # Another vendor: neither their bills nor their code (a 404, like an unknown code).
    auth.login_as(Role.VENDOR)
    session = {"X-CSRFToken": csrf_token(client, "/")}
    assert ask(client, body, session).status_code == 403
    assert client.get(f"/api/v1/qris-codes/{reference}").status_code == 404


def test_bad_requests_are_refused_and_nothing_is_stored(
    app: Flask, client: FlaskClient, market: Market
) -> None:
    finance = api_headers(app, client, Role.FINANCE).headers
    with app.app_context():
        others = list(db.session.scalars(sa.select(sa.text("id")).select_from(sa.table("bills"))))
    foreign = [b for b in others if b not in market.bill_ids][:1]
    vendor = market.vendor_id
    for body in (
        {},
        {"vendor_id": vendor},
        {"vendor_id": vendor, "bill_ids": []},
        {"vendor_id": vendor, "bill_ids": ["1"]},
        {"vendor_id": vendor, "bill_ids": [1.5]},
        {"vendor_id": vendor, "bill_ids": [2**60]},
        {"vendor_id": vendor, "bill_ids": list(range(1, 26))},
        {"vendor_id": "x", "bill_ids": market.bill_ids},
        {"vendor_id": 0, "bill_ids": market.bill_ids},
        {"vendor_id": vendor, "bill_ids": market.bill_ids, "extra": 1},
        {"vendor_id": vendor, "bill_ids": [999_999]},
        {"vendor_id": vendor, "bill_ids": foreign},
        [1, 2],
    ):
        response = ask(client, body, finance)
        assert response.status_code == 422, (body, response.get_json())
    assert ask(client, {"vendor_id": 999_999, "bill_ids": [1]}, finance).status_code == 404
    not_json = client.post(
        "/api/v1/qris-codes", data=b"\xff{", headers={**finance, "Content-Type": "application/json"}
    )
    assert not_json.status_code in {400, 422}
    for reference in ("Q000000000000", "not-a-code!", "Q" * 300):
        assert client.get(f"/api/v1/qris-codes/{reference}", headers=finance).status_code == 404
    with app.app_context():
        assert f.count(QrisCode) == 0


def test_openapi_documents_the_qris_api(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"201", "200", "422"} <= set(paths["/api/v1/qris-codes"]["post"]["responses"])
    assert "/api/v1/qris-codes/{reference}" in paths
