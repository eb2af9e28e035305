"""The raw call log: each SNAP request stored as received, then its answer; X-EXTERNAL-ID claims.

Both tables are append-only. A call is committed before it is processed, so a crash in the middle
leaves the request on record; its answer is a second row, written after.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payments.snap.models import (
    ENDPOINT_URL_STORED_CHARS,
    EXTERNAL_ID_MAX_CHARS,
    REQUEST_KEY_MAX_CHARS,
    ExternalIdClaim,
    SnapAnswer,
    SnapCall,
)
from retribusi.db import AnySession

#: Bounds on what one call may put in the log (the body itself is bounded at 64 KiB upstream).
MAX_HEADERS_STORED: Final = 60
MAX_HEADER_VALUE_STORED: Final = 2048
#: Headers never stored: cookies carry nothing a bank sends, and could carry a session.
_DROPPED_HEADERS: Final = frozenset({"cookie"})
REDACTED: Final = "[redacted]"


def _digest_label(secret: str) -> str:
    # Enough to tell two tokens apart in an investigation, useless to an attacker.
    return "sha256:" + hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()[:16]


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Header name → value (a list when repeated), with the bearer token replaced by a digest."""
    stored: dict[str, Any] = {}
    for count, (raw_name, value) in enumerate(headers):
        if count >= MAX_HEADERS_STORED:
            stored["…"] = "more headers not stored"
            break
        name = storable(raw_name)
        lower = name.lower()
        if lower in _DROPPED_HEADERS:
            continue
        text = storable(value[:MAX_HEADER_VALUE_STORED])
        if lower == "authorization":
            scheme, _, token = value.strip().partition(" ")
            text = f"{storable(scheme)} {_digest_label(token.strip())}" if token else REDACTED
        if name in stored:
            previous = stored[name]
            stored[name] = [*(previous if isinstance(previous, list) else [previous]), text]
        else:
            stored[name] = text
    return stored


def storable(text: str) -> str:
    """``text`` as PostgreSQL can keep it: NUL is refused in its text and JSON, so it becomes
    U+FFFD (the length and the position stay). A call is logged before it is validated."""
    return text.replace("\x00", "\ufffd")


def redact_answer(body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer as stored: an issued access token is replaced by its digest."""
    stored = dict(body)
    token = stored.get("accessToken")
    if isinstance(token, str):
        stored["accessToken"] = _digest_label(token)
    return stored


@dataclass(frozen=True)
class CallRecord:
    partner_id: int | None
    service: str
    method: str
    endpoint_url: str
    external_id: str | None
    request_key: str | None
    remote_addr: str | None
    headers: dict[str, Any]
    body: bytes
    received_at: datetime


def add_call(session: AnySession, record: CallRecord) -> SnapCall:
    """Add the call to the session (the caller commits) and flush to get its id."""
    external_id = record.external_id
    if external_id is not None and len(external_id) > EXTERNAL_ID_MAX_CHARS:
        external_id = None  # refused as malformed; the header itself is in ``headers``
    request_key = record.request_key
    if request_key is not None and len(request_key) > REQUEST_KEY_MAX_CHARS:
        request_key = None
    call = SnapCall(
        partner_id=record.partner_id,
        service=record.service,
        method=record.method[:10],
        endpoint_url=storable(record.endpoint_url[:ENDPOINT_URL_STORED_CHARS]),
        external_id=external_id,
        request_key=request_key,
        remote_addr=storable(record.remote_addr or "")[:64] or None,
        headers=record.headers,
        body=storable(record.body.decode("utf-8", "replace")),
        body_sha256=hashlib.sha256(record.body).hexdigest(),
        received_at=record.received_at,
    )
    session.add(call)
    session.flush()
    return call


def add_answer(
    session: AnySession,
    *,
    call_id: int,
    http_status: int,
    response_code: str,
    body: Mapping[str, Any],
    outcome: str,
    answered_at: datetime,
    duration_ms: int,
    payment_id: int | None = None,
    replay_of: int | None = None,
) -> None:
    session.add(
        SnapAnswer(
            call_id=call_id,
            http_status=http_status,
            response_code=response_code[:7],
            body=redact_answer(body),
            outcome=outcome[:40],
            payment_id=payment_id,
            replay_of=replay_of,
            answered_at=answered_at,
            duration_ms=max(0, min(duration_ms, 2**31 - 1)),
        )
    )


@dataclass(frozen=True)
class Claim:
    """The result of claiming an X-EXTERNAL-ID.

    ``fresh``: this call claimed it. Otherwise ``call_id`` is the earlier claimant and
    ``same_message`` tells whether that call carried the same message key (a bank repeating a
    payment flag with its X-EXTERNAL-ID: a replay, not a conflict).
    """

    fresh: bool
    call_id: int
    same_message: bool


# Built once per dialect: every SNAP call claims its X-EXTERNAL-ID (see payments.ledger on why).
# The columns come from the parameters given at execution.
_CLAIM = {
    name: insert(ExternalIdClaim)
    .on_conflict_do_nothing(index_elements=["partner_id", "business_date", "external_id"])
    .returning(ExternalIdClaim.id)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def claim_external_id(
    session: AnySession,
    *,
    partner_id: int,
    business_date: date,
    external_id: str,
    service: str,
    request_key: str | None,
    call_id: int,
) -> Claim:
    """Claim ``external_id`` for the partner's business day, inside the caller's transaction.

    ``INSERT … ON CONFLICT DO NOTHING``: under concurrency the database decides the one winner
    (PostgreSQL makes a second claimant wait for the first to commit), and the loser reads the
    winner's claim instead of failing its transaction.
    """
    values = {
        "partner_id": partner_id,
        "business_date": business_date,
        "external_id": external_id,
        "service": service,
        "request_key": request_key,
        "call_id": call_id,
    }
    # On the session's connection: the session would rebuild the statement for the ORM.
    claim = _CLAIM[session.get_bind().dialect.name]
    if session.connection().execute(claim, values).first() is not None:
        return Claim(fresh=True, call_id=call_id, same_message=True)
    earlier = session.execute(
        select(ExternalIdClaim.call_id, ExternalIdClaim.request_key, ExternalIdClaim.service).where(
            ExternalIdClaim.partner_id == partner_id,
            ExternalIdClaim.business_date == business_date,
            ExternalIdClaim.external_id == external_id,
        )
    ).one()
    # A message without a key of its own (an inquiry) can never be the same message twice.
    same = (
        request_key is not None
        and earlier.service == service
        and earlier.request_key == request_key
    )
    return Claim(fresh=False, call_id=earlier.call_id, same_message=same)


def first_answer_for_payment(session: AnySession, payment_id: int) -> SnapAnswer | None:
    """The answer given when ``payment_id`` was recorded (not a replay of it)."""
    found: SnapAnswer | None = session.scalars(
        select(SnapAnswer)
        .where(SnapAnswer.payment_id == payment_id, SnapAnswer.replay_of.is_(None))
        .order_by(SnapAnswer.call_id)
        .limit(1)
    ).first()
    return found
