"""What people do with the exceptions: match, unmatch, ignore, accept, reopen, assign, and turn a
credit into a payment. Each action carries its actor and reason, is written as a new event
(``recon_events``, append-only, and the audit chain) and changes the projections (claims,
exceptions) in the same transaction. Nothing is edited away: an action is undone by another one
(unmatch undoes a match, reopen undoes an ignore or an accept).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError

from payments.ledger import PaymentIn, record_payment
from payments.models import Channel, Deposit, Payment, PaymentReversal
from reconcile.config import current_rules
from reconcile.models import (
    LIVE_STATUSES,
    Claim,
    Event,
    EventAction,
    ExceptionStatus,
    ExceptionType,
    Line,
    LineDirection,
    Match,
    ReconException,
    Rule,
    SettlementBatch,
    Source,
    SubjectKind,
)
from reconcile.runs import exception_id, line_key, lock
from retribusi import clock
from retribusi.audit import record_event
from retribusi.auth.models import Role, User
from retribusi.db import AnySession, transaction
from retribusi.extensions import db
from retribusi.levy.errors import conflict, invalid, not_found

MIN_REASON: Final = 10
MAX_REASON: Final = 300


def _reason(reason: str | None) -> str:
    text = " ".join((reason or "").split())
    if not MIN_REASON <= len(text) <= MAX_REASON:
        raise invalid(
            "reason", "required", f"give a reason of {MIN_REASON}-{MAX_REASON} characters"
        )
    if not text.isprintable():
        raise invalid("reason", "characters", "the reason has characters that cannot be printed")
    return text


def _event(
    session: AnySession,
    *,
    action: EventAction,
    actor: str,
    reason: str,
    exception_id: str | None = None,
    line_id: int | None = None,
    match_id: int | None = None,
    payment_id: int | None = None,
    details: dict[str, Any] | None = None,
    undoes_id: int | None = None,
) -> Event:
    event = Event(
        at=clock.now(),
        actor=actor,
        action=action,
        exception_id=exception_id,
        line_id=line_id,
        match_id=match_id,
        payment_id=payment_id,
        reason=reason,
        details=details or {},
        undoes_id=undoes_id,
    )
    session.add(event)
    session.flush()
    record_event(
        session,
        actor=actor,
        action=f"reconcile.{action.value}",
        subject_type="recon_exception" if exception_id else "recon_line",
        subject_id=exception_id or line_id or match_id or event.id,
        details={
            "reason": reason,
            **({"line_id": line_id} if line_id else {}),
            **({"match_id": match_id} if match_id else {}),
            **({"payment_id": payment_id} if payment_id else {}),
            **(details or {}),
        },
    )
    return event


def _locked_exception(session: AnySession, exc_id: str) -> ReconException:
    query = select(ReconException).where(ReconException.id == exc_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    found = session.scalars(query).first()
    if found is None:
        raise not_found("exception", f"no exception {exc_id}")
    return found


def _close_exceptions(
    session: AnySession, *, line_id: int, target_column: Any, target_id: int
) -> None:
    """A match explains its line and its target: their exceptions are resolved."""
    now = clock.now()
    for row in session.scalars(
        select(ReconException).where(
            ((ReconException.line_id == line_id) | (target_column == target_id)),
            ReconException.status.in_(LIVE_STATUSES),
        )
    ):
        row.status = ExceptionStatus.RESOLVED
        row.resolved_at = now
        row.updated_at = now


# --- match and unmatch ------------------------------------------------------------------------


@dataclass(frozen=True)
class Matched:
    match_id: int
    line_id: int
    difference_idr: int
    event_id: int


def match_line(
    *,
    line_id: int,
    actor: str,
    reason: str,
    payment_id: int | None = None,
    deposit_id: int | None = None,
    batch_id: int | None = None,
) -> Matched:
    """Match a credit line to one payment, deposit or settlement batch by hand. A difference in
    amount is allowed and kept on the match (``difference_idr``), explained by the reason."""
    why = _reason(reason)
    targets = [t for t in (payment_id, deposit_id, batch_id) if t is not None]
    if len(targets) != 1:
        raise invalid("target", "one_target", "choose exactly one payment, deposit or batch")
    session = db.session
    try:
        with transaction(session):
            lock(session)
            line = session.get(Line, line_id)
            if line is None:
                raise not_found("line", f"no line {line_id}")
            if line.direction is not LineDirection.CREDIT:
                raise invalid("line", "not_credit", "only money in can be matched")
            if session.scalar(select(exists().where(Claim.line_id == line_id))):
                raise conflict("line", "already_matched", "this line is matched already")
            amount, column, target = _target(session, line, payment_id, deposit_id, batch_id)
            difference = line.amount_idr - amount
            match = Match(
                line_id=line_id,
                payment_id=payment_id,
                deposit_id=deposit_id,
                batch_id=batch_id,
                rule=Rule.MANUAL,
                difference_idr=difference,
                run_id=None,
                created_at=clock.now(),
            )
            session.add(match)
            session.flush()
            session.add(
                Claim(
                    match_id=match.id,
                    line_id=line_id,
                    payment_id=payment_id,
                    deposit_id=deposit_id,
                    batch_id=batch_id,
                )
            )
            session.flush()
            _close_exceptions(session, line_id=line_id, target_column=column, target_id=target)
            event = _event(
                session,
                action=EventAction.MATCH,
                actor=actor,
                reason=why,
                line_id=line_id,
                match_id=match.id,
                payment_id=payment_id,
                details={
                    "deposit_id": deposit_id,
                    "batch_id": batch_id,
                    "difference_idr": difference,
                },
            )
            return Matched(match.id, line_id, difference, event.id)
    except IntegrityError as error:
        raise conflict(
            "target", "already_matched", "the line or what it was matched to is matched already"
        ) from error


def _target(
    session: AnySession,
    line: Line,
    payment_id: int | None,
    deposit_id: int | None,
    batch_id: int | None,
) -> tuple[int, Any, int]:
    """(amount, exception column, id) of the chosen target, checked to be free and fitting."""
    if payment_id is not None:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise not_found("payment", f"no payment {payment_id}")
        if session.scalar(select(exists().where(PaymentReversal.payment_id == payment_id))):
            raise conflict("payment", "reversed", "this payment was reversed")
        if session.scalar(select(exists().where(Claim.payment_id == payment_id))):
            raise conflict("payment", "already_matched", "this payment is matched already")
        if (
            line.source is Source.SETTLEMENT
            and payment.channel is not Channel.QRIS
            and payment.sender != current_rules().sender
        ):
            raise invalid("payment", "not_qris", "a settlement line pays a QRIS payment")
        return payment.amount_idr, ReconException.payment_id, payment_id
    if line.source is not Source.BANK:
        raise invalid("target", "not_bank", "a settlement line is matched to a QRIS payment")
    if deposit_id is not None:
        deposit = session.get(Deposit, deposit_id)
        if deposit is None:
            raise not_found("deposit", f"no deposit {deposit_id}")
        if session.scalar(select(exists().where(Claim.deposit_id == deposit_id))):
            raise conflict("deposit", "already_matched", "this deposit is matched already")
        return deposit.amount_idr, ReconException.deposit_id, deposit_id
    assert batch_id is not None
    batch = session.get(SettlementBatch, batch_id)
    if batch is None:
        raise not_found("batch", f"no settlement batch {batch_id}")
    if session.scalar(select(exists().where(Claim.batch_id == batch_id))):
        raise conflict("batch", "already_matched", "this batch is matched already")
    return batch.net_idr, ReconException.batch_id, batch_id


@dataclass(frozen=True)
class Unmatched:
    match_id: int
    line_id: int
    event_id: int
    exception_id: str


def unmatch(*, match_id: int, actor: str, reason: str) -> Unmatched:
    """Release a match (the engine's or a person's): the pair is never matched automatically
    again, and the line is open again as an exception until the next run reclassifies it."""
    why = _reason(reason)
    session = db.session
    try:
        with transaction(session):
            lock(session)
            claim = session.get(Claim, match_id)
            if claim is None:
                raise conflict("match", "not_matched", "this match does not stand (any more)")
            match = session.get(Match, match_id)
            assert match is not None
            line = session.get(Line, match.line_id)
            assert line is not None
            made_by = session.scalars(
                select(Event.id).where(
                    Event.match_id == match_id,
                    Event.action.in_([EventAction.MATCH, EventAction.CREATE_PAYMENT]),
                )
            ).first()
            session.execute(delete(Claim).where(Claim.match_id == match_id))
            name = line_key(line.source.value, line.account_id, line.identity)
            exc_id = exception_id(name)
            _open_line_exception(session, line, exc_id, name, match_id)
            event = _event(
                session,
                action=EventAction.UNMATCH,
                actor=actor,
                reason=why,
                exception_id=exc_id,
                line_id=line.id,
                match_id=match_id,
                payment_id=match.payment_id,
                details={
                    "rule": match.rule.value,
                    "run_id": match.run_id,
                    "deposit_id": match.deposit_id,
                    "batch_id": match.batch_id,
                },
                undoes_id=made_by,
            )
            return Unmatched(match_id, line.id, event.id, exc_id)
    except IntegrityError as error:
        raise conflict("match", "not_matched", "this match was released already") from error


def _open_line_exception(
    session: AnySession, line: Line, exc_id: str, name: str, match_id: int
) -> None:
    now = clock.now()
    row = session.get(ReconException, exc_id)
    detail = {"line": name, "unmatched": match_id}
    if row is None:
        session.add(
            ReconException(
                id=exc_id,
                type=ExceptionType.UNKNOWN_CREDIT,
                status=ExceptionStatus.OPEN,
                subject=SubjectKind.LINE,
                line_id=line.id,
                amount_idr=line.amount_idr,
                difference_idr=line.amount_idr,
                subject_date=line.booking_date,
                detail=detail,
                opened_at=now,
                updated_at=now,
            )
        )
    else:
        row.type = ExceptionType.UNKNOWN_CREDIT
        row.status = ExceptionStatus.OPEN
        row.resolved_at = None
        row.difference_idr = line.amount_idr
        row.detail = detail
        row.opened_at = now
        row.updated_at = now
    session.flush()


# --- decisions on an exception ----------------------------------------------------------------

_DECISIONS: Final = {
    EventAction.IGNORE: ExceptionStatus.IGNORED,
    EventAction.ACCEPT: ExceptionStatus.ACCEPTED,
    EventAction.REOPEN: ExceptionStatus.OPEN,
}


@dataclass(frozen=True)
class Decided:
    exception_id: str
    status: ExceptionStatus
    event_id: int


def decide(*, exception_id: str, action: EventAction, actor: str, reason: str) -> Decided:
    """Ignore (not a payment matter), accept (the difference is known) or reopen an exception."""
    if action not in _DECISIONS:
        raise invalid("action", "unknown", "the action is ignore, accept or reopen")
    why = _reason(reason)
    session = db.session
    with transaction(session):
        row = _locked_exception(session, exception_id)
        wanted = _DECISIONS[action]
        if row.status is ExceptionStatus.RESOLVED:
            raise conflict("exception", "resolved", "this exception is resolved already")
        if row.status is wanted:
            raise conflict("exception", "unchanged", f"this exception is {wanted.value} already")
        if action is EventAction.REOPEN and row.status is ExceptionStatus.OPEN:
            raise conflict("exception", "unchanged", "this exception is open already")
        undoes = None
        if action is EventAction.REOPEN:
            undoes = session.scalars(
                select(Event.id)
                .where(
                    Event.exception_id == exception_id,
                    Event.action.in_([EventAction.IGNORE, EventAction.ACCEPT]),
                )
                .order_by(Event.id.desc())
                .limit(1)
            ).first()
        now = clock.now()
        row.status = wanted
        row.updated_at = now
        event = _event(
            session,
            action=action,
            actor=actor,
            reason=why,
            exception_id=exception_id,
            line_id=row.line_id,
            payment_id=row.payment_id,
            details={"type": row.type.value, "difference_idr": row.difference_idr},
            undoes_id=undoes,
        )
        return Decided(exception_id, wanted, event.id)


def assign(*, exception_id: str, assignee_id: int | None, actor: str, reason: str = "") -> Decided:
    """Give an exception to a finance or admin user (``None``: to nobody)."""
    session = db.session
    note = " ".join((reason or "").split())[:MAX_REASON]
    with transaction(session):
        row = _locked_exception(session, exception_id)
        if assignee_id is not None:
            user = session.get(User, assignee_id)
            if user is None or not user.active or user.role not in (Role.FINANCE, Role.ADMIN):
                raise invalid("assignee", "not_staff", "assign to an active finance or admin user")
        row.assignee_id = assignee_id
        row.updated_at = clock.now()
        event = _event(
            session,
            action=EventAction.ASSIGN,
            actor=actor,
            reason=note,
            exception_id=exception_id,
            details={"assignee_id": assignee_id},
        )
        return Decided(exception_id, row.status, event.id)


# --- a credit turned into a payment -----------------------------------------------------------


@dataclass(frozen=True)
class CreatedPayment:
    payment_id: int
    match_id: int
    receipt_number: str
    replayed: bool


def line_payment_ref(line: Line) -> str:
    """The external reference of the payment made from a line: derived from the line's natural
    key, so doing it twice records one payment (the ledger is idempotent on it)."""
    name = line_key(line.source.value, line.account_id, line.identity)
    return "LINE-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:40]


def _paid_at(line: Line) -> datetime:
    if line.transaction_time is not None:
        return line.transaction_time
    return clock.start_of_day_wib(line.booking_date)


def payment_for_line(
    line: Line, *, vendor_id: int, actor: str, reason: str, bill_ids: tuple[int, ...] = ()
) -> PaymentIn:
    """The ledger payment a line becomes: sender ``RECONCILE_SENDER``, reference derived from
    the line, the line's natural key in ``raw`` (the engine's ``created`` rule reads it)."""
    return PaymentIn(
        channel=Channel.COUNTER,
        sender=current_rules().sender,
        external_ref=line_payment_ref(line),
        vendor_id=vendor_id,
        amount_idr=line.amount_idr,
        paid_at=_paid_at(line),
        raw={
            "line": {
                "source": line.source.value,
                "account_id": line.account_id,
                "identity": line.identity,
            },
            "booking_date": line.booking_date.isoformat(),
            "description": line.description[:300],
            "reason": reason,
            "by": actor,
        },
        recorded_by=actor,
        target_bill_ids=tuple(sorted(set(bill_ids))),
        va_number=line.va_number,
    )


def create_payment(
    *,
    line_id: int,
    vendor_id: int,
    actor: str,
    reason: str,
    bill_ids: tuple[int, ...] = (),
) -> CreatedPayment:
    """Paid but not credited: the bank (or the acquirer) has the vendor's money, the ledger does
    not. Record it as a payment for the vendor's bills (the ledger allocates it, oldest first, or
    to ``bill_ids``) and match it to the line, in two steps that are each idempotent."""
    why = _reason(reason)
    session = db.session
    line = session.get(Line, line_id)
    if line is None:
        raise not_found("line", f"no line {line_id}")
    if line.direction is not LineDirection.CREDIT:
        raise invalid("line", "not_credit", "only money in can become a payment")
    ref = line_payment_ref(line)
    rules = current_rules()
    claimed = session.scalars(select(Claim).where(Claim.line_id == line_id)).first()
    if claimed is not None:
        payment = session.get(Payment, claimed.payment_id) if claimed.payment_id else None
        if payment is not None and payment.sender == rules.sender and payment.external_ref == ref:
            receipt = payment.receipt.number if payment.receipt else ""
            session.rollback()
            return CreatedPayment(payment.id, claimed.match_id, receipt, True)
        session.rollback()
        raise conflict("line", "already_matched", "this line is matched already")
    name = line_key(line.source.value, line.account_id, line.identity)
    incoming = payment_for_line(
        line, vendor_id=vendor_id, actor=actor, reason=why, bill_ids=bill_ids
    )
    session.rollback()
    recorded = record_payment(incoming)  # its own transaction; a replay returns the first answer
    try:
        with transaction(session):
            lock(session)
            if session.scalar(select(exists().where(Claim.line_id == line_id))):
                raise conflict("line", "already_matched", "this line is matched already")
            match = Match(
                line_id=line_id,
                payment_id=recorded.payment_id,
                rule=Rule.CREATED,
                difference_idr=0,
                created_at=clock.now(),
            )
            session.add(match)
            session.flush()
            session.add(Claim(match_id=match.id, line_id=line_id, payment_id=recorded.payment_id))
            session.flush()
            _close_exceptions(
                session,
                line_id=line_id,
                target_column=ReconException.payment_id,
                target_id=recorded.payment_id,
            )
            _event(
                session,
                action=EventAction.CREATE_PAYMENT,
                actor=actor,
                reason=why,
                exception_id=exception_id(name),
                line_id=line_id,
                match_id=match.id,
                payment_id=recorded.payment_id,
                details={"vendor_id": vendor_id, "amount_idr": line.amount_idr},
            )
            return CreatedPayment(
                recorded.payment_id, match.id, recorded.receipt_number, recorded.replayed
            )
    except IntegrityError as error:
        raise conflict(
            "line", "already_matched", "the line or the payment is matched already"
        ) from error
