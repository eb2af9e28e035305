"""Bills: the billing run, daily tickets, void and reissue, status, and what a vendor owes.

The billing run is set-based: it reads every placement of the period in one query, prices them in
memory (a pricing for one market, stall type, area and span is computed once and reused), and
writes bills and lines in bulk. A unique index allows one live bill per placement and period, so a
re-run bills only what is new, and a dry run computes exactly what the run would write.

Days: an SHP is billed from ``start_on`` up to, not including, ``liable_until`` (the day it ended,
or its expiry), as :meth:`vendors.models.Placement.covers` defines. Kios and los are billed a month
at a time, pelataran a day of use at a time (one karcis per day the SHP holds the ground, up to
today; an officer can issue today's karcis on the spot).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Any, Final, NamedTuple, cast

from sqlalchemy import Select, Table, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError

from retribusi import clock
from retribusi.audit import record_event
from retribusi.auth.access import require_market
from retribusi.auth.models import Role, User
from retribusi.db import AnySession, transaction
from retribusi.errors import Forbidden
from retribusi.extensions import db
from retribusi.levy import config as levy_config
from retribusi.levy.balances import (
    Account,
    BillFigures,
    accounts_for,
    figures_for,
    payment_ledger,
)
from retribusi.levy.bulk import Part, RowWriter, allocate_ids, widen_cache
from retribusi.levy.errors import conflict, invalid, not_found
from retribusi.levy.models import (
    OPEN_STATUSES,
    Bill,
    BillingPeriodClosure,
    BillingRun,
    BillKind,
    BillLine,
    BillStatus,
    Relief,
    ReliefKind,
)
from retribusi.levy.rules import (
    Component,
    MonthDays,
    Period,
    PlanPiece,
    PricedLine,
    PricingError,
    RoundingRule,
    RuleError,
    Segment,
    daily_due_on,
    due_rule_for,
    monthly_due_on,
    plan_period,
    price_segments,
)
from retribusi.levy.rules import (
    Relief as ReliefTerms,
)
from retribusi.levy.tariffs import tariff_rows
from vendors.models import Market, MarketClassPeriod, Placement, Stall, StallType, Vendor

QUANTUM: Final = Decimal("0.0001")
BILLS: Final = cast(Table, Bill.__table__)
LINES: Final = cast(Table, BillLine.__table__)
MAX_EXAMPLES: Final = 20
MAX_SUMMARY_BILLS: Final = 100  # the oldest ones; the counts and sums cover them all
# Serialises billing runs and ticket issue on PostgreSQL (bill numbers are max + 1 per market).
_BILLING_LOCK_KEY: Final = 0x4C_45_56_59_42_49_4C  # "LEVYBIL"
PRICED_COMPONENTS_REQUIRED: Final = (Component.PELAYANAN_PASAR,)


class SkipReason:
    NO_TARIFF = "no_tariff"
    NO_TNTD = "no_tntd"
    EXEMPT = "exempt"


# --- what the run reads ------------------------------------------------------------------------


class PlacementRow(NamedTuple):
    """What the run reads per placement (a named tuple: the run makes 100 000 of them)."""

    placement_id: int
    vendor_id: int
    stall_id: int
    market_id: int
    block_id: int
    stall_type: StallType
    area_m2: Decimal
    tntd_idr_per_m2: int | None
    start_on: date
    liable_until: date  # exclusive

    def coverage(self, first: date, last: date) -> tuple[date, date] | None:
        start = max(self.start_on, first)
        end = min(self.liable_until - timedelta(days=1), last)
        return (start, end) if start <= end else None


def _placement_query() -> Select[*tuple[Any, ...]]:
    """Placements with what billing needs of their stall (``PlacementRow``'s columns)."""
    liable_until = func.coalesce(Placement.ended_on, Placement.expires_on)
    return select(
        Placement.id,
        Placement.vendor_id,
        Placement.stall_id,
        Stall.market_id,
        Stall.block_id,
        Stall.stall_type,
        Stall.area_m2,
        Stall.tntd_idr_per_m2,
        Placement.start_on,
        liable_until,
    ).join(Stall, Stall.id == Placement.stall_id)


def _placements(
    session: AnySession, first: date, last: date, market_id: int | None
) -> list[PlacementRow]:
    liable_until = func.coalesce(Placement.ended_on, Placement.expires_on)
    query = (
        _placement_query()
        .where(Placement.start_on <= last, liable_until > first)
        .order_by(Placement.id)
    )
    if market_id is not None:
        query = query.where(Stall.market_id == market_id)
    return [PlacementRow._make(row) for row in session.execute(query)]


def _placement_row(session: AnySession, placement_id: int) -> PlacementRow | None:
    row = session.execute(_placement_query().where(Placement.id == placement_id)).first()
    return PlacementRow._make(row) if row else None


@dataclass(frozen=True)
class ReliefRow:
    id: int
    market_id: int | None
    block_id: int | None
    vendor_id: int | None
    first: date
    last: date
    terms: ReliefTerms

    def applies_to(self, row: PlacementRow) -> bool:
        return (
            (self.market_id is None or self.market_id == row.market_id)
            and (self.block_id is None or self.block_id == row.block_id)
            and (self.vendor_id is None or self.vendor_id == row.vendor_id)
        )


def _principal_reliefs(session: AnySession, first: date, last: date) -> list[ReliefRow]:
    rows = session.scalars(
        select(Relief).where(
            Relief.revoked_at.is_(None),
            Relief.kind.in_((ReliefKind.EXEMPTION, ReliefKind.REDUCTION)),
            Relief.valid_from <= last,
            Relief.valid_to >= first,
        )
    )
    reliefs = []
    for relief in rows:
        exempt = relief.kind is ReliefKind.EXEMPTION
        pct = Decimal(100) if exempt else Decimal(relief.reduction_pct or 0)
        word = "pembebasan" if exempt else f"pengurangan {pct.normalize():f}%"
        reliefs.append(
            ReliefRow(
                relief.id,
                relief.market_id,
                relief.block_id,
                relief.vendor_id,
                relief.valid_from,
                relief.valid_to,
                ReliefTerms(relief.id, pct, f"{word} {relief.decision_number}"),
            )
        )
    return reliefs


def market_codes(session: AnySession) -> dict[int, str]:
    return {row[0]: row[1] for row in session.execute(select(Market.id, Market.code))}


# --- pricing a placement -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pricing:
    lines: tuple[PricedLine, ...]
    principal_idr: int
    illustrative: bool
    line_rows: tuple[tuple[Any, ...], ...]


class Skip(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _display(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(QUANTUM)


LINE_COLUMNS: Final = (
    "bill_id",
    "position",
    "component",
    "tariff_id",
    "basis",
    "service_from",
    "service_to",
    "days_covered",
    "month_length",
    "billable_days",
    "area_m2",
    "unit",
    "quantity",
    "rate_idr",
    "tntd_idr_per_m2",
    "relief_id",
    "relief_pct",
    "amount_idr",
    "legal_basis",
)


def _line_row(line: PricedLine) -> tuple[Any, ...]:
    """A line's columns after ``bill_id, position``, computed once per pricing."""
    return (
        line.component,
        line.tariff_id,
        line.basis,
        line.first,
        line.last,
        line.days_covered,
        line.month_length,
        _display(line.billable_days),
        line.area_m2,
        line.unit,
        _display(line.quantity),
        line.rate_idr,
        line.tntd_idr_per_m2,
        line.relief_id,
        line.relief_pct,
        line.amount_idr,
        line.legal_basis,
    )


def _relief_pieces(
    first: date, last: date, reliefs: Sequence[ReliefRow]
) -> list[tuple[date, date, ReliefTerms | None]]:
    """``first..last`` cut where reliefs start and end; the largest relief wins on each day."""
    if not reliefs:
        return [(first, last, None)]
    cuts = {first, last + timedelta(days=1)}
    for relief in reliefs:
        cuts.update({relief.first, relief.last + timedelta(days=1)})
    points = sorted(c for c in cuts if first <= c <= last + timedelta(days=1))
    pieces = []
    for start, stop in pairwise(points):
        covering = [r.terms for r in reliefs if r.first <= start <= r.last]
        best = max(covering, key=lambda t: t.pct, default=None)
        pieces.append((start, stop - timedelta(days=1), best))
    return pieces


def price_span(
    plan: Sequence[PlanPiece],
    first: date,
    last: date,
    *,
    area_m2: Decimal,
    tntd_idr_per_m2: int | None,
    reliefs: Sequence[ReliefRow],
    month_length: int | None,
    month_days: MonthDays,
    rounding: RoundingRule,
) -> Pricing:
    """Price the days ``first..last`` of a placement against its market's tariff plan."""
    segments: list[Segment] = []
    for piece in plan:
        start, end = max(piece.first, first), min(piece.last, last)
        if start > end:
            continue
        for required in PRICED_COMPONENTS_REQUIRED:
            if required not in piece.tariffs:
                raise Skip(SkipReason.NO_TARIFF, f"no {required.value} tariff on {start}")
        for relief_start, relief_end, relief in _relief_pieces(start, end, reliefs):
            for tariff in piece.tariffs.values():
                segments.append(Segment(relief_start, relief_end, tariff, relief))
    if not segments:
        raise Skip(SkipReason.NO_TARIFF, f"no tariff from {first} to {last}")
    try:
        lines = price_segments(
            segments,
            area_m2=area_m2,
            tntd_idr_per_m2=tntd_idr_per_m2,
            month_length=month_length,
            month_days=month_days,
            rounding=rounding,
        )
    except PricingError as error:
        raise Skip(SkipReason.NO_TNTD, str(error)) from None
    principal = sum(line.amount_idr for line in lines)
    if principal == 0:
        raise Skip(SkipReason.EXEMPT, "nothing owed after reliefs")
    illustrative = any(s.tariff.illustrative for s in segments)
    return Pricing(tuple(lines), principal, illustrative, tuple(_line_row(line) for line in lines))


# --- drafts ------------------------------------------------------------------------------------


class BillDraft(NamedTuple):
    row: PlacementRow
    kind: BillKind
    period: Period
    period_start: date
    period_end: date
    service_from: date
    service_to: date
    due_on: date
    pricing: Pricing


@dataclass
class _Context:
    """Everything a run reads once: settings, tariff plans, reliefs, markets, due rules."""

    period: Period
    settings: levy_config.LevySettings
    markets: Mapping[int, str]
    class_history: Mapping[int, list[tuple[date, date | None, str]]]
    versions: list[Any]
    reliefs: list[ReliefRow]
    issued_on: date
    today: date
    plans: dict[tuple[int, StallType], list[PlanPiece]] = field(default_factory=dict)
    cache: dict[tuple[Any, ...], Pricing | Skip] = field(default_factory=dict)
    due_rules: dict[tuple[int, StallType], Any] = field(default_factory=dict)
    monthly_due: dict[tuple[int, StallType], date] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.first = self.period.first_day
        self.last = self.period.last_day

    @classmethod
    def load(cls, session: AnySession, period: Period, issued_on: date) -> _Context:
        markets = market_codes(session)
        history: dict[int, list[tuple[date, date | None, str]]] = defaultdict(list)
        for market_id, valid_from, valid_to, market_class in session.execute(
            select(
                MarketClassPeriod.market_id,
                MarketClassPeriod.valid_from,
                MarketClassPeriod.valid_to,
                MarketClassPeriod.market_class,
            )
        ):
            history[market_id].append((valid_from, valid_to, market_class.value))
        return cls(
            period=period,
            settings=levy_config.current(),
            markets=markets,
            class_history=history,
            versions=tariff_rows(session),
            reliefs=_principal_reliefs(session, period.first_day, period.last_day),
            issued_on=issued_on,
            today=clock.today_wib(),
        )

    def plan(self, market_id: int, stall_type: StallType) -> list[PlanPiece]:
        key = (market_id, stall_type)
        if key not in self.plans:
            self.plans[key] = plan_period(
                self.period.first_day,
                self.period.last_day,
                market_id=market_id,
                stall_type=stall_type.value,
                class_on=self.class_history.get(market_id, []),
                versions=self.versions,
            )
        return self.plans[key]

    def due_rule(self, market_id: int, stall_type: StallType) -> Any:
        key = (market_id, stall_type)
        if key not in self.due_rules:
            self.due_rules[key] = due_rule_for(
                self.settings.due_rules, self.markets[market_id], stall_type.value
            )
        return self.due_rules[key]

    def price(self, row: PlacementRow, first: date, last: date, daily: bool) -> Pricing:
        reliefs = (
            tuple(
                r for r in self.reliefs if r.first <= last and r.last >= first and r.applies_to(row)
            )
            if self.reliefs
            else ()
        )
        key = (
            row.market_id,
            row.stall_type,
            row.area_m2,
            row.tntd_idr_per_m2,
            first,
            last,
            daily,
            tuple(r.id for r in reliefs),
        )
        cached = self.cache.get(key)
        if cached is None:
            try:
                cached = price_span(
                    self.plan(row.market_id, row.stall_type),
                    first,
                    last,
                    area_m2=row.area_m2,
                    tntd_idr_per_m2=row.tntd_idr_per_m2,
                    reliefs=reliefs,
                    month_length=None if daily else self.period.days,
                    month_days=self.settings.month_days,
                    rounding=self.settings.rounding,
                )
            except Skip as skip:
                cached = skip
            self.cache[key] = cached
        if isinstance(cached, Skip):
            raise cached
        return cached

    def monthly(self, row: PlacementRow) -> BillDraft | None:
        first, last = self.first, self.last
        span = row.coverage(first, last)
        if span is None:
            return None
        pricing = self.price(row, span[0], span[1], daily=False)
        key = (row.market_id, row.stall_type)
        due_on = self.monthly_due.get(key)
        if due_on is None:
            rule = self.due_rule(row.market_id, row.stall_type)
            due_on = self.monthly_due[key] = monthly_due_on(self.period, rule, self.issued_on)
        return BillDraft(
            row, BillKind.MONTHLY, self.period, first, last, span[0], span[1], due_on, pricing
        )

    def daily(self, row: PlacementRow, day: date) -> BillDraft:
        pricing = self.price(row, day, day, daily=True)
        return BillDraft(
            row=row,
            kind=BillKind.DAILY,
            period=self.period,
            period_start=day,
            period_end=day,
            service_from=day,
            service_to=day,
            due_on=max(daily_due_on(day, self.due_rule(row.market_id, row.stall_type)), day),
            pricing=pricing,
        )


def _ticket_days(row: PlacementRow, period: Period, today: date) -> list[date]:
    span = row.coverage(period.first_day, min(period.last_day, today))
    if span is None:
        return []
    return [span[0] + timedelta(days=n) for n in range((span[1] - span[0]).days + 1)]


# --- the run -----------------------------------------------------------------------------------


@dataclass
class RunSummary:
    period: str
    market: str | None
    dry_run: bool
    bills: int = 0
    lines: int = 0
    principal_idr: int = 0
    monthly: int = 0
    daily: int = 0
    already_billed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_examples: list[dict[str, Any]] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    by_market: dict[str, dict[str, int]] = field(default_factory=dict)
    digest: str = ""
    run_id: int | None = None
    # Paid at once from the vendors' credit (the payment core); a dry run does not apply it.
    credit_applied_idr: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "period": self.period,
            "market": self.market,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "bills": self.bills,
            "lines": self.lines,
            "principal_idr": self.principal_idr,
            "monthly": self.monthly,
            "daily": self.daily,
            "already_billed": self.already_billed,
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_examples": self.skipped_examples,
            "stale": self.stale,
            "by_market": dict(sorted(self.by_market.items())),
            "digest": self.digest,
            "credit_applied_idr": self.credit_applied_idr,
        }


def _parse_period(value: object) -> Period:
    try:
        return Period.parse(value)
    except RuleError as error:
        raise invalid("period", error.reason, str(error)) from None


def is_closed(session: AnySession, period: Period) -> bool:
    found = session.scalar(
        select(BillingPeriodClosure.id).where(BillingPeriodClosure.period == period.label)
    )
    return found is not None


def _refuse_closed(session: AnySession, period: Period) -> None:
    if is_closed(session, period):
        raise conflict(
            "period",
            "closed",
            f"{period.label} is closed for billing; correct a bill by voiding and reissuing it",
        )


def _market_id(session: AnySession, market_code: str | None) -> int | None:
    if market_code is None:
        return None
    market_id = session.scalar(select(Market.id).where(Market.code == market_code))
    if market_id is None:
        raise invalid("market", "unknown", f"no market {market_code!r}")
    return market_id


def _existing(
    session: AnySession, period: Period, market_id: int | None
) -> tuple[dict[int, tuple[date, date, str]], set[tuple[int, date]]]:
    query = select(
        Bill.placement_id,
        Bill.kind,
        Bill.period_start,
        Bill.service_from,
        Bill.service_to,
        Bill.number,
    ).where(Bill.period == period.label, Bill.status != BillStatus.VOIDED)
    if market_id is not None:
        query = query.where(Bill.market_id == market_id)
    monthly: dict[int, tuple[date, date, str]] = {}
    daily: set[tuple[int, date]] = set()
    for placement_id, kind, period_start, service_from, service_to, number in session.execute(
        query
    ):
        if BillKind(kind) is BillKind.MONTHLY:
            monthly[placement_id] = (service_from, service_to, number)
        else:
            daily.add((placement_id, period_start))
    return monthly, daily


def _drafts(
    context: _Context,
    rows: Iterable[PlacementRow],
    monthly: Mapping[int, tuple[date, date, str]],
    daily: set[tuple[int, date]],
    summary: RunSummary,
) -> list[BillDraft]:
    drafts: list[BillDraft] = []
    period = context.period

    def skip(row: PlacementRow, error: Skip) -> None:
        summary.skipped[error.reason] = summary.skipped.get(error.reason, 0) + 1
        if len(summary.skipped_examples) < MAX_EXAMPLES:
            summary.skipped_examples.append(
                {"placement_id": row.placement_id, "reason": error.reason, "detail": error.detail}
            )

    for row in rows:
        if row.stall_type is StallType.PELATARAN:
            for day in _ticket_days(row, period, context.today):
                if (row.placement_id, day) in daily:
                    summary.already_billed += 1
                    continue
                try:
                    drafts.append(context.daily(row, day))
                except Skip as error:
                    skip(row, error)
            continue
        held = monthly.get(row.placement_id)
        if held is not None:
            summary.already_billed += 1
            span = row.coverage(period.first_day, period.last_day)
            if span != (held[0], held[1]) and len(summary.stale) < 200:
                summary.stale.append(held[2])
            continue
        try:
            draft = context.monthly(row)
        except Skip as error:
            skip(row, error)
            continue
        if draft is not None:
            drafts.append(draft)
    return drafts


def _prefix(kind: BillKind, period: Period, market_code: str) -> str:
    word = "SKRD" if kind is BillKind.MONTHLY else "KARCIS"
    return f"{word}/{period.year:04d}/{period.month:02d}/{market_code}/"


def _next_numbers(session: AnySession, period: Period) -> dict[tuple[int, BillKind], int]:
    rows = session.execute(
        select(Bill.market_id, Bill.kind, func.max(Bill.number_seq))
        .where(Bill.period == period.label)
        .group_by(Bill.market_id, Bill.kind)
    )
    return {(market_id, BillKind(kind)): int(top) for market_id, kind, top in rows}


def _number(
    drafts: Sequence[BillDraft],
    markets: Mapping[int, str],
    taken: Mapping[tuple[int, BillKind], int],
) -> list[tuple[str, int]]:
    counters = dict(taken)
    prefixes: dict[tuple[int, BillKind], str] = {}
    numbers = []
    for draft in drafts:
        key = (draft.row.market_id, draft.kind)
        seq = counters.get(key, 0) + 1
        if seq > 999_999:
            raise conflict("period", "numbers_exhausted", "more than 999,999 bills in a month")
        counters[key] = seq
        prefix = prefixes.get(key)
        if prefix is None:
            prefix = prefixes[key] = _prefix(draft.kind, draft.period, markets[key[0]])
        numbers.append((f"{prefix}{seq:06d}", seq))
    return numbers


def _order(drafts: list[BillDraft], markets: Mapping[int, str]) -> list[BillDraft]:
    return sorted(
        drafts,
        key=lambda d: (markets[d.row.market_id], d.kind.value, d.row.placement_id, d.period_start),
    )


def _digest(drafts: Sequence[BillDraft], numbers: Sequence[tuple[str, int]]) -> str:
    text = "".join(
        f"{number}|{draft.row.placement_id}|{draft.period_start.toordinal()}|"
        f"{draft.service_from.toordinal()}|{draft.service_to.toordinal()}|"
        f"{draft.due_on.toordinal()}|{draft.pricing.principal_idr}\n"
        for draft, (number, _seq) in zip(drafts, numbers, strict=True)
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _lock(session: AnySession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BILLING_LOCK_KEY})


# The columns of a bill the run writes, in three groups: per bill; per "shape" (kind, days, type,
# area, due date: shared by many bills, converted once); and per write (the same for every bill).
# The void columns stay NULL.
BILL_OWN: Final = (
    "id",
    "number",
    "number_seq",
    "period",
    "placement_id",
    "vendor_id",
    "stall_id",
    "market_id",
    "block_id",
    "principal_idr",
)
BILL_SHAPE: Final = (
    "kind",
    "period_start",
    "period_end",
    "service_from",
    "service_to",
    "stall_type",
    "area_m2",
    "due_on",
    "illustrative",
)
BILL_COMMON: Final = (
    "issued_on",
    "issued_at",
    "issued_by",
    "run_id",
    "status",
    "month_days_rule",
    "rounding_rule",
    "sanction_rate_pct_per_month",
    "sanction_cap_months",
    "sanction_part_month_counts",
    "replaces_id",
)


def _write(
    session: AnySession,
    drafts: Sequence[BillDraft],
    numbers: Sequence[tuple[str, int]],
    *,
    settings: levy_config.LevySettings,
    issued_on: date,
    actor: str,
    run_id: int | None,
    replaces_id: int | None = None,
) -> list[int]:
    """Insert bills and their lines in bulk (call after the transaction's first write, see
    :func:`retribusi.levy.bulk.allocate_ids`); returns the bill ids in draft order."""
    if not drafts:
        return []
    if len(drafts) > 1:
        widen_cache(session)
    bills = RowWriter(session, BILLS, BILL_OWN + BILL_SHAPE + BILL_COMMON)
    common = bills.part(BILL_COMMON)(
        (
            issued_on,
            clock.now(),
            actor,
            run_id,
            # Bills are born issued; every later change goes through transition().
            BillStatus.ISSUED,
            settings.month_days.value,
            settings.rounding.value,
            settings.sanction.rate_pct_per_month,
            settings.sanction.cap_months,
            settings.sanction.part_month_counts,
            replaces_id,
        )
    )
    own_of = bills.part(BILL_OWN, trusted=True)
    shape_of = bills.part(BILL_SHAPE)
    shapes: dict[tuple[Any, ...], Part] = {}
    label = drafts[0].period.label  # one write is one period
    ids = allocate_ids(session, BILLS, len(drafts))
    rows = []
    for bill_id, draft, (number, seq) in zip(ids, drafts, numbers, strict=True):
        row = draft.row
        shape = (
            draft.kind,
            draft.period_start,
            draft.period_end,
            draft.service_from,
            draft.service_to,
            row.stall_type,
            row.area_m2,
            draft.due_on,
            draft.pricing.illustrative,
        )
        converted = shapes.get(shape)
        if converted is None:
            converted = shapes[shape] = shape_of(shape)
        own = own_of(
            (
                bill_id,
                number,
                seq,
                label,
                row.placement_id,
                row.vendor_id,
                row.stall_id,
                row.market_id,
                row.block_id,
                draft.pricing.principal_idr,
            )
        )
        rows.append((own, converted, common))
    bills.write(rows)
    _write_lines(session, ids, drafts)
    return ids


def _write_lines(session: AnySession, ids: Sequence[int], drafts: Sequence[BillDraft]) -> None:
    lines = RowWriter(session, LINES, LINE_COLUMNS)
    key_of = lines.part(LINE_COLUMNS[:2], trusted=True)
    template_of = lines.part(LINE_COLUMNS[2:])
    # Line templates are shared by every bill priced alike: convert each pricing's once.
    templates: dict[int, list[Part]] = {}
    rows: list[tuple[Part, Part]] = []
    for bill_id, draft in zip(ids, drafts, strict=True):
        key = id(draft.pricing)
        converted = templates.get(key)
        if converted is None:
            converted = templates[key] = [template_of(t) for t in draft.pricing.line_rows]
        rows += [
            (key_of((bill_id, position)), template)
            for position, template in enumerate(converted, start=1)
        ]
    lines.write(rows)


def issue_bills(
    period: str,
    *,
    market_code: str | None = None,
    dry_run: bool = False,
    actor: str,
    issued_on: date | None = None,
) -> RunSummary:
    """Bill every placement of ``period`` (``YYYY-MM``) that has no live bill for it yet.

    ``issued_on`` (default today, Jakarta) dates the bills and sets their due dates; the demo
    issues past months on their first day. A dry run returns the same summary, digest included,
    and writes nothing.
    """
    parsed = _parse_period(period)
    session = db.session
    today = clock.today_wib()
    issued_on = issued_on or today
    if issued_on > today:
        raise invalid("issued_on", "future", "bills cannot be dated in the future")
    try:
        with transaction(session):
            if not dry_run:
                _lock(session)
            _refuse_closed(session, parsed)
            market_id = _market_id(session, market_code)
            summary = RunSummary(parsed.label, market_code, dry_run)
            context = _Context.load(session, parsed, issued_on)
            rows = _placements(session, parsed.first_day, parsed.last_day, market_id)
            monthly, daily = _existing(session, parsed, market_id)
            drafts = _order(_drafts(context, rows, monthly, daily, summary), context.markets)
            numbers = _number(drafts, context.markets, _next_numbers(session, parsed))
            _summarise(summary, drafts, numbers, context.markets)
            if dry_run or not drafts:
                session.rollback()
                return summary
            run = BillingRun(
                period=parsed.label,
                market_id=market_id,
                started_at=clock.now(),
                actor=actor,
                bills_count=summary.bills,
                lines_count=summary.lines,
                principal_idr=summary.principal_idr,
                digest=summary.digest,
            )
            session.add(run)
            session.flush()
            summary.run_id = run.id
            _write(
                session,
                drafts,
                numbers,
                settings=context.settings,
                issued_on=issued_on,
                actor=actor,
                run_id=run.id,
            )
            summary.credit_applied_idr = payment_ledger().apply_credit(
                session, {d.row.vendor_id for d in drafts}, as_of=today, actor=actor
            )
            record_event(
                session,
                actor=actor,
                action="billing.run",
                subject_type="billing_run",
                subject_id=run.id,
                details={
                    k: v
                    for k, v in summary.to_dict().items()
                    if k not in {"skipped_examples", "stale", "ok"}
                },
            )
    except IntegrityError as error:
        raise conflict(
            "period", "concurrent", "another billing run wrote the same bills; run it again"
        ) from error
    return summary


def _summarise(
    summary: RunSummary,
    drafts: Sequence[BillDraft],
    numbers: Sequence[tuple[str, int]],
    markets: Mapping[int, str],
) -> None:
    by_market: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for draft in drafts:
        principal = draft.pricing.principal_idr
        entry = by_market[draft.row.market_id]
        entry[0] += 1
        entry[1] += principal
        summary.lines += len(draft.pricing.line_rows)
        summary.principal_idr += principal
        if draft.kind is BillKind.MONTHLY:
            summary.monthly += 1
    summary.bills = len(drafts)
    summary.daily = summary.bills - summary.monthly
    summary.by_market = {
        markets[market_id]: {"bills": bills, "principal_idr": principal}
        for market_id, (bills, principal) in by_market.items()
    }
    summary.digest = _digest(drafts, numbers)


def close_period(period: str, *, actor: str) -> BillingPeriodClosure:
    """Close a past month: the billing run refuses it from then on."""
    parsed = _parse_period(period)
    if parsed.last_day >= clock.today_wib():
        raise invalid("period", "not_over", f"{parsed.label} is not over yet")
    with transaction(db.session):
        _refuse_closed(db.session, parsed)
        closure = BillingPeriodClosure(period=parsed.label, closed_at=clock.now(), closed_by=actor)
        db.session.add(closure)
        db.session.flush()
        record_event(
            db.session,
            actor=actor,
            action="billing.period_closed",
            subject_type="billing_period",
            subject_id=parsed.label,
        )
    return closure


# --- status ------------------------------------------------------------------------------------

_TRANSITIONS: Final = {
    BillStatus.ISSUED: {BillStatus.PARTIALLY_PAID, BillStatus.PAID, BillStatus.VOIDED},
    BillStatus.PARTIALLY_PAID: {BillStatus.ISSUED, BillStatus.PAID},
    BillStatus.PAID: {BillStatus.ISSUED, BillStatus.PARTIALLY_PAID},
    BillStatus.VOIDED: set(),
}


def _move(bill: Bill, to: BillStatus) -> BillStatus:
    """Guard and set a status; returns the one it had."""
    if to not in _TRANSITIONS[bill.status]:
        raise conflict(
            "status", "transition", f"a bill cannot go from {bill.status.value} to {to.value}"
        )
    before = bill.status
    bill.status = to
    return before


def transition(
    session: AnySession,
    bill: Bill,
    to: BillStatus,
    *,
    actor: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """The one place a bill's status changes on its own. Voiding needs a reason; every move is
    audited (moves a payment causes are audited with it: :func:`settle_statuses`)."""
    if to is BillStatus.VOIDED and not reason:
        raise invalid("reason", "required", "voiding a bill needs a reason")
    before = _move(bill, to)
    if to is BillStatus.VOIDED:
        bill.voided_at = clock.now()
        bill.voided_by = actor
        bill.void_reason = reason
    record_event(
        session,
        actor=actor,
        action="bill.voided" if to is BillStatus.VOIDED else "bill.status_changed",
        subject_type="bill",
        subject_id=bill.id,
        details={
            "number": bill.number,
            "from": before.value,
            "to": to.value,
            **({"reason": reason} if reason else {}),
            **dict(details or {}),
        },
    )


def _locked_bill(session: AnySession, bill_id: int) -> Bill:
    query = select(Bill).where(Bill.id == bill_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    bill = session.scalars(query).first()
    if bill is None:
        raise not_found("bill", f"no bill {bill_id}")
    return bill


def _status_for(bill: Bill, account: BillFigures) -> BillStatus:
    """What a bill's status must be, given its figures; refuses allocations beyond what it owes."""
    paid_principal, paid_sanction = account.principal_paid_idr, account.sanction_paid_idr
    if bill.status is BillStatus.VOIDED:
        if paid_principal or paid_sanction:
            raise conflict("bill", "voided", f"{bill.number} is voided and cannot be paid")
        return bill.status
    if paid_principal > bill.principal_idr:
        raise conflict("bill", "over_allocated", f"{bill.number}: more principal than owed")
    if paid_sanction > account.sanction_idr:
        raise conflict("bill", "over_allocated", f"{bill.number}: more sanction than owed")
    if paid_principal == 0 and paid_sanction == 0:
        return BillStatus.ISSUED
    if account.principal_outstanding_idr == 0 and account.sanction_outstanding_idr == 0:
        return BillStatus.PAID
    return BillStatus.PARTIALLY_PAID


def sync_bill_status(session: AnySession, bill_id: int, *, as_of: date, actor: str) -> BillStatus:
    """Bring a bill's status in line with the payment ledger, inside the caller's transaction.

    The payment core calls this after it writes or reverses allocations (and flushes): paid if the
    principal and the sanction due on ``as_of`` are covered, partially paid if anything is, issued
    if nothing is. Refuses allocations beyond what the bill owes.
    """
    bill = _locked_bill(session, bill_id)
    account = accounts_for(session, [bill], as_of)[bill.id].figures(as_of)
    target = _status_for(bill, account)
    if target is not bill.status:
        transition(
            session,
            bill,
            target,
            actor=actor,
            details={
                "principal_paid_idr": account.principal_paid_idr,
                "sanction_paid_idr": account.sanction_paid_idr,
            },
        )
    return bill.status


@dataclass(frozen=True)
class StatusMove:
    bill_id: int
    number: str
    before: BillStatus
    after: BillStatus

    def to_dict(self) -> dict[str, Any]:
        return {"bill": self.number, "from": self.before.value, "to": self.after.value}


def settle_statuses(changed: Sequence[tuple[Bill, BillFigures]]) -> list[StatusMove]:
    """Set the statuses of bills a payment just changed, from their figures after it (computed
    by the caller from :func:`open_accounts`, so nothing is read again). The caller records one
    audit event for the payment that names the moves returned."""
    moves = []
    for bill, account in changed:
        target = _status_for(bill, account)
        if target is not bill.status:
            moves.append(StatusMove(bill.id, bill.number, _move(bill, target), target))
    return moves


# --- what a vendor owes ------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenBill:
    """An unpaid bill's account on a date, for the payment core to allocate against."""

    bill_id: int
    number: str
    vendor_id: int
    market_id: int
    kind: BillKind
    period: str
    service_from: date
    service_to: date
    due_on: date
    status: BillStatus
    figures: BillFigures

    @property
    def principal_outstanding_idr(self) -> int:
        return self.figures.principal_outstanding_idr

    @property
    def sanction_outstanding_idr(self) -> int:
        return self.figures.sanction_outstanding_idr

    @property
    def outstanding_idr(self) -> int:
        return self.figures.outstanding_idr


# Built once, as a payment reads it every time (see payments.ledger).
_OPEN_BILLS = (
    select(Bill)
    .where(Bill.vendor_id == bindparam("vendor_id"), Bill.status.in_(OPEN_STATUSES))
    .order_by(Bill.due_on, Bill.period_start, Bill.id)
)
_OPEN_BILLS_LOCKED = _OPEN_BILLS.with_for_update()


def open_accounts(
    session: AnySession, vendor_id: int, as_of: date, *, lock: bool = False
) -> list[tuple[Bill, Account]]:
    """A vendor's issued and partly paid bills with something left on ``as_of``, oldest first
    (due date, then period, then id), each with its account. ``lock`` locks the rows
    (PostgreSQL) so two payments for one vendor allocate one after the other."""
    locked = lock and session.get_bind().dialect.name == "postgresql"
    query = _OPEN_BILLS_LOCKED if locked else _OPEN_BILLS
    bills = list(session.scalars(query, {"vendor_id": vendor_id}))
    accounts = accounts_for(session, bills, as_of)
    return [
        (bill, accounts[bill.id])
        for bill in bills
        if accounts[bill.id].figures(as_of).outstanding_idr > 0
    ]


def open_bills_for_vendor(
    vendor_id: int,
    as_of: date,
    *,
    session: AnySession | None = None,
    for_update: bool = False,
) -> list[OpenBill]:
    """A vendor's issued and partly paid bills, oldest first, each with principal and sanction
    outstanding on ``as_of`` (see :func:`open_accounts`)."""
    session = session or db.session
    return [
        OpenBill(
            bill_id=bill.id,
            number=bill.number,
            vendor_id=bill.vendor_id,
            market_id=bill.market_id,
            kind=bill.kind,
            period=bill.period,
            service_from=bill.service_from,
            service_to=bill.service_to,
            due_on=bill.due_on,
            status=bill.status,
            figures=account.figures(as_of),
        )
        for bill, account in open_accounts(session, vendor_id, as_of, lock=for_update)
    ]


# --- one bill at a time: tickets, void, reissue ------------------------------------------------


def get_bill(bill_id: int, user: User | None = None) -> Bill:
    """A bill, if ``user`` may see it: staff in its market, or the vendor it is addressed to."""
    bill = db.session.get(Bill, bill_id)
    if bill is None:
        raise not_found("bill", f"no bill {bill_id}")
    if user is not None:
        check_bill_access(bill, user)
    return bill


def get_bill_by_number(number: str) -> Bill | None:
    return db.session.scalars(select(Bill).where(Bill.number == number[:60])).first()


def check_bill_access(bill: Bill, user: User) -> None:
    if user.role is Role.VENDOR:
        if bill.vendor.user_id != user.id:
            raise Forbidden("this bill is not yours")
        return
    require_market(user, bill.market.code)


def _single_draft(
    session: AnySession,
    row: PlacementRow,
    kind: BillKind,
    period: Period,
    day: date | None,
    issued_on: date,
) -> BillDraft | None:
    context = _Context.load(session, period, issued_on)
    if kind is BillKind.DAILY:
        assert day is not None
        return context.daily(row, day)
    return context.monthly(row)


def _write_one(
    session: AnySession,
    draft: BillDraft,
    *,
    actor: str,
    issued_on: date,
    replaces_id: int | None = None,
) -> Bill:
    numbers = _number([draft], market_codes(session), _next_numbers(session, draft.period))
    settings = levy_config.current()
    (bill_id,) = _write(
        session,
        [draft],
        numbers,
        settings=settings,
        issued_on=issued_on,
        actor=actor,
        run_id=None,
        replaces_id=replaces_id,
    )
    payment_ledger().apply_credit(
        session, [draft.row.vendor_id], as_of=clock.today_wib(), actor=actor
    )
    bill = session.get(Bill, bill_id)
    assert bill is not None
    return bill


def _market_code(session: AnySession, market_id: int) -> str:
    return str(session.scalar(select(Market.code).where(Market.id == market_id)))


def _live_bill(
    session: AnySession, placement_id: int, kind: BillKind, period_start: date
) -> int | None:
    found: int | None = session.scalar(
        select(Bill.id).where(
            Bill.placement_id == placement_id,
            Bill.kind == kind,
            Bill.period_start == period_start,
            Bill.status != BillStatus.VOIDED,
        )
    )
    return found


def record_ticket(
    placement_id: int, *, day: date | None = None, user: User | None, actor: str
) -> Bill:
    """An officer's karcis for a day of use of a pelataran, issued on the spot."""
    session = db.session
    today = clock.today_wib()
    day = day or today
    if day > today:
        raise invalid("day", "future", "a ticket is for today or a past day")
    try:
        with transaction(session):
            _lock(session)
            row = _placement_row(session, placement_id)
            if row is None:
                raise not_found("placement", f"no placement {placement_id}")
            if user is not None:
                require_market(user, _market_code(session, row.market_id))
            if row.stall_type is not StallType.PELATARAN:
                raise invalid("placement", "not_pelataran", "karcis are for pelataran only")
            if row.coverage(day, day) is None:
                raise invalid("day", "not_covered", f"the SHP does not cover {day}")
            period = Period.of(day)
            _refuse_closed(session, period)
            if _live_bill(session, placement_id, BillKind.DAILY, day) is not None:
                raise conflict("day", "already_billed", f"a karcis for {day} exists already")
            try:
                draft = _single_draft(session, row, BillKind.DAILY, period, day, day)
            except Skip as skip:
                raise conflict("placement", skip.reason, skip.detail) from None
            assert draft is not None
            bill = _write_one(session, draft, actor=actor, issued_on=day)
            record_event(
                session,
                actor=actor,
                action="bill.ticket_issued",
                subject_type="bill",
                subject_id=bill.id,
                details={
                    "number": bill.number,
                    "day": day.isoformat(),
                    "principal_idr": bill.principal_idr,
                },
            )
    except IntegrityError as error:
        raise conflict("day", "already_billed", f"a karcis for {day} exists already") from error
    return bill


@dataclass(frozen=True)
class VoidResult:
    voided: Bill
    reissued: Bill | None
    not_reissued_reason: str | None = None


def void_bill(
    bill_id: int, *, reason: str, actor: str, reissue: bool = False, user: User | None = None
) -> VoidResult:
    """Void a bill that nothing has been paid on, with a reason; optionally reissue it at once,
    priced with today's tariffs, reliefs and placement (a correction, allowed in a closed month)."""
    reason = (reason or "").strip()
    if not 10 <= len(reason) <= 300:
        raise invalid("reason", "required", "give a reason of 10-300 characters")
    session = db.session
    today = clock.today_wib()
    with transaction(session):
        _lock(session)
        bill = _locked_bill(session, bill_id)
        if user is not None:
            check_bill_access(bill, user)
        if bill.status is BillStatus.VOIDED:
            raise conflict("bill", "already_voided", f"{bill.number} is already voided")
        paid = payment_ledger().paid_portions(session, [bill.id]).get(bill.id, ())
        if bill.status is not BillStatus.ISSUED or any(
            p.principal_idr or p.sanction_idr for p in paid
        ):
            raise conflict(
                "bill",
                "has_payments",
                f"{bill.number} has payments: reverse them before voiding it",
            )
        transition(session, bill, BillStatus.VOIDED, actor=actor, reason=reason)
        session.flush()
        reissued = None
        not_reissued = None
        if reissue:
            row = _placement_row(session, bill.placement_id)
            assert row is not None
            period = Period.parse(bill.period)
            day = bill.period_start if bill.kind is BillKind.DAILY else None
            try:
                draft = _single_draft(session, row, bill.kind, period, day, today)
            except Skip as skip:
                draft, not_reissued = None, skip.reason
            if draft is None:
                not_reissued = not_reissued or "not_covered"
            else:
                reissued = _write_one(
                    session, draft, actor=actor, issued_on=today, replaces_id=bill.id
                )
                record_event(
                    session,
                    actor=actor,
                    action="bill.reissued",
                    subject_type="bill",
                    subject_id=reissued.id,
                    details={
                        "number": reissued.number,
                        "replaces": bill.number,
                        "reason": reason,
                        "principal_idr": reissued.principal_idr,
                        "previous_principal_idr": bill.principal_idr,
                    },
                )
    return VoidResult(bill, reissued, not_reissued)


def bill_figures(bill: Bill, as_of: date | None = None) -> BillFigures:
    """One bill's account today (or on ``as_of``)."""
    return figures_for(db.session, [bill], as_of or clock.today_wib())[bill.id]


def vendor_levy_summary(vendor: Vendor) -> dict[str, Any]:
    """What a vendor owes today, for ``vendors show`` and the vendor API (a summary part)."""
    opened = open_bills_for_vendor(vendor.id, clock.today_wib())
    return {
        "bills": {
            "open": [
                {
                    "number": b.number,
                    "period": b.period,
                    "due_on": b.due_on.isoformat(),
                    "principal_outstanding_idr": b.principal_outstanding_idr,
                    "sanction_outstanding_idr": b.sanction_outstanding_idr,
                    "outstanding_idr": b.outstanding_idr,
                }
                for b in opened[:MAX_SUMMARY_BILLS]
            ],
            "open_count": len(opened),
            "principal_outstanding_idr": sum(b.principal_outstanding_idr for b in opened),
            "sanction_outstanding_idr": sum(b.sanction_outstanding_idr for b in opened),
            "outstanding_idr": sum(b.outstanding_idr for b in opened),
        }
    }
