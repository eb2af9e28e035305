"""``POST /snap/v1.0/access-token/b2b`` (service 73): a partner gets a B2B token from us.

The partner signs ``X-CLIENT-KEY|X-TIMESTAMP`` with its RSA private key (SHA256withRSA); we
verify with the public key in its profile and answer an opaque token valid 900 s, stored hashed.
The call, the token and the answer are written in one commit (a token request moves no money).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, request
from sqlalchemy.exc import SQLAlchemyError

from payments.snap.calls import CallRecord, add_answer, add_call, redact_headers
from payments.snap.codes import Case, Service, SnapError
from payments.snap.endpoint import SNAP_MOUNT, raw_target, read_body, unknown_client
from payments.snap.messages import (
    SnapResponse,
    build_access_token_response,
    build_error_response,
    decode_json_body,
    parse_access_token_request,
)
from payments.snap.partners import PartnerInfo, find_by_client_id
from payments.snap.signature import (
    check_timestamp_window,
    format_snap_timestamp,
    parse_token_headers,
    verify_access_token,
)
from payments.snap.tokens import issue_token
from retribusi import clock
from retribusi.auth.access import public
from retribusi.extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("snap", __name__, url_prefix=SNAP_MOUNT)

SERVICE = Service.ACCESS_TOKEN_B2B


def _authenticate(body: bytes) -> tuple[PartnerInfo, dict[str, object]]:
    headers = parse_token_headers(request.headers)
    partner = find_by_client_id(headers.client_key)
    if partner is None:
        raise unknown_client()
    if not partner.active:
        raise unknown_client("Inactive client")
    check_timestamp_window(headers.timestamp_at, now=clock.now(), window_s=partner.skew_window_s)
    verify_access_token(
        partner.public_key(), headers.client_key, headers.timestamp, headers.signature
    )
    payload = decode_json_body(body)
    parse_access_token_request(payload)
    return partner, payload


@bp.post("/v1.0/access-token/b2b")
@public
def access_token_b2b() -> Response:
    started = time.perf_counter()
    received_at = clock.now()
    body = b""
    partner: PartnerInfo | None = None
    response: SnapResponse
    outcome = "ok"
    try:
        body = read_body()
        partner, _payload = _authenticate(body)
        token, lifetime_s = issue_token(db.session, partner.id, now=received_at)
        response = build_access_token_response(token, expires_in_s=lifetime_s)
    except SnapError as error:
        db.session.rollback()
        response = build_error_response(SERVICE, error.case, detail=error.detail)
        outcome = str(getattr(getattr(error, "kind", None), "value", error.case.name.lower()))
    except Exception:
        db.session.rollback()
        log.exception("SNAP token request failed unexpectedly")
        response = build_error_response(SERVICE, Case.GENERAL_ERROR)
        outcome = "general_error"
    try:
        call = add_call(
            db.session,
            CallRecord(
                partner_id=partner.id if partner else None,
                service=SERVICE.value,
                method=request.method,
                endpoint_url=raw_target(),
                external_id=None,
                request_key=None,
                remote_addr=request.remote_addr,
                headers=redact_headers(request.headers.items()),
                body=body,
                received_at=received_at,
            ),
        )
        add_answer(
            db.session,
            call_id=call.id,
            http_status=response.http_status,
            response_code=response.response_code,
            body=response.body,
            outcome=outcome,
            answered_at=clock.now(),
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("SNAP token request: could not store the call")
        # A token that was not stored would be refused later: do not hand it out.
        response = build_error_response(SERVICE, Case.INTERNAL_SERVER_ERROR)
    sent = Response(response.json_bytes(), status=response.http_status)
    sent.headers["Content-Type"] = "application/json"
    sent.headers["X-TIMESTAMP"] = format_snap_timestamp(clock.to_wib(clock.now()))
    return sent
