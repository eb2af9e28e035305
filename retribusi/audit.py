"""Append-only audit events, each carrying the hash of the one before it.

An event's hash covers its sequence number, time, actor, action, subject, details and the previous
event's hash, so editing, deleting or reordering any event breaks the chain at that point and
``retribusi audit verify`` names it. The database refuses UPDATE and DELETE on the table (triggers
in the migration); the chain catches what a superuser does anyway.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, String, select, text
from sqlalchemy.orm import Mapped, mapped_column

from retribusi import clock
from retribusi.db import AnySession, Base, IdPK

GENESIS_HASH = "0" * 64
# Any constant works; it names the one lock that serialises appends to the chain on PostgreSQL.
_CHAIN_LOCK_KEY = 0x52_45_54_52_49_42_55  # "RETRIBU"


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (CheckConstraint("seq > 0", name="seq_positive"),)

    id: Mapped[IdPK]
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80))
    subject_type: Mapped[str] = mapped_column(String(60))
    subject_id: Mapped[str] = mapped_column(String(120))
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def _check_details(value: object, path: str = "details") -> None:
    # JSON that survives a round trip through JSONB unchanged: no floats (money is never a float,
    # and a float's text can change), only string keys.
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_details(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be strings")
            _check_details(item, f"{path}.{key}")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not allowed in audit details")


# Built once: every payment that settles a bill appends an event, and SQLAlchemy derives a new
# statement's cache key on every execution (docs/bank-simulator.md).
_CHAIN_HEAD = select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def event_hash(
    *,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        {
            "seq": seq,
            "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "details": details,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record_event(
    session: AnySession,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | int,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event inside the caller's transaction (the caller commits)."""
    details = details or {}
    _check_details(details)
    if session.get_bind().dialect.name == "postgresql":
        # Two writers reading the same chain head would fork the chain; the lock is released
        # when the caller's transaction ends.
        session.execute(_CHAIN_LOCK, {"key": _CHAIN_LOCK_KEY})
    head = session.execute(_CHAIN_HEAD).first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    occurred_at = clock.now()
    event = AuditEvent(
        seq=seq,
        occurred_at=occurred_at,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        details=details,
        prev_hash=prev_hash,
    )
    event.hash = event_hash(
        seq=seq,
        occurred_at=occurred_at,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        details=details,
        prev_hash=prev_hash,
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: str  # "edited" | "missing" | "relinked"
    message: str


def verify_chain(session: AnySession, *, batch_size: int = 1000) -> tuple[int, list[ChainProblem]]:
    """Walk the chain in sequence order; return the number of events read and every problem."""
    problems: list[ChainProblem] = []
    expected_seq = 1
    prev_hash = GENESIS_HASH
    count = 0
    events = session.scalars(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch_size)
    )
    for event in events:
        count += 1
        if event.seq != expected_seq:
            problems.append(
                ChainProblem(
                    expected_seq,
                    "missing",
                    f"events {expected_seq}..{event.seq - 1} are missing (deleted)",
                )
            )
        if event.prev_hash != prev_hash:
            problems.append(
                ChainProblem(
                    event.seq,
                    "relinked",
                    f"event {event.seq} does not follow the event before it "
                    "(deleted, inserted or reordered)",
                )
            )
        recomputed = event_hash(
            seq=event.seq,
            occurred_at=event.occurred_at,
            actor=event.actor,
            action=event.action,
            subject_type=event.subject_type,
            subject_id=event.subject_id,
            details=event.details,
            prev_hash=event.prev_hash,
        )
        if recomputed != event.hash:
            problems.append(
                ChainProblem(
                    event.seq, "edited", f"event {event.seq} was changed after it was written"
                )
            )
        expected_seq = event.seq + 1
        prev_hash = event.hash
    return count, problems
