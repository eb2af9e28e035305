"""The decorator every inbound SNAP service endpoint uses, and the mapping of errors to codes.

``@snap_endpoint(Service.VA_PAYMENT, kinds={PartnerKind.BANK}, request_key=...)`` turns a
handler ``(SnapRequest) -> SnapOutcome`` into a Flask view that, in this order (snap-va.md §6):

1. reads the body (at most 64 KiB) and the headers (missing → ``400xx02``, malformed or
   repeated → ``400xx01``);
2. finds the partner by ``X-PARTNER-ID`` (unknown or inactive → ``401xx00 [Unknown client]``;
   a partner of the wrong kind → ``403xx01``), checks ``CHANNEL-ID`` if the profile fixes one;
3. checks ``X-TIMESTAMP`` against the profile's window (``401xx00 [Timestamp]``);
4. symmetric: checks the bearer token (unknown, expired or another partner's → ``401xx01``)
   and the HMAC-SHA512 over the body **as received**, the EndpointUrl as the partner called it
   (``401xx00 [Signature]``); asymmetric: the partner's SHA256withRSA signature instead;
5. decodes the JSON (``400xx00``) and counts the call against the partner's rate limit
   (``SNAP_RATE_LIMIT``; beyond it ``429xx00``, HTTP 429: the bank retries later);
6. stores the call and claims the X-EXTERNAL-ID for the partner's business day, and commits:
   the raw message is on record before anything acts on it. An X-EXTERNAL-ID already used today
   for another message is ``409xx00``; for the same message (a repeated payment flag, same
   ``request_key``) the handler runs and answers as for any replay;
7. runs the handler; a :class:`SnapError` it raises is answered with its case, a
   :class:`DomainError` through :func:`case_for_domain_error`, anything else is logged and
   answered ``500xx00`` (never an HTML 500);
8. stores the answer (unless the handler staged it in its own transaction: a payment and its
   answer commit together) and sends it with an ``X-TIMESTAMP`` header.

The access policy is ``@public``: SNAP calls are authenticated by their signatures, not by a
session (and ``/snap/`` is exempt from CSRF for the same reason).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from flask import Flask, Response, current_app, request
from limits import RateLimitItem, parse_many
from sqlalchemy.exc import SQLAlchemyError

from payments.snap.calls import (
    CallRecord,
    Claim,
    add_answer,
    add_call,
    claim_external_id,
    redact_headers,
)
from payments.snap.codes import Case, Service, SnapError
from payments.snap.messages import SnapResponse, build_error_response, decode_json_body
from payments.snap.models import PartnerKind, SignatureMode
from payments.snap.partners import PartnerInfo, find_by_partner_id
from payments.snap.signature import (
    MAX_BODY_BYTES,
    SecurityErrorKind,
    ServiceRequestHeaders,
    SnapSecurityError,
    check_timestamp_window,
    endpoint_url,
    format_snap_timestamp,
    parse_service_headers,
    verify_asymmetric,
    verify_symmetric,
)
from payments.snap.tokens import check_token
from retribusi import clock
from retribusi.auth.access import public
from retribusi.config import apply_defaults
from retribusi.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from retribusi.extensions import db, limiter
from retribusi.levy.errors import field_of, reason_of

log = logging.getLogger(__name__)

#: Where the SNAP endpoints are mounted. A partner behind a proxy may call another prefix
#: (``Partner.path_prefix``); the signed EndpointUrl then carries that prefix instead.
SNAP_MOUNT: Final = "/snap"

DEFAULTS: dict[str, Any] = {
    # Calls one partner may make (after its signature is checked), in the ``limits`` notation;
    # "" for none. Counted per worker process unless RATELIMIT_STORAGE_URI is shared (Redis).
    # Well above the 200 flags/s the design asks of the whole system: it stops a runaway loop,
    # not a busy day.
    "SNAP_RATE_LIMIT": "300 per second",
}


def init_endpoint(app: Flask) -> None:
    apply_defaults(app, DEFAULTS)
    _rate_items(str(app.config["SNAP_RATE_LIMIT"]))  # a malformed limit stops the start


@lru_cache(maxsize=8)
def _rate_items(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec)) if spec.strip() else ()


def _within_rate(partner: PartnerInfo) -> None:
    """Count the call against the partner's allowance: beyond it ``429xx00``, so one bank's
    runaway retries cannot crowd out the others. Only authenticated calls count, so nobody can
    spend another partner's allowance. ``RATELIMIT_ENABLED = False`` switches it off (with the
    login limits), and then no limiter exists to ask."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return
    for item in _rate_items(str(current_app.config["SNAP_RATE_LIMIT"])):
        if not limiter.limiter.hit(item, "snap", str(partner.id)):
            raise SnapError(Case.TOO_MANY_REQUESTS, None, f"more than {item} from this partner")


@dataclass(frozen=True)
class SnapRequest:
    """An authenticated SNAP call, as the handler sees it."""

    service: Service
    partner: PartnerInfo
    headers: ServiceRequestHeaders
    body: bytes  # exactly as received
    payload: dict[str, Any]  # decoded (amounts as Decimal, never float)
    call_id: int
    received_at: datetime
    endpoint_url: str
    # False when the X-EXTERNAL-ID was already claimed today by the same message (a repeat).
    external_id_fresh: bool
    external_id_first_call: int
    started: float  # time.perf_counter() when the call arrived


@dataclass(frozen=True)
class SnapOutcome:
    """What a handler answers, and what it did (stored with the answer)."""

    response: SnapResponse
    outcome: str = "ok"
    payment_id: int | None = None
    replay_of: int | None = None
    # The handler added the answer to its own transaction (:func:`stage_answer`), which committed.
    stored: bool = False


@dataclass
class _Inbound:
    """What is known about a call while it is checked; becomes the stored call."""

    service: Service
    body: bytes
    received_at: datetime
    started: float
    endpoint_url: str
    partner: PartnerInfo | None = None
    headers: ServiceRequestHeaders | None = None
    payload: dict[str, Any] | None = None
    request_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[SnapRequest], SnapOutcome]
RequestKey = Callable[[dict[str, Any]], str | None]


# --------------------------------------------------------------------------- error mapping


def case_for_domain_error(error: DomainError) -> tuple[Case, str | None]:
    """A service's typed error as a SNAP case and slot detail (the caller adds the service).

    Validation → ``400xx01 {field}`` (an amount over the payment limit → ``403xx02``); not
    found → ``404xx01``; conflict (a reference reused with other content) → ``404xx18``;
    forbidden → ``403xx01``; anything else → ``500xx00``.
    """
    reason = reason_of(error)
    if isinstance(error, ValidationFailed):
        if reason == "too_large":
            return Case.EXCEEDS_AMOUNT_LIMIT, None
        return Case.INVALID_FIELD_FORMAT, field_of(error)
    if isinstance(error, NotFound):
        return Case.TRANSACTION_NOT_FOUND, None
    if isinstance(error, Conflict):
        return Case.INCONSISTENT_REQUEST, None
    if isinstance(error, Forbidden):
        return Case.FEATURE_NOT_ALLOWED, reason
    return Case.GENERAL_ERROR, None


def _error_response(service: Service, error: SnapError, payload: object) -> SnapResponse:
    return build_error_response(service, error.case, detail=error.detail, payload=payload)


def _outcome_word(error: SnapError) -> str:
    kind = getattr(error, "kind", None)
    return str(getattr(kind, "value", None) or error.case.name.lower())


# ------------------------------------------------------------------------------ the request


def read_body() -> bytes:
    """The raw body, at most :data:`MAX_BODY_BYTES` (a larger one is refused unread)."""
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise SnapSecurityError(SecurityErrorKind.BODY_TOO_LARGE, "body too large")
    data = request.stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise SnapSecurityError(SecurityErrorKind.BODY_TOO_LARGE, "body too large")
    return data


def raw_target() -> str:
    """The request target as the partner sent it: path and query, undecoded, not re-sorted."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not isinstance(raw, str) or not raw:
        query = request.query_string.decode("latin-1")
        return endpoint_url(request.script_root + request.path, query)
    if raw.startswith(("http://", "https://")):  # absolute-form request target
        _scheme, _, rest = raw.partition("//")
        raw = "/" + rest.partition("/")[2]
    try:
        # WSGI hands the bytes over as latin-1; give the string to sign back its UTF-8.
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return raw


def signed_endpoint_url(partner: PartnerInfo | None, target: str) -> str:
    """The EndpointUrl the partner signed: our target, with the partner's proxy prefix in
    place of our mount when the profile has one."""
    mount = request.script_root + SNAP_MOUNT
    if partner is None or not partner.path_prefix or not target.startswith(mount + "/"):
        return target
    return partner.path_prefix + target[len(mount) :]


def _remote_addr() -> str | None:
    return request.remote_addr


def unknown_client(why: str = "Unknown client") -> SnapSecurityError:
    error = SnapSecurityError(SecurityErrorKind.UNKNOWN_CLIENT, why)
    error.detail = why
    return error


def check_partner(
    partner: PartnerInfo | None, kinds: Iterable[PartnerKind], headers: ServiceRequestHeaders
) -> PartnerInfo:
    if partner is None:
        raise unknown_client()
    if not partner.active:
        raise unknown_client("Inactive client")
    if partner.kind not in set(kinds):
        raise SnapError(
            Case.FEATURE_NOT_ALLOWED, "Partner kind", f"{partner.kind.value} may not call this"
        )
    if partner.channel_id is not None:
        if headers.channel_id is None:
            raise SnapSecurityError(
                SecurityErrorKind.MISSING_HEADER, "CHANNEL-ID is missing", field="CHANNEL-ID"
            )
        if headers.channel_id != partner.channel_id:
            raise SnapSecurityError(
                SecurityErrorKind.INVALID_HEADER, "CHANNEL-ID is not ours", field="CHANNEL-ID"
            )
    return partner


def _authenticate(
    inbound: _Inbound, modes: frozenset[SignatureMode], kinds: frozenset[PartnerKind]
) -> None:
    """Steps 1-5 of the module docstring; fills ``inbound`` as it learns, raises SnapError."""
    # Which variant to parse needs the partner, and the partner needs a header: look at the
    # one header first, then parse strictly.
    partner_header = request.headers.get("X-PARTNER-ID", "").strip()
    partner = find_by_partner_id(partner_header) if partner_header else None
    asymmetric = partner is not None and partner.signature_mode is SignatureMode.ASYMMETRIC
    headers = parse_service_headers(request.headers, token_required=not asymmetric)
    inbound.headers = headers
    partner = check_partner(partner, kinds, headers)
    inbound.partner = partner
    inbound.endpoint_url = signed_endpoint_url(partner, inbound.endpoint_url)
    if partner.signature_mode not in modes:
        raise SnapError(
            Case.FEATURE_NOT_ALLOWED,
            "Signature mode",
            f"{partner.signature_mode.value} signatures are not accepted here",
        )
    check_timestamp_window(
        headers.timestamp_at, now=inbound.received_at, window_s=partner.skew_window_s
    )
    if asymmetric:
        verify_asymmetric(
            public_key=partner.public_key(),
            method=request.method,
            endpoint_url=inbound.endpoint_url,
            body=inbound.body,
            timestamp=headers.timestamp,
            signature=headers.signature,
        )
    else:
        assert headers.access_token is not None
        check_token(db.session, headers.access_token, partner.id)
        verify_symmetric(
            client_secret=partner.client_secret(),
            method=request.method,
            endpoint_url=inbound.endpoint_url,
            access_token=headers.access_token,
            body=inbound.body,
            timestamp=headers.timestamp,
            signature=headers.signature,
            encoding=partner.signature_encoding,
        )
    inbound.payload = decode_json_body(inbound.body)


def _record(inbound: _Inbound) -> int:
    headers = inbound.headers
    call = add_call(
        db.session,
        CallRecord(
            partner_id=inbound.partner.id if inbound.partner else None,
            service=inbound.service.value,
            method=request.method,
            endpoint_url=inbound.endpoint_url,
            external_id=headers.external_id if headers else None,
            request_key=inbound.request_key,
            remote_addr=_remote_addr(),
            headers=redact_headers(request.headers.items()),
            body=inbound.body,
            received_at=inbound.received_at,
        ),
    )
    return call.id


def _send(response: SnapResponse) -> Response:
    sent = Response(response.json_bytes(), status=response.http_status)
    sent.headers["Content-Type"] = "application/json"
    sent.headers["X-TIMESTAMP"] = format_snap_timestamp(clock.to_wib(clock.now()))
    return sent


def _add_answer(call_id: int, started: float, outcome: SnapOutcome) -> None:
    add_answer(
        db.session,
        call_id=call_id,
        http_status=outcome.response.http_status,
        response_code=outcome.response.response_code,
        body=outcome.response.body,
        outcome=outcome.outcome,
        answered_at=clock.now(),
        duration_ms=int((time.perf_counter() - started) * 1000),
        payment_id=outcome.payment_id,
        replay_of=outcome.replay_of,
    )


def stage_answer(call: SnapRequest, outcome: SnapOutcome) -> SnapOutcome:
    """Add the answer to the handler's open transaction, to commit with what it did (a payment
    and the answer that reports it, in one commit); returns the outcome marked stored. Only
    for an answer that is final once that transaction commits."""
    _add_answer(call.call_id, call.started, outcome)
    return replace(outcome, stored=True)


def _store_answer(
    call_id: int | None, inbound: _Inbound, outcome: SnapOutcome, *, commit: bool = True
) -> None:
    if call_id is None:
        return
    try:
        _add_answer(call_id, inbound.started, outcome)
        if commit:
            db.session.commit()
    except SQLAlchemyError:
        # The answer still goes out: what it did is already committed, and the call is on
        # record; only the copy of the answer is missing.
        db.session.rollback()
        log.exception("could not store the answer to SNAP call %s", call_id)


def _check_call(
    inbound: _Inbound,
    modes: frozenset[SignatureMode],
    kinds: frozenset[PartnerKind],
    request_key: RequestKey | None,
) -> SnapError | None:
    try:
        inbound.body = read_body()
        _authenticate(inbound, modes, kinds)
        assert inbound.partner is not None
        _within_rate(inbound.partner)
        if request_key is not None and inbound.payload is not None:
            inbound.request_key = request_key(inbound.payload)
    except SnapError as error:
        return error
    except Exception:  # a bug in a check must still be answered in SNAP form
        db.session.rollback()
        log.exception("SNAP %s: unexpected failure while authenticating", inbound.service.value)
        return SnapError(Case.GENERAL_ERROR, None, "unexpected failure")
    return None


def _claim(inbound: _Inbound, call_id: int) -> tuple[Claim, SnapError | None]:
    partner, headers = inbound.partner, inbound.headers
    assert partner is not None
    assert headers is not None
    claim = claim_external_id(
        db.session,
        partner_id=partner.id,
        business_date=clock.business_date(inbound.received_at),
        external_id=headers.external_id,
        service=inbound.service.value,
        request_key=inbound.request_key,
        call_id=call_id,
    )
    if claim.same_message:
        return claim, None
    return claim, SnapError(
        Case.CONFLICT, None, f"X-EXTERNAL-ID {headers.external_id} already used today"
    )


def _handle(inbound: _Inbound, handler: Handler, call_id: int, claim: Claim) -> SnapOutcome:
    service = inbound.service
    assert inbound.partner is not None
    assert inbound.headers is not None
    assert inbound.payload is not None
    snap_request = SnapRequest(
        service=service,
        partner=inbound.partner,
        headers=inbound.headers,
        body=inbound.body,
        payload=inbound.payload,
        call_id=call_id,
        received_at=inbound.received_at,
        endpoint_url=inbound.endpoint_url,
        external_id_fresh=claim.fresh,
        external_id_first_call=claim.call_id,
        started=inbound.started,
    )
    try:
        return handler(snap_request)
    except SnapError as error:
        db.session.rollback()
        return SnapOutcome(_error_response(service, error, inbound.payload), _outcome_word(error))
    except DomainError as error:
        db.session.rollback()
        case, detail = case_for_domain_error(error)
        response = build_error_response(service, case, detail=detail, payload=inbound.payload)
        return SnapOutcome(response, f"domain_{error.code}")
    except Exception:
        db.session.rollback()
        log.exception("SNAP %s call %s: handler failed", service.value, call_id)
        response = build_error_response(service, Case.GENERAL_ERROR, payload=inbound.payload)
        return SnapOutcome(response, "general_error")


def run_snap_call(
    service: Service,
    handler: Handler,
    *,
    modes: frozenset[SignatureMode],
    kinds: frozenset[PartnerKind],
    request_key: RequestKey | None = None,
) -> Response:
    """The body of every SNAP view (see the module docstring)."""
    inbound = _Inbound(
        service=service,
        body=b"",
        received_at=clock.now(),
        started=time.perf_counter(),
        endpoint_url=raw_target(),
    )
    failure = _check_call(inbound, modes, kinds, request_key)
    try:
        call_id = _record(inbound)
        claim: Claim | None = None
        if failure is None:
            claim, failure = _claim(inbound, call_id)
        if failure is not None or claim is None:
            assert failure is not None
            # Nothing will act on a refused call: its record and answer go in one commit.
            outcome = SnapOutcome(
                _error_response(service, failure, inbound.payload), _outcome_word(failure)
            )
            _store_answer(call_id, inbound, outcome, commit=False)
            db.session.commit()
            return _send(outcome.response)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("SNAP %s: could not store the call", service.value)
        # Without the raw record nothing may be processed (DESIGN.md); the partner retries.
        error = SnapError(Case.INTERNAL_SERVER_ERROR, None, "call not stored")
        return _send(_error_response(service, failure or error, inbound.payload))
    outcome = _handle(inbound, handler, call_id, claim)
    if not outcome.stored:
        _store_answer(call_id, inbound, outcome)
    return _send(outcome.response)


def snap_endpoint(
    service: Service,
    *,
    kinds: Iterable[PartnerKind],
    modes: Iterable[SignatureMode] = (SignatureMode.SYMMETRIC,),
    request_key: RequestKey | None = None,
) -> Callable[[Handler], Callable[[], Response]]:
    """Make ``handler`` a SNAP view: ``bp.post("/v1.0/…")(snap_endpoint(...)(handler))``.

    ``kinds``: which partners may call it; ``modes``: which signature variants it accepts (the
    profile says which one a partner uses); ``request_key``: the message's own idempotency key
    (``paymentRequestId``), so a repeated X-EXTERNAL-ID with the same key is a replay.
    """
    kind_set = frozenset(kinds)
    mode_set = frozenset(modes)

    def decorate(handler: Handler) -> Callable[[], Response]:
        def view() -> Response:
            return run_snap_call(
                service, handler, modes=mode_set, kinds=kind_set, request_key=request_key
            )

        view.__name__ = handler.__name__
        view.__doc__ = handler.__doc__
        return public(view)

    return decorate


def string_field(name: str) -> RequestKey:
    """A request key read from a top-level string field (e.g. ``paymentRequestId``). It is read
    before the handler validates the body: a value no valid request carries (not printable ASCII,
    a NUL say) is no key, and the handler refuses the field."""

    def key(payload: dict[str, Any]) -> str | None:
        value = payload.get(name)
        if not isinstance(value, str) or not value.isascii() or not value.isprintable():
            return None
        return value if value.strip() else None

    return key
