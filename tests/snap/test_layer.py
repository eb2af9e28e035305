"""The SNAP layer over real HTTP (Flask test client): token, verification, call log, errors.

A small endpoint registered here (as the QRIS notify endpoint will be) exercises the decorator
for a partner of another kind, in both signature modes.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Blueprint, Flask

from payments.sim.client import FlaskTransport, SnapClient
from payments.snap.codes import Service
from payments.snap.endpoint import SnapOutcome, SnapRequest, snap_endpoint, string_field
from payments.snap.messages import SnapResponse
from payments.snap.models import (
    AccessToken,
    ExternalIdClaim,
    PartnerKind,
    SignatureMode,
    SnapAnswer,
    SnapCall,
)
from payments.snap.partners import rotate_secret
from payments.snap.signature import format_snap_timestamp, sign_access_token
from retribusi import clock
from retribusi.extensions import db
from tests.snap.helpers import Registered, client_for, key, register

NOTIFY = "/v1.0/test/notify"
SEEN: list[dict[str, Any]] = []


def _notify(call: SnapRequest) -> SnapOutcome:
    # The call is on record (committed) before the handler runs.
    stored = db.session.get(SnapCall, call.call_id)
    assert stored is not None and stored.body == call.body.decode()
    if call.payload.get("explode"):
        raise RuntimeError("a bug in a handler")
    SEEN.append({"partner": call.partner.code, "fresh": call.external_id_fresh})
    body = {"responseCode": "2005200", "responseMessage": "Successful"}
    return SnapOutcome(SnapResponse(200, body))


@pytest.fixture
def app(app: Flask) -> Flask:
    bp = Blueprint("snap_test", __name__, url_prefix="/snap")
    bp.post(NOTIFY)(
        snap_endpoint(
            Service.QR_MPM_NOTIFY,
            kinds={PartnerKind.QRIS_ACQUIRER},
            modes={SignatureMode.SYMMETRIC, SignatureMode.ASYMMETRIC},
            request_key=string_field("originalReferenceNo"),
        )(_notify)
    )
    app.register_blueprint(bp)
    SEEN.clear()
    return app


@pytest.fixture
def acquirer(app: Flask) -> Registered:
    return register(app, code="ACQ", kind=PartnerKind.QRIS_ACQUIRER)


@pytest.fixture
def snap(app: Flask, acquirer: Registered) -> SnapClient:
    return client_for(app, acquirer)


def rows(app: Flask, model: type) -> list[Any]:
    with app.app_context():
        return list(db.session.scalars(sa.select(model)))


# ------------------------------------------------------------------------------- the token


def test_token_is_issued_stored_hashed_and_logged(app: Flask, snap: SnapClient) -> None:
    reply = snap.request_token()
    assert reply.status == 200
    assert reply.body["responseCode"] == "2007300"
    assert reply.body["tokenType"] == "Bearer" and reply.body["expiresIn"] == "900"
    token = reply.body["accessToken"]
    [stored] = rows(app, AccessToken)
    assert token not in stored.token_sha256 and len(stored.token_sha256) == 64
    assert stored.expires_at - stored.issued_at == timedelta(seconds=900)
    [call] = rows(app, SnapCall)
    [answer] = rows(app, SnapAnswer)
    assert call.service == "73" and call.endpoint_url == "/snap/v1.0/access-token/b2b"
    assert answer.response_code == "2007300"
    assert answer.body["accessToken"].startswith("sha256:")  # never the token itself


def test_token_refused_cases(app: Flask, snap: SnapClient, acquirer: Registered) -> None:
    client = app.test_client()
    body = b'{"grantType":"client_credentials"}'
    stamp = snap.timestamp()
    good = sign_access_token(acquirer.identity.private_key, "acq-client", stamp)

    def post(**headers: str) -> dict[str, Any]:
        base = {"X-TIMESTAMP": stamp, "X-CLIENT-KEY": "acq-client", "X-SIGNATURE": good}
        base.update(headers)
        sent = {k: v for k, v in base.items() if v}
        answer = client.post("/snap/v1.0/access-token/b2b", headers=sent, data=body)
        assert answer.is_json
        return dict(answer.get_json())

    assert post()["responseCode"] == "2007300"
    wrong_key = sign_access_token(key("other"), "acq-client", stamp)
    assert post(**{"X-SIGNATURE": wrong_key})["responseMessage"] == "Unauthorized. [Signature]"
    assert post(**{"X-CLIENT-KEY": "nobody"})["responseMessage"] == (
        "Unauthorized. [Unknown client]"
    )
    assert post(**{"X-CLIENT-KEY": ""})["responseCode"] == "4007302"
    late = format_snap_timestamp(clock.to_wib(snap.now() + timedelta(minutes=6)))
    signed_late = sign_access_token(acquirer.identity.private_key, "acq-client", late)
    refused = post(**{"X-TIMESTAMP": late, "X-SIGNATURE": signed_late})
    assert refused["responseMessage"] == "Unauthorized. [Timestamp]"
    assert post(**{"X-TIMESTAMP": "yesterday"})["responseCode"] == "4007301"
    answer = client.post(
        "/snap/v1.0/access-token/b2b",
        headers={"X-TIMESTAMP": stamp, "X-CLIENT-KEY": "acq-client", "X-SIGNATURE": good},
        data=b'{"grantType":"password"}',
    )
    assert answer.get_json()["responseCode"] == "4007301"
    # Every attempt is on record with its answer; only the good ones issued a token.
    assert len(rows(app, SnapCall)) == len(rows(app, SnapAnswer)) == 7
    assert len(rows(app, AccessToken)) == 1


# ---------------------------------------------------------------------------- the decorator


def test_a_signed_call_is_answered_and_logged_with_the_token_redacted(
    app: Flask, snap: SnapClient
) -> None:
    reply = snap.call(NOTIFY, {"originalReferenceNo": "R1", "amount": "1.00"})
    assert reply.status == 200 and reply.response_code == "2005200"
    assert SEEN == [{"partner": "ACQ", "fresh": True}]
    calls = rows(app, SnapCall)
    notify = next(c for c in calls if c.service == "52")
    assert notify.request_key == "R1"
    assert notify.headers["Authorization"].startswith("Bearer sha256:")
    assert snap.token() not in json.dumps(notify.headers)
    assert notify.body == reply.sent_body.decode()


def test_asymmetric_partner_signs_with_its_key_and_needs_no_token(app: Flask) -> None:
    registered = register(
        app, code="ASYM", kind=PartnerKind.QRIS_ACQUIRER, signature_mode=SignatureMode.ASYMMETRIC
    )
    snap = client_for(app, registered)
    reply = snap.call(NOTIFY, {"originalReferenceNo": "R9"}, asymmetric=True)
    assert reply.response_code == "2005200"
    assert rows(app, AccessToken) == []
    forged = client_for(app, register(app, code="OTHER", kind=PartnerKind.QRIS_ACQUIRER))
    forged.identity.partner_id = registered.identity.partner_id  # claims to be ASYM
    reply = forged.call(NOTIFY, {"originalReferenceNo": "R10"}, asymmetric=True)
    assert reply.status == 401 and reply.body["responseMessage"] == "Unauthorized. [Signature]"


def test_external_id_is_unique_per_day_unless_the_same_message_repeats(
    app: Flask, snap: SnapClient, frozen_clock: clock.FrozenClock
) -> None:
    first = snap.call(NOTIFY, {"originalReferenceNo": "R1"}, external_id="EXT1")
    repeat = snap.call(NOTIFY, {"originalReferenceNo": "R1"}, external_id="EXT1")
    other = snap.call(NOTIFY, {"originalReferenceNo": "R2"}, external_id="EXT1")
    assert first.response_code == repeat.response_code == "2005200"
    assert SEEN[1] == {"partner": "ACQ", "fresh": False}
    assert other.status == 409 and other.response_code == "4095200"
    # The next business day (Asia/Jakarta) the id is free again.
    frozen_clock.advance(timedelta(days=1))
    assert snap.call(NOTIFY, {"originalReferenceNo": "R3"}, external_id="EXT1").status == 200
    assert len(rows(app, ExternalIdClaim)) == 2


def test_token_expired_or_of_another_partner_is_invalid_token(
    app: Flask, snap: SnapClient, frozen_clock: clock.FrozenClock
) -> None:
    other = client_for(app, register(app, code="ACQ2", kind=PartnerKind.QRIS_ACQUIRER))
    foreign_token = other.token()
    headers = snap.signed_headers(NOTIFY, b"{}", external_id="E1", token=foreign_token)
    answer = app.test_client().post("/snap" + NOTIFY, headers=headers, data=b"{}")
    assert answer.status_code == 401 and answer.get_json()["responseCode"] == "4015201"
    token = snap.token()
    frozen_clock.advance(timedelta(seconds=901))
    headers = snap.signed_headers(NOTIFY, b"{}", external_id="E2", token=token)
    answer = app.test_client().post("/snap" + NOTIFY, headers=headers, data=b"{}")
    assert answer.get_json() == {
        "responseCode": "4015201",
        "responseMessage": "Invalid Token (B2B)",
    }
    # The client notices and gets a new token by itself.
    assert snap.call(NOTIFY, {"originalReferenceNo": "R5"}).response_code == "2005200"


def test_a_rotated_secret_stops_the_old_one(app: Flask, snap: SnapClient) -> None:
    assert snap.call(NOTIFY, {"originalReferenceNo": "R1"}).status == 200
    with app.app_context():
        issued = rotate_secret("ACQ", actor="test")
    refused = snap.call(NOTIFY, {"originalReferenceNo": "R2"})
    assert refused.body["responseMessage"] == "Unauthorized. [Signature]"
    snap.identity.client_secret = issued.client_secret
    assert snap.call(NOTIFY, {"originalReferenceNo": "R3"}).status == 200


def test_a_bank_may_not_call_an_acquirer_endpoint(app: Flask) -> None:
    bank = client_for(app, register(app, code="BANK1"))
    reply = bank.call(NOTIFY, {"originalReferenceNo": "R1"})
    assert reply.status == 403 and reply.response_code == "4035201"


def test_a_failing_handler_is_a_snap_500_and_is_logged(app: Flask, snap: SnapClient) -> None:
    reply = snap.call(NOTIFY, {"originalReferenceNo": "R1", "explode": True})
    assert reply.status == 500
    assert reply.body == {"responseCode": "5005200", "responseMessage": "General Error"}
    answers = [a for a in rows(app, SnapAnswer) if a.response_code == "5005200"]
    assert [a.outcome for a in answers] == ["general_error"]


class ProxyTransport:
    """A reverse proxy in front of us: the partner calls /openapi/..., we see /snap/..."""

    def __init__(self, inner: FlaskTransport) -> None:
        self.inner = inner

    def post(self, path: str, headers: Any, body: bytes) -> Any:
        assert path.startswith("/openapi/")
        return self.inner.post("/snap" + path.removeprefix("/openapi"), headers, body)


def test_proxy_prefix_is_what_the_partner_signs(app: Flask) -> None:
    registered = register(app, code="PROXY", kind=PartnerKind.QRIS_ACQUIRER, path_prefix="/openapi")
    assert registered.identity.path_prefix == "/openapi"
    snap = client_for(app, registered)
    snap.transport = ProxyTransport(FlaskTransport(app.test_client()))
    assert snap.call(NOTIFY, {"originalReferenceNo": "R1"}).response_code == "2005200"
    # Signed over the path we see instead: refused.
    plain = client_for(app, registered)
    plain.identity = type(registered.identity)(**{**vars(registered.identity)})
    plain.identity.path_prefix = "/snap"
    plain._token = snap._token
    assert plain.call(NOTIFY, {"originalReferenceNo": "R2"}).status == 401


def test_bad_headers_are_typed_snap_errors(app: Flask, snap: SnapClient) -> None:
    body = b'{"originalReferenceNo":"R1"}'
    good = snap.signed_headers(NOTIFY, body, external_id="H1")
    client = app.test_client()

    def code(headers: dict[str, str], data: bytes = body) -> str:
        answer = client.post("/snap" + NOTIFY, headers=headers, data=data)
        assert answer.is_json
        return str(answer.get_json()["responseCode"])

    assert code({k: v for k, v in good.items() if k != "X-EXTERNAL-ID"}) == "4005202"
    assert code({k: v for k, v in good.items() if k != "X-TIMESTAMP"}) == "4005202"
    assert code({k: v for k, v in good.items() if k != "Authorization"}) == "4015201"
    assert code({**good, "X-EXTERNAL-ID": "H1,H1"}) == "4005201"  # a repeated header
    assert code({**good, "X-PARTNER-ID": "nobody"}) == "4015200"
    assert code(good, b'{"originalReferenceNo":"R2"}') == "4015200"  # body changed
    assert code(good, b"x" * 70_000) == "4005200"


def test_call_log_is_append_only(app: Flask, snap: SnapClient) -> None:
    snap.call(NOTIFY, {"originalReferenceNo": "R1"})
    with app.app_context():
        for table in ("snap_calls", "snap_answers", "snap_tokens", "snap_external_ids"):
            with pytest.raises(sa.exc.DBAPIError):
                db.session.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
            db.session.rollback()


def test_unknown_snap_path_is_json(app: Flask) -> None:
    answer = app.test_client().post("/snap/v1.0/nothing-here", data=b"{}")
    assert answer.status_code == 404 and answer.is_json
