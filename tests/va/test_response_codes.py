"""Every row of BCA's "Expected Response from Partner" table (snap-va.md §1.9), for inquiry (24)
and payment (25), through real signed HTTP calls; plus the bad inputs the brief lists. Never a
500, always SNAP JSON with the right code and, outside 401, the status field ``01``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from payments.sim.bank import SimulatedBank
from payments.sim.client import SnapReply
from payments.snap.signature import sign_symmetric
from retribusi import clock
from tests.snap.helpers import client_for, register
from tests.va.fixtures import Billed, bank, billed_vendor

PATHS = {"24": "/v1.0/transfer-va/inquiry", "25": "/v1.0/transfer-va/payment"}
STATUS_FIELD = {"24": "inquiryStatus", "25": "paymentFlagStatus"}


@pytest.fixture
def sim(app: Flask) -> SimulatedBank:
    return bank(app)[1]


@pytest.fixture
def vendor(app: Flask, sim: SimulatedBank) -> Billed:
    return billed_vendor(app)


def body(sim: SimulatedBank, vendor: Billed, service: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "partnerServiceId": "   12345",
        "customerNo": vendor.va[5:],
        "virtualAccountNo": "   12345" + vendor.va[5:],
    }
    if service == "24":
        base["inquiryRequestId"] = sim.new_request_id()
    else:
        base["paymentRequestId"] = sim.new_request_id()
        base["paidAmount"] = {"value": f"{vendor.owed_idr}.00", "currency": "IDR"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def send(
    app: Flask, sim: SimulatedBank, service: str, payload: dict[str, Any] | bytes, **headers: str
) -> SnapReply:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signed = sim.client.signed_headers(
        PATHS[service], raw, external_id=sim.client.next_external_id()
    )
    signed.update(headers)
    signed = {k: v for k, v in signed.items() if v}
    answer = app.test_client().post("/snap" + PATHS[service], headers=signed, data=raw)
    assert answer.is_json, answer.get_data(as_text=True)[:200]
    return SnapReply(
        answer.status_code,
        answer.get_json(),
        answer.get_data(),
        signed.get("X-EXTERNAL-ID", ""),
        raw,
    )


def check(reply: SnapReply, service: str, code: str, message: str | None = None) -> None:
    assert reply.body["responseCode"] == code, reply.body
    assert reply.status == int(code[:3])
    if message is not None:
        assert reply.body["responseMessage"] == message
    if not code.startswith("401"):
        vad = reply.body["virtualAccountData"]
        assert vad[STATUS_FIELD[service]] == ("00" if code.startswith("200") else "01")
        assert vad["inquiryReason" if service == "24" else "paymentFlagReason"]["indonesia"]
    else:
        assert "virtualAccountData" not in reply.body


Case = Callable[[Flask, SimulatedBank, Billed, str], SnapReply]


def token_invalid(app: Flask, sim: SimulatedBank, v: Billed, s: str) -> SnapReply:
    raw = json.dumps(body(sim, v, s)).encode()
    headers = sim.client.signed_headers(PATHS[s], raw, external_id="T1", token="not-a-token")
    answer = app.test_client().post("/snap" + PATHS[s], headers=headers, data=raw)
    return SnapReply(answer.status_code, answer.get_json(), b"", "T1", raw)


def bad_signature(app: Flask, sim: SimulatedBank, v: Billed, s: str) -> SnapReply:
    raw = json.dumps(body(sim, v, s)).encode()
    headers = sim.client.signed_headers(PATHS[s], raw, external_id="S1")
    headers["X-SIGNATURE"] = sign_symmetric(
        client_secret="wrong-secret",
        method="POST",
        endpoint_url="/snap" + PATHS[s],
        access_token=headers["Authorization"][7:],
        body=raw,
        timestamp=headers["X-TIMESTAMP"],
    )
    answer = app.test_client().post("/snap" + PATHS[s], headers=headers, data=raw)
    return SnapReply(answer.status_code, answer.get_json(), b"", "S1", raw)


ROWS: list[tuple[str, Case, str, str | None]] = [
    ("token invalid", token_invalid, "4012{s}01", "Invalid Token (B2B)"),
    ("bad signature", bad_signature, "4012{s}00", "Unauthorized. [Signature]"),
    (
        "unknown client",
        lambda a, sim, v, s: send(a, sim, s, body(sim, v, s), **{"X-PARTNER-ID": "99999"}),
        "4012{s}00",
        "Unauthorized. [Unknown client]",
    ),
    (
        "missing mandatory",
        lambda a, sim, v, s: send(a, sim, s, body(sim, v, s, customerNo=None)),
        "4002{s}02",
        "Invalid Mandatory Field {customerNo}",
    ),
    (
        "bad format",
        lambda a, sim, v, s: send(a, sim, s, body(sim, v, s, partnerServiceId="12A45")),
        "4002{s}01",
        "Invalid Field Format {partnerServiceId}",
    ),
    (
        "parse error",
        lambda a, sim, v, s: send(a, sim, s, b'{"partnerServiceId": "   12345",'),
        "4002{s}00",
        "Bad Request",
    ),
    (
        "not registered",
        lambda a, sim, v, s: send(
            a,
            sim,
            s,
            body(sim, v, s, customerNo="0000000000", virtualAccountNo="   123450000000000"),
        ),
        "4042{s}12",
        "Invalid Bill/Virtual Account [Not Found]",
    ),
    ("valid VA", lambda a, sim, v, s: send(a, sim, s, body(sim, v, s)), "2002{s}00", "Successful"),
]


@pytest.mark.parametrize("service", ["24", "25"])
@pytest.mark.parametrize(("name", "make", "code", "message"), ROWS, ids=[r[0] for r in ROWS])
def test_expected_response_table(
    app: Flask,
    sim: SimulatedBank,
    vendor: Billed,
    service: str,
    name: str,
    make: Case,
    code: str,
    message: str | None,
) -> None:
    check(make(app, sim, vendor, service), service, code.format(s=service[1]), message)


@pytest.mark.parametrize("service", ["24", "25"])
def test_already_paid(app: Flask, sim: SimulatedBank, vendor: Billed, service: str) -> None:
    assert sim.pay_bills(vendor.va).accepted
    check(
        send(app, sim, service, body(sim, vendor, service)),
        service,
        f"4042{service[1]}14",
        "Paid Bill",
    )


@pytest.mark.parametrize("service", ["24", "25"])
def test_same_external_id_reused_for_another_message(
    app: Flask, sim: SimulatedBank, vendor: Billed, service: str
) -> None:
    first = send(app, sim, service, body(sim, vendor, service), **{"X-EXTERNAL-ID": "DUP1"})
    assert first.body["responseCode"].startswith("200")
    again = send(app, sim, service, body(sim, vendor, service), **{"X-EXTERNAL-ID": "DUP1"})
    check(again, service, f"4092{service[1]}00", "Conflict")


def test_double_flag_same_external_id_and_request_id_answers_the_first_result(
    app: Flask, sim: SimulatedBank, vendor: Billed
) -> None:
    payload = body(sim, vendor, "25")
    first = send(app, sim, "25", payload, **{"X-EXTERNAL-ID": "DBL1"})
    second = send(app, sim, "25", {**payload, "flagAdvise": "Y"}, **{"X-EXTERNAL-ID": "DBL1"})
    check(first, "25", "2002500")
    assert second.body == first.body


def test_invalid_amount_and_inconsistent_request(
    app: Flask, sim: SimulatedBank, vendor: Billed
) -> None:
    wrong = body(sim, vendor, "25", paidAmount={"value": "1000.00", "currency": "IDR"})
    check(send(app, sim, "25", wrong), "25", "4042513", "Invalid Amount")
    payload = body(sim, vendor, "25")
    check(send(app, sim, "25", payload), "25", "2002500")
    changed = {**payload, "paidAmount": {"value": f"{vendor.owed_idr + 1}.00", "currency": "IDR"}}
    check(send(app, sim, "25", changed), "25", "4042518", "Inconsistent Request")


def test_amount_over_the_payment_limit(app: Flask, sim: SimulatedBank, vendor: Billed) -> None:
    huge = body(sim, vendor, "25", paidAmount={"value": "999999999999.00", "currency": "IDR"})
    check(send(app, sim, "25", huge), "25", "4032502", "Exceeds Transaction Amount Limit")


# ------------------------------------------------------------------------------ bad headers


@pytest.mark.parametrize("header", ["X-TIMESTAMP", "X-SIGNATURE", "X-PARTNER-ID", "X-EXTERNAL-ID"])
def test_a_missing_header(app: Flask, sim: SimulatedBank, vendor: Billed, header: str) -> None:
    reply = send(app, sim, "25", body(sim, vendor, "25"), **{header: ""})
    check(reply, "25", "4002502", f"Invalid Mandatory Field {{{header}}}")


def test_a_repeated_header_is_refused(app: Flask, sim: SimulatedBank, vendor: Billed) -> None:
    raw = json.dumps(body(sim, vendor, "25")).encode()
    headers = list(sim.client.signed_headers(PATHS["25"], raw, external_id="REP1").items())
    headers.append(("X-EXTERNAL-ID", "REP2"))
    answer = app.test_client().post("/snap" + PATHS["25"], headers=headers, data=raw)
    assert answer.get_json()["responseCode"] == "4002501"
    assert answer.get_json()["responseMessage"] == "Invalid Field Format {X-EXTERNAL-ID}"


def test_an_unrelated_extra_header_changes_nothing(
    app: Flask, sim: SimulatedBank, vendor: Billed
) -> None:
    reply = send(app, sim, "24", body(sim, vendor, "24"), **{"X-Debug": "1", "Origin": "x"})
    check(reply, "24", "2002400")


def test_timestamp_outside_the_window(app: Flask, sim: SimulatedBank, vendor: Billed) -> None:
    raw = json.dumps(body(sim, vendor, "24")).encode()
    stale = (
        clock.to_wib(sim.client.now() - timedelta(seconds=301)).replace(microsecond=0).isoformat()
    )
    headers = sim.client.signed_headers(PATHS["24"], raw, external_id="W1", timestamp=stale)
    answer = app.test_client().post("/snap" + PATHS["24"], headers=headers, data=raw)
    assert answer.get_json()["responseMessage"] == "Unauthorized. [Timestamp]"
    assert answer.get_json()["responseCode"] == "4012400"


def test_token_expired_or_of_another_bank(
    app: Flask, sim: SimulatedBank, vendor: Billed, frozen_clock: clock.FrozenClock
) -> None:
    other = client_for(app, register(app, code="BRI", company_code="77777", partner_id="BRI1"))
    raw = json.dumps(body(sim, vendor, "25")).encode()
    headers = sim.client.signed_headers(PATHS["25"], raw, external_id="O1", token=other.token())
    answer = app.test_client().post("/snap" + PATHS["25"], headers=headers, data=raw)
    assert answer.get_json()["responseCode"] == "4012501"
    token = sim.client.token()
    frozen_clock.advance(timedelta(seconds=900))
    headers = sim.client.signed_headers(PATHS["25"], raw, external_id="O2", token=token)
    answer = app.test_client().post("/snap" + PATHS["25"], headers=headers, data=raw)
    assert answer.get_json()["responseCode"] == "4012501"


def test_another_bank_cannot_pay_into_this_banks_va(
    app: Flask, sim: SimulatedBank, vendor: Billed
) -> None:
    # BNI's profile has company code 77777: a triple naming our 12345 is not one of its VAs.
    other = SimulatedBank(
        client_for(app, register(app, code="BNI", company_code="77777", partner_id="BNI1")),
        code="BNI",
        company_code="12345",
    )
    reply = other.flag(vendor.va, vendor.owed_idr, request_id=other.new_request_id())
    check(reply, "25", "4042512", "Invalid Bill/Virtual Account [Not Found]")


def test_too_many_calls_from_one_bank(app: Flask, sim: SimulatedBank, vendor: Billed) -> None:
    """Beyond SNAP_RATE_LIMIT a bank's calls are answered 429xx00 and do nothing (the bank
    retries later); each call is still on record; another bank has its own allowance."""
    from payments.models import Payment
    from payments.snap.models import SnapAnswer, SnapCall
    from retribusi.extensions import db

    app.config["SNAP_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        check(send(app, sim, "24", body(sim, vendor, "24")), "24", "2002400")
    check(send(app, sim, "24", body(sim, vendor, "24")), "24", "4292400", "Too Many Requests")
    check(send(app, sim, "25", body(sim, vendor, "25")), "25", "4292500", "Too Many Requests")
    other = SimulatedBank(
        client_for(app, register(app, code="BNI", company_code="77777", partner_id="BNI1")),
        code="BNI",
        company_code="77777",
    )
    check(other.inquiry("77777" + vendor.va[5:]), "24", "2002400")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0
        answers = db.session.scalars(
            sa.select(SnapAnswer.response_code)
            .join(SnapCall, SnapCall.id == SnapAnswer.call_id)
            .order_by(SnapCall.id)
        ).all()
        # The B2B tokens (2007300) are not counted: a bank refused for its rate keeps its token.
        assert answers == [
            "2007300",
            *["2002400"] * 3,
            "4292400",
            "4292500",
            "2007300",
            "2002400",
        ]


def test_a_malformed_rate_limit_stops_the_start(app_config: dict[str, Any]) -> None:
    from retribusi import create_app

    with pytest.raises(ValueError, match="lots"):
        create_app({**app_config, "SNAP_RATE_LIMIT": "lots"})
