"""A NUL (U+0000) wherever a bank can put one reaches the call log before it is validated:
PostgreSQL refuses NUL in text and JSON, so the log keeps U+FFFD in its place and the bank gets
SNAP's answer for a bad field, never a 500."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import Flask

from payments.models import Payment
from payments.sim.bank import SimulatedBank
from payments.snap.models import SnapCall
from retribusi.extensions import db
from tests.va.fixtures import Billed, bank, billed_vendor
from tests.va.test_response_codes import body, send

#: The fields each service reads.
READ = {
    "24": ("customerNo", "virtualAccountNo", "inquiryRequestId"),
    "25": ("customerNo", "virtualAccountNo", "paymentRequestId", "trxDateTime"),
}


@pytest.fixture
def sim(app: Flask) -> SimulatedBank:
    return bank(app)[1]


@pytest.fixture
def vendor(app: Flask, sim: SimulatedBank) -> Billed:
    return billed_vendor(app)


def payments(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) or 0)


def logged_headers(app: Flask) -> dict[str, object]:
    with app.app_context():
        call = db.session.scalars(sa.select(SnapCall).order_by(SnapCall.id.desc())).first()
        assert call is not None
        return dict(call.headers)


@pytest.mark.parametrize(
    ("service", "field"), [(service, field) for service, fields in READ.items() for field in fields]
)
def test_a_nul_in_a_body_field(
    app: Flask, sim: SimulatedBank, vendor: Billed, service: str, field: str
) -> None:
    reply = send(app, sim, service, body(sim, vendor, service, **{field: "12\x0034"}))
    assert reply.body["responseCode"] == f"4002{service[1]}01", reply.body
    assert reply.body["responseMessage"] == f"Invalid Field Format {{{field}}}"
    assert payments(app) == 0


@pytest.mark.parametrize("service", ["24", "25"])
def test_a_raw_nul_byte_in_the_body(
    app: Flask, sim: SimulatedBank, vendor: Billed, service: str
) -> None:
    raw = json.dumps(body(sim, vendor, service, referenceNo="REF")).encode()
    reply = send(app, sim, service, raw.replace(b"REF", b"R\x00F"))
    assert reply.body["responseCode"] == f"4002{service[1]}00", reply.body  # not JSON
    assert payments(app) == 0


@pytest.mark.parametrize("service", ["24", "25"])
@pytest.mark.parametrize("header", ["X-PARTNER-ID", "X-EXTERNAL-ID", "CHANNEL-ID", "X-TIMESTAMP"])
def test_a_nul_in_a_header(
    app: Flask, sim: SimulatedBank, vendor: Billed, service: str, header: str
) -> None:
    reply = send(app, sim, service, body(sim, vendor, service), **{header: "AB\x00CD"})
    assert reply.status in {400, 401}, reply.body
    assert reply.body["responseCode"][:3] == str(reply.status)
    assert payments(app) == 0
    stored = {name.upper(): value for name, value in logged_headers(app).items()}
    assert stored[header] == "AB\ufffdCD"


def test_a_nul_in_a_token_request_header(app: Flask, sim: SimulatedBank) -> None:
    reply = app.test_client().post(
        "/snap/v1.0/access-token/b2b",
        headers={"X-CLIENT-KEY": "AB\x00CD", "X-TIMESTAMP": "x", "X-SIGNATURE": "x"},
        json={"grantType": "client_credentials"},
    )
    assert reply.status_code in {400, 401}, reply.get_json()
    assert reply.get_json()["responseCode"].startswith(str(reply.status_code))
    assert logged_headers(app)["X-Client-Key"] == "AB\ufffdCD"
