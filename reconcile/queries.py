"""Read models for the finance pages and the API: runs, the exception queue, one exception with
its history and suggestions, one line with its state.

Suggestions are computed here, for one exception at a time, when a person opens it: they are
only suggestions (same amount within the window, a VA number one digit off), never matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from sqlalchemy import Select, and_, exists, func, or_, select

from payments.models import Channel, Deposit, Payment, PaymentReversal
from reconcile.config import current_rules
from reconcile.models import (
    LIVE_STATUSES,
    Claim,
    Event,
    ExceptionStatus,
    ExceptionType,
    ImportedFile,
    Line,
    LineDirection,
    Match,
    ReconException,
    RejectedLine,
    Run,
    SettlementBatch,
    Source,
)
from reconcile.report import AGE_BUCKETS
from retribusi import clock
from retribusi.db import AnySession
from retribusi.levy.errors import invalid, not_found
from retribusi.levy.models import Bill

MAX_PAGE_SIZE: Final = 200
SUGGESTIONS: Final = 10
#: VA payments looked at for "one digit off" suggestions (the window's unmatched ones).
_NEAR_VA_SCAN: Final = 500


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    page_size: int
    total: int


def _paged(session: AnySession, query: Select[Any], page: int, size: int) -> Page:
    if not 1 <= size <= MAX_PAGE_SIZE or page < 1:
        raise invalid("page", "range", f"pages start at 1; at most {MAX_PAGE_SIZE} per page")
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(session.scalars(query.limit(size).offset((page - 1) * size)))
    return Page(items, page, size, int(total))


def runs_page(session: AnySession, page: int = 1, size: int = 20) -> Page:
    return _paged(session, select(Run).order_by(Run.id.desc()), page, size)


def get_run(session: AnySession, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise not_found("run", f"no run {run_id}")
    return run


def run_matches(session: AnySession, run_id: int, page: int = 1, size: int = 50) -> Page:
    return _paged(
        session, select(Match).where(Match.run_id == run_id).order_by(Match.id), page, size
    )


def files_page(session: AnySession, page: int = 1, size: int = 20) -> Page:
    return _paged(session, select(ImportedFile).order_by(ImportedFile.id.desc()), page, size)


def age_range(bucket: str, today: date) -> tuple[date, date]:
    """The subject dates of an age bucket (``"0-1"``, ``"2-7"``, ``"8-30"``, ``">30"``)."""
    for low, high, label in AGE_BUCKETS:
        if label == bucket:
            oldest = today - timedelta(days=min(high, 36_500))
            return oldest, today - timedelta(days=low)
    raise invalid("age", "unknown", "age is one of " + ", ".join(b[2] for b in AGE_BUCKETS))


def exceptions_page(
    session: AnySession,
    *,
    type: str | None = None,
    status: str | None = ExceptionStatus.OPEN.value,
    age: str | None = None,
    assignee_id: int | None = None,
    unassigned: bool = False,
    page: int = 1,
    size: int = 50,
) -> Page:
    query = select(ReconException)
    if type:
        try:
            query = query.where(ReconException.type == ExceptionType(type))
        except ValueError:
            raise invalid("type", "unknown", f"unknown exception type {type[:30]!r}") from None
    if status == "live":
        query = query.where(ReconException.status.in_(LIVE_STATUSES))
    elif status:
        try:
            query = query.where(ReconException.status == ExceptionStatus(status))
        except ValueError:
            raise invalid("status", "unknown", f"unknown status {status[:30]!r}") from None
    if age:
        oldest, newest = age_range(age, clock.today_wib())
        query = query.where(
            ReconException.subject_date >= oldest, ReconException.subject_date <= newest
        )
    if unassigned:
        query = query.where(ReconException.assignee_id.is_(None))
    elif assignee_id is not None:
        query = query.where(ReconException.assignee_id == assignee_id)
    query = query.order_by(ReconException.subject_date, ReconException.id)
    return _paged(session, query, page, size)


def exception_counts(session: AnySession) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(ReconException.type, func.count(), func.sum(func.abs(ReconException.difference_idr)))
        .where(ReconException.status == ExceptionStatus.OPEN)
        .group_by(ReconException.type)
    )
    return {
        kind.value: {"open": int(count), "amount_idr": int(amount or 0)}
        for kind, count, amount in sorted(rows, key=lambda r: r[0].value)
    }


def get_exception(session: AnySession, exc_id: str) -> ReconException:
    found = session.get(ReconException, exc_id)
    if found is None:
        raise not_found("exception", f"no exception {exc_id[:40]}")
    return found


def history(session: AnySession, exc: ReconException) -> list[Event]:
    clauses = [Event.exception_id == exc.id]
    if exc.line_id is not None:
        clauses.append(Event.line_id == exc.line_id)
    if exc.payment_id is not None:
        clauses.append(Event.payment_id == exc.payment_id)
    return list(session.scalars(select(Event).where(or_(*clauses)).order_by(Event.id)))


def line_state(session: AnySession, line: Line) -> dict[str, Any]:
    """Exactly one of: matched (with its match), an exception (with its status), pending."""
    claim = session.scalars(select(Claim).where(Claim.line_id == line.id)).first()
    if claim is not None:
        return {"state": "matched", "match": session.get(Match, claim.match_id)}
    exc = session.scalars(
        select(ReconException).where(
            ReconException.line_id == line.id, ReconException.status.in_(LIVE_STATUSES)
        )
    ).first()
    if exc is not None:
        return {"state": exc.status.value, "exception": exc}
    return {"state": "pending"}


def get_line(session: AnySession, line_id: int) -> Line:
    line = session.get(Line, line_id)
    if line is None:
        raise not_found("line", f"no line {line_id}")
    return line


def rejected_of(session: AnySession, file_id: int, limit: int = 200) -> list[RejectedLine]:
    return list(
        session.scalars(
            select(RejectedLine)
            .where(RejectedLine.file_id == file_id)
            .order_by(RejectedLine.seq)
            .limit(limit)
        )
    )


def _one_off(a: str, b: str) -> bool:
    """Same length and one character different, or one character inserted or dropped."""
    if a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    if abs(len(a) - len(b)) != 1:
        return False
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def suggestions(session: AnySession, exc: ReconException) -> dict[str, list[dict[str, Any]]]:
    """What might explain this exception, for a person to check (never matched automatically)."""
    rules = current_rules()
    span = timedelta(days=rules.span_days)
    found: dict[str, list[dict[str, Any]]] = {"payments": [], "deposits": [], "batches": []}
    if exc.line_id is not None:
        line = session.get(Line, exc.line_id)
        if line is None or line.direction is not LineDirection.CREDIT:
            return found
        free_payment = and_(
            ~exists().where(Claim.payment_id == Payment.id),
            ~exists().where(PaymentReversal.payment_id == Payment.id),
        )
        window = and_(
            Payment.paid_on >= line.booking_date - span, Payment.paid_on <= line.booking_date
        )
        same = session.scalars(
            select(Payment)
            .where(free_payment, window, Payment.amount_idr == line.amount_idr)
            .order_by(Payment.paid_at.desc())
            .limit(SUGGESTIONS)
        ).all()
        found["payments"] = [_payment_dict(p, "same amount") for p in same]
        if line.va_number:
            near = session.scalars(
                select(Payment)
                .where(free_payment, window, Payment.channel == Channel.VA)
                .order_by(Payment.paid_at.desc())
                .limit(_NEAR_VA_SCAN)
            ).all()
            found["payments"] += [
                _payment_dict(p, "VA number one digit off")
                for p in near
                if p.va_number and _one_off(p.va_number, line.va_number)
            ][:SUGGESTIONS]
        if line.source is Source.BANK:
            found["deposits"] = [
                {
                    "id": d.id,
                    "slip_ref": d.slip_ref,
                    "amount_idr": d.amount_idr,
                    "date": d.deposited_on,
                }
                for d in session.scalars(
                    select(Deposit)
                    .where(
                        ~exists().where(Claim.deposit_id == Deposit.id),
                        Deposit.amount_idr == line.amount_idr,
                        Deposit.deposited_on >= line.booking_date - span,
                        Deposit.deposited_on <= line.booking_date,
                    )
                    .limit(SUGGESTIONS)
                )
            ]
            found["batches"] = [
                {
                    "id": b.id,
                    "ref": f"{b.acquirer_id} {b.batch_ref}",
                    "amount_idr": b.net_idr,
                    "date": b.settlement_date,
                }
                for b in session.scalars(
                    select(SettlementBatch)
                    .where(
                        ~exists().where(Claim.batch_id == SettlementBatch.id),
                        SettlementBatch.net_idr == line.amount_idr,
                        SettlementBatch.settlement_date >= line.booking_date - span,
                        SettlementBatch.settlement_date <= line.booking_date,
                    )
                    .limit(SUGGESTIONS)
                )
            ]
    return found


def _payment_dict(p: Payment, why: str) -> dict[str, Any]:
    return {
        "id": p.id,
        "channel": p.channel.value,
        "sender": p.sender,
        "ref": p.external_ref,
        "va_number": p.va_number,
        "amount_idr": p.amount_idr,
        "date": p.paid_on,
        "why": why,
    }


def lines_for(session: AnySession, exc: ReconException) -> list[Line]:
    """Unmatched credit lines that might be a payment's, deposit's or batch's bank line."""
    rules = current_rules()
    span = timedelta(days=rules.span_days)
    if exc.line_id is not None:
        return []
    start = exc.subject_date
    return list(
        session.scalars(
            select(Line)
            .where(
                ~exists().where(Claim.line_id == Line.id),
                Line.direction == LineDirection.CREDIT,
                Line.amount_idr == exc.amount_idr,
                Line.booking_date >= start,
                Line.booking_date <= start + span,
            )
            .order_by(Line.booking_date, Line.id)
            .limit(SUGGESTIONS)
        )
    )


def vendor_hint(session: AnySession, line: Line) -> int | None:
    """The vendor a line's money probably belongs to: the owner of its bill number, or of a
    payment made before into its VA number."""
    if line.bill_number:
        vendor = session.scalar(select(Bill.vendor_id).where(Bill.number == line.bill_number))
        if vendor is not None:
            return int(vendor)
    if line.va_number:
        vendor = session.scalar(
            select(Payment.vendor_id)
            .where(Payment.va_number == line.va_number)
            .order_by(Payment.id.desc())
            .limit(1)
        )
        if vendor is not None:
            return int(vendor)
    return None
