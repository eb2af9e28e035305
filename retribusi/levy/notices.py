"""STRD and the Surat Teguran ladder, issued for overdue monthly bills and recorded as facts.

On a date, an unpaid SKRD gets its STRD ``STRD_DAYS_AFTER_DUE`` days after the due date, and
Surat Teguran 1-3 at ``TEGURAN_DAYS_AFTER_DUE``; a later letter waits at least the configured
interval after the one before it, so a run that catches up never sends SP1-SP3 on one day. Days
under an outage or a sanction-stopping relief do not count. Each notice keeps the figures it
demanded. Daily karcis are chased in person, not by letter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, insert, or_, select

from retribusi import clock
from retribusi.audit import record_event
from retribusi.auth.access import require_market
from retribusi.auth.models import User
from retribusi.db import AnySession, transaction
from retribusi.extensions import db
from retribusi.levy import config as levy_config
from retribusi.levy.arrears import BillSnapshot, overdue_bills
from retribusi.levy.balances import BillFigures, figures_for
from retribusi.levy.billing import check_bill_access
from retribusi.levy.errors import invalid, not_found
from retribusi.levy.models import Bill, BillKind, Notice, NoticeKind
from retribusi.levy.rules import Period
from vendors.models import Market

LADDER = (NoticeKind.SP1, NoticeKind.SP2, NoticeKind.SP3)


@dataclass
class NoticeRunSummary:
    as_of: date
    market: str | None
    dry_run: bool
    counts: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in NoticeKind})
    # Bills a letter was due for by calendar days that got none: days under an outage or a
    # sanction-stopping relief do not count.
    suspended: int = 0
    digest: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "as_of": self.as_of.isoformat(),
            "market": self.market,
            "dry_run": self.dry_run,
            "notices": dict(self.counts),
            "total": sum(self.counts.values()),
            "suspended": self.suspended,
            "digest": self.digest,
        }


@dataclass(frozen=True)
class NoticeDraft:
    bill: BillSnapshot
    kind: NoticeKind
    account: BillFigures
    days_late: int


def due_notices(
    bill: BillSnapshot,
    account: BillFigures,
    held: Mapping[NoticeKind, date],
    settings: levy_config.LevySettings,
    as_of: date,
) -> list[NoticeKind]:
    """The notices a bill should get on ``as_of`` given those it holds (pure)."""
    late = account.days_overdue - account.suspended_days
    due: list[NoticeKind] = []
    if NoticeKind.STRD not in held and late >= settings.strd_days_after_due:
        due.append(NoticeKind.STRD)
    thresholds = settings.teguran_days_after_due
    for step, kind in enumerate(LADDER):
        if kind in held:
            continue
        if late < thresholds[step]:
            break
        if step > 0:
            previous = held.get(LADDER[step - 1])
            if (
                previous is None
                or (as_of - previous).days < thresholds[step] - thresholds[step - 1]
            ):
                break
        due.append(kind)
        break
    return due


def may_be_due(as_of: date, settings: levy_config.LevySettings) -> ColumnElement[bool]:
    """SQL: the monthly bills :func:`due_notices` could give a letter on ``as_of``, judged by
    calendar days and the letters held (suspended days only make a bill later, never earlier).
    The run computes figures for these only: a run with nothing new reads no bill's account."""

    def held(kind: NoticeKind, by: date | None = None) -> ColumnElement[bool]:
        issued = exists().where(Notice.bill_id == Bill.id, Notice.kind == kind)
        return issued if by is None else issued.where(Notice.issued_on <= by)

    def due_by(days: int) -> ColumnElement[bool]:
        return Bill.due_on <= as_of - timedelta(days=days)

    steps = settings.teguran_days_after_due
    chances = [
        and_(~held(NoticeKind.STRD), due_by(settings.strd_days_after_due)),
        and_(~held(LADDER[0]), due_by(steps[0])),
    ]
    for step in range(1, len(LADDER)):
        wait = timedelta(days=steps[step] - steps[step - 1])
        chances.append(
            and_(
                ~held(LADDER[step]),
                due_by(steps[step]),
                held(LADDER[step - 1], by=as_of - wait),
            )
        )
    return and_(Bill.kind == BillKind.MONTHLY, or_(*chances))


def _held(session: AnySession, bill_ids: list[int]) -> dict[int, dict[NoticeKind, date]]:
    held: dict[int, dict[NoticeKind, date]] = {}
    for start in range(0, len(bill_ids), 500):
        chunk = bill_ids[start : start + 500]
        for bill_id, kind, issued_on in session.execute(
            select(Notice.bill_id, Notice.kind, Notice.issued_on).where(Notice.bill_id.in_(chunk))
        ):
            held.setdefault(bill_id, {})[NoticeKind(kind)] = issued_on
    return held


def issue_notices(
    *, as_of: date | None = None, market_code: str | None = None, dry_run: bool = False, actor: str
) -> NoticeRunSummary:
    """Issue every STRD and teguran due on ``as_of`` (default today); idempotent."""
    session = db.session
    today = clock.today_wib()
    as_of = as_of or today
    if as_of > today:
        raise invalid("as_of", "future", "notices cannot be dated in the future")
    settings = levy_config.current()
    if (
        market_code is not None
        and session.scalar(select(Market.id).where(Market.code == market_code)) is None
    ):
        raise invalid("market", "unknown", f"no market {market_code!r}")
    summary = NoticeRunSummary(as_of, market_code, dry_run)
    with transaction(session):
        bills = overdue_bills(
            session,
            as_of,
            markets=[market_code] if market_code else None,
            where=[may_be_due(as_of, settings)],
        )
        accounts = figures_for(session, bills, as_of)
        held = _held(session, [b.id for b in bills])
        drafts: list[NoticeDraft] = []
        for bill in bills:
            account = accounts[bill.id]
            if account.outstanding_idr <= 0:
                continue
            kinds = due_notices(bill, account, held.get(bill.id, {}), settings, as_of)
            if not kinds and account.suspended_days:
                summary.suspended += 1
            late = account.days_overdue - account.suspended_days
            drafts += [NoticeDraft(bill, kind, account, late) for kind in kinds]
        drafts.sort(key=lambda d: (d.bill.market_code, d.kind.value, d.bill.id))
        rows = _rows(session, drafts, as_of, actor)
        for draft in drafts:
            summary.counts[draft.kind.value] += 1
        sha = hashlib.sha256()
        for row in rows:
            sha.update(f"{row['number']}|{row['bill_id']}|{row['total_idr']}\n".encode())
        summary.digest = sha.hexdigest()
        if dry_run or not rows:
            session.rollback()
            return summary
        session.execute(insert(Notice), rows)
        record_event(
            session,
            actor=actor,
            action="notices.run",
            subject_type="notices",
            subject_id=as_of.isoformat(),
            details={k: v for k, v in summary.to_dict().items() if k != "ok"},
        )
    return summary


def _rows(
    session: AnySession, drafts: list[NoticeDraft], as_of: date, actor: str
) -> list[dict[str, Any]]:
    period = Period.of(as_of)
    counters: dict[tuple[int, NoticeKind], int] = {
        (market_id, NoticeKind(kind)): int(top)
        for market_id, kind, top in session.execute(
            select(Notice.market_id, Notice.kind, func.max(Notice.number_seq))
            .where(Notice.issued_period == period.label)
            .group_by(Notice.market_id, Notice.kind)
        )
    }
    now = clock.now()
    rows = []
    for draft in drafts:
        key = (draft.bill.market_id, draft.kind)
        counters[key] = seq = counters.get(key, 0) + 1
        prefix = draft.kind.value.upper()
        principal = draft.account.principal_outstanding_idr
        sanction = draft.account.sanction_outstanding_idr
        rows.append(
            {
                "kind": draft.kind,
                "number": f"{prefix}/{period.year:04d}/{period.month:02d}/"
                f"{draft.bill.market_code}/{seq:06d}",
                "number_seq": seq,
                "issued_period": period.label,
                "bill_id": draft.bill.id,
                "vendor_id": draft.bill.vendor_id,
                "market_id": draft.bill.market_id,
                "issued_on": as_of,
                "issued_at": now,
                "issued_by": actor,
                "days_late": draft.days_late,
                "months_late": draft.account.months_late,
                "principal_outstanding_idr": principal,
                "sanction_idr": sanction,
                "total_idr": principal + sanction,
            }
        )
    return rows


def get_notice(notice_id: int, user: User | None = None) -> Notice:
    notice = db.session.get(Notice, notice_id)
    if notice is None:
        raise not_found("notice", f"no notice {notice_id}")
    if user is not None:
        check_bill_access(notice.bill, user)
    return notice


def notices_for_bill(bill: Bill) -> list[Notice]:
    return list(
        db.session.scalars(
            select(Notice).where(Notice.bill_id == bill.id).order_by(Notice.issued_on, Notice.id)
        )
    )


def notices_in_market(user: User, market_code: str, limit: int = 200) -> list[Notice]:
    require_market(user, market_code)
    return list(
        db.session.scalars(
            select(Notice)
            .join(Market, Market.id == Notice.market_id)
            .where(Market.code == market_code)
            .order_by(Notice.issued_on.desc(), Notice.id.desc())
            .limit(limit)
        )
    )
