"""The levy's arithmetic, pure: periods, month length, rounding, priced lines, due dates, sanctions.

Nothing here touches Flask or the database, so every rule can be tested with known figures and
with hypothesis. Amounts are whole rupiah ``int``; rates are ``Decimal``; intermediate amounts are
exact ``Fraction``s, rounded once, by a named rule, where a line's amount is fixed.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from typing import Any, Final


class Component(StrEnum):
    """What a tariff line charges for."""

    PELAYANAN_PASAR = "pelayanan_pasar"  # retribusi pelayanan pasar (market service)
    PERSAMPAHAN = "persampahan"  # waste/cleaning, billed with the market levy in Solo
    LAINNYA = "lainnya"  # room for others (a flat electricity charge, ...)


class TariffBasis(StrEnum):
    """How a tariff's ``rate`` turns into rupiah."""

    PER_M2_DAY = "per_m2_day"  # rate = Rp per m² per day
    TNTD_PCT_DAY = "tntd_pct_day"  # rate = percent of the stall's TNTD (Rp/m²) per day
    PER_DAY = "per_day"  # rate = Rp per day, whatever the area


class RoundingRule(StrEnum):
    HALF_UP = "half_up"  # Rp0.5 and above rounds up (what people expect)
    HALF_EVEN = "half_even"  # banker's rounding
    DOWN = "down"  # always in the vendor's favour
    UP = "up"  # always in the treasury's favour


class MonthDays(StrEnum):
    """How many days a monthly bill charges for a whole month."""

    ACTUAL = "actual"  # the calendar days of the month (28-31)
    THIRTY = "30"  # always 30; a part month is its share of 30


class AgeBucket(StrEnum):
    D0_30 = "0-30"
    D31_90 = "31-90"
    D91_180 = "91-180"
    D181_365 = "181-365"
    OVER_365 = ">365"


AGE_BUCKETS: Final = tuple(AgeBucket)
PERIOD_RE: Final = re.compile(r"([0-9]{4})-([0-9]{2})")
MIN_YEAR: Final = 2000
MAX_YEAR: Final = 2099


class RuleError(ValueError):
    """An input the rules refuse; ``reason`` is a stable code, ``field`` names the input."""

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason


# --- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Period:
    """A billing month, written ``YYYY-MM``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: object) -> Period:
        if not isinstance(text, str) or len(text) != 7 or not PERIOD_RE.fullmatch(text):
            raise RuleError("period", "malformed", f"a period is written YYYY-MM, not {text!r:.20}")
        year, month = int(text[:4]), int(text[5:])
        if not 1 <= month <= 12:
            raise RuleError("period", "malformed", f"{text}: there is no month {month}")
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise RuleError("period", "out_of_range", f"{text}: the year must be 2000-2099")
        return cls(year, month)

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return self.label


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months; the 31st becomes the month's last day if shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def days_inclusive(start: date, end: date) -> int:
    return (end - start).days + 1


# --- configuration values ----------------------------------------------------------------------


def parse_month_days(value: object) -> MonthDays:
    """``BILL_MONTH_DAYS``: ``"actual"`` or ``30`` (int or string)."""
    text = str(value).strip().lower()
    try:
        return MonthDays(text)
    except ValueError:
        raise RuleError(
            "BILL_MONTH_DAYS", "invalid", f"BILL_MONTH_DAYS is 'actual' or 30, not {value!r}"
        ) from None


def parse_rounding(value: object) -> RoundingRule:
    try:
        return RoundingRule(str(value).strip().lower())
    except ValueError:
        names = ", ".join(r.value for r in RoundingRule)
        raise RuleError(
            "BILL_ROUNDING", "invalid", f"BILL_ROUNDING is one of {names}, not {value!r}"
        ) from None


def round_idr(value: Fraction, rule: RoundingRule) -> int:
    """Whole rupiah from an exact non-negative amount, by the named rule."""
    if value < 0:
        raise ValueError("amounts to round are never negative")
    whole = value.numerator // value.denominator
    rest = value - whole
    if rule is RoundingRule.DOWN or rest == 0:
        return whole
    if rule is RoundingRule.UP:
        return whole + 1
    half = Fraction(1, 2)
    if rest > half or (rest == half and (rule is RoundingRule.HALF_UP or whole % 2 == 1)):
        return whole + 1
    return whole


def billable_days(days_covered: int, month_length: int | None, rule: MonthDays) -> Fraction:
    """Days charged for ``days_covered`` days of a month of ``month_length`` days.

    ``month_length`` is ``None`` for a daily ticket: a day of use is one day under either rule.
    Under the 30-day rule a whole month is 30 days and a part month its exact share of 30, so the
    parts of a month always add up to the whole.
    """
    if month_length is None or rule is MonthDays.ACTUAL:
        return Fraction(days_covered)
    return Fraction(30 * days_covered, month_length)


# --- tariffs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TariffTerms:
    """One tariff version as the pricing needs it (a row of ``tariff_versions``)."""

    id: int
    component: Component
    basis: TariffBasis
    rate: Decimal
    legal_basis: str
    default_tntd_idr_per_m2: int | None = None
    illustrative: bool = False


@dataclass(frozen=True)
class TariffScope:
    """Where a version applies: a market (most specific), a market class, or the whole city."""

    market_id: int | None
    market_class: str | None
    stall_type: str
    component: Component

    @property
    def rank(self) -> int:
        return 0 if self.market_id is not None else 1 if self.market_class is not None else 2


@dataclass(frozen=True)
class TariffVersionRow:
    terms: TariffTerms
    scope: TariffScope
    valid_from: date
    valid_to: date | None  # inclusive; None = until a later version starts


def effective_ranges(versions: Iterable[TariffVersionRow]) -> list[tuple[date, date | None, Any]]:
    """For the versions of ONE scope, each version's days: it runs until the next one starts.

    Returns ``(first_day, last_day_or_None, version)`` in date order.
    """
    ordered = sorted(versions, key=lambda v: v.valid_from)
    ranges: list[tuple[date, date | None, Any]] = []
    for index, version in enumerate(ordered):
        end = version.valid_to
        if index + 1 < len(ordered):
            cut = ordered[index + 1].valid_from - timedelta(days=1)
            end = cut if end is None else min(end, cut)
        ranges.append((version.valid_from, end, version))
    return ranges


@dataclass(frozen=True)
class PlanPiece:
    """Days ``first..last`` (inclusive) over which every component's tariff stays the same."""

    first: date
    last: date
    tariffs: Mapping[Component, TariffTerms]


def plan_period(
    first: date,
    last: date,
    *,
    market_id: int,
    stall_type: str,
    class_on: Sequence[tuple[date, date | None, str]],
    versions: Iterable[TariffVersionRow],
) -> list[PlanPiece]:
    """Split ``first..last`` into pieces with constant tariffs for a market and stall type.

    ``class_on`` is the market's class history as ``(from, to_or_None, class)``. For each day and
    component the most specific version wins: the market's own, else its class's, else the city's.
    """
    by_scope: dict[TariffScope, list[TariffVersionRow]] = {}
    for version in versions:
        scope = version.scope
        if scope.stall_type != stall_type:
            continue
        if scope.market_id is not None and scope.market_id != market_id:
            continue
        by_scope.setdefault(scope, []).append(version)
    ranges = {scope: effective_ranges(rows) for scope, rows in by_scope.items()}
    points = _cut_points(first, last, ranges, class_on)
    pieces: list[PlanPiece] = []
    for start, stop in pairwise(points):
        piece = PlanPiece(start, stop - timedelta(days=1), _resolve(ranges, start, class_on))
        if pieces and pieces[-1].tariffs == piece.tariffs:
            pieces[-1] = PlanPiece(pieces[-1].first, piece.last, piece.tariffs)
        else:
            pieces.append(piece)
    return pieces


ScopeRanges = Mapping[TariffScope, list[tuple[date, date | None, Any]]]


def _cut_points(
    first: date,
    last: date,
    ranges: ScopeRanges,
    class_on: Sequence[tuple[date, date | None, str]],
) -> list[date]:
    """Days in ``first..last+1`` on which a version or the market's class starts or stops."""
    spans = [(start, end) for scope_ranges in ranges.values() for start, end, _ in scope_ranges]
    spans += [(start, end) for start, end, _cls in class_on]
    cuts = {first, last + timedelta(days=1)}
    for start, end in spans:
        cuts.add(start)
        if end is not None:
            cuts.add(end + timedelta(days=1))
    return sorted(c for c in cuts if first <= c <= last + timedelta(days=1))


def _resolve(
    ranges: ScopeRanges, day: date, class_on: Sequence[tuple[date, date | None, str]]
) -> dict[Component, TariffTerms]:
    """Each component's version on ``day``: the market's own, else its class's, else the city's."""
    market_class = _class_on(class_on, day)
    chosen: dict[Component, tuple[int, TariffTerms]] = {}
    for scope, scope_ranges in ranges.items():
        if scope.market_class is not None and scope.market_class != market_class:
            continue
        for range_start, range_end, version in scope_ranges:
            if range_start <= day and (range_end is None or day <= range_end):
                held = chosen.get(scope.component)
                if held is None or scope.rank < held[0]:
                    chosen[scope.component] = (scope.rank, version.terms)
    return {component: terms for component, (_rank, terms) in chosen.items()}


def _class_on(history: Sequence[tuple[date, date | None, str]], day: date) -> str | None:
    for start, end, market_class in sorted(history, key=lambda h: h[0], reverse=True):
        if start <= day and (end is None or day <= end):
            return market_class
    return None


# --- pricing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relief:
    """A reduction of principal over some days: 100 % is an exemption."""

    id: int
    pct: Decimal
    reference: str


@dataclass(frozen=True)
class Segment:
    """Days ``first..last`` of one component at one tariff and one relief."""

    first: date
    last: date
    tariff: TariffTerms
    relief: Relief | None = None


@dataclass(frozen=True)
class PricedLine:
    component: Component
    tariff_id: int
    basis: TariffBasis
    first: date
    last: date
    days_covered: int
    month_length: int | None
    billable_days: Fraction
    area_m2: Decimal | None
    unit: str  # "m2_day" or "day"
    quantity: Fraction
    rate_idr: Decimal  # Rp per unit (per m² per day, or per day)
    tntd_idr_per_m2: int | None
    relief_id: int | None
    relief_pct: Decimal
    exact_idr: Fraction
    amount_idr: int
    legal_basis: str


class PricingError(RuleError):
    pass


def unit_rate(tariff: TariffTerms, tntd_idr_per_m2: int | None) -> tuple[Decimal, int | None]:
    """Rp per unit-day for a tariff, and the TNTD it used (kios/los: percent of TNTD)."""
    if tariff.basis is TariffBasis.TNTD_PCT_DAY:
        tntd = tntd_idr_per_m2 if tntd_idr_per_m2 is not None else tariff.default_tntd_idr_per_m2
        if tntd is None:
            raise PricingError(
                "tntd", "no_tntd", "the stall has no TNTD and the tariff gives no default"
            )
        return tariff.rate * tntd / 100, tntd
    return tariff.rate, None


def price_segments(
    segments: Sequence[Segment],
    *,
    area_m2: Decimal,
    tntd_idr_per_m2: int | None,
    month_length: int | None,
    month_days: MonthDays,
    rounding: RoundingRule,
) -> list[PricedLine]:
    """Price a bill's segments into lines.

    Each line's amount is rounded once. Within a component the rule is applied to the running
    exact total (amount = R(total so far) - R(total before)), so the pro-rated parts of a month add
    up to exactly what the whole would cost, and no rounded figure is ever rounded again.
    """
    ordered = sorted(segments, key=lambda s: (s.tariff.component.value, s.first))
    running: dict[Component, Fraction] = {}
    lines: list[PricedLine] = []
    for segment in ordered:
        tariff = segment.tariff
        if segment.last < segment.first:
            raise PricingError("segment", "empty", "a segment ends before it starts")
        covered = days_inclusive(segment.first, segment.last)
        days = billable_days(covered, month_length, month_days)
        rate, tntd = unit_rate(tariff, tntd_idr_per_m2)
        per_area = tariff.basis is not TariffBasis.PER_DAY
        quantity = days * Fraction(area_m2) if per_area else days
        relief_pct = segment.relief.pct if segment.relief else Decimal(0)
        exact = quantity * Fraction(rate) * (1 - Fraction(relief_pct) / 100)
        before = running.get(tariff.component, Fraction(0))
        after = before + exact
        running[tariff.component] = after
        amount = round_idr(after, rounding) - round_idr(before, rounding)
        basis_text = tariff.legal_basis
        if segment.relief is not None:
            basis_text = f"{basis_text}; {segment.relief.reference}"
        lines.append(
            PricedLine(
                component=tariff.component,
                tariff_id=tariff.id,
                basis=tariff.basis,
                first=segment.first,
                last=segment.last,
                days_covered=covered,
                month_length=month_length,
                billable_days=days,
                area_m2=area_m2 if per_area else None,
                unit="m2_day" if per_area else "day",
                quantity=quantity,
                rate_idr=rate,
                tntd_idr_per_m2=tntd,
                relief_id=segment.relief.id if segment.relief else None,
                relief_pct=relief_pct,
                exact_idr=exact,
                amount_idr=amount,
                legal_basis=basis_text[:300],
            )
        )
    return lines


# --- due dates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueRule:
    monthly_due_day: int  # a monthly bill is due on this day of its month (clamped to its length)
    min_days_to_pay: int  # ... but never sooner than this many days after it is issued
    daily_due_days: int  # a daily ticket is due this many days after its day of use


DUE_RULE_KEYS: Final = {
    "monthly_due_day": (1, 31),
    "min_days_to_pay": (0, 90),
    "daily_due_days": (0, 90),
}


def due_rule_for(
    rules: Mapping[str, Mapping[str, Any]], market_code: str, stall_type: str
) -> DueRule:
    """Merge ``LEVY_DUE_RULES`` entries from the least to the most specific.

    Keys: ``"*"``, ``"*/kios"``, ``"KLEWER"``, ``"KLEWER/kios"``; each holds some of
    ``monthly_due_day``, ``min_days_to_pay``, ``daily_due_days``.
    """
    merged: dict[str, Any] = {}
    for key in ("*", f"*/{stall_type}", market_code, f"{market_code}/{stall_type}"):
        merged.update(rules.get(key, {}))
    missing = [k for k in DUE_RULE_KEYS if k not in merged]
    if missing:
        raise RuleError("LEVY_DUE_RULES", "incomplete", f"LEVY_DUE_RULES lacks {missing}")
    return DueRule(**{k: int(merged[k]) for k in DUE_RULE_KEYS})


def check_due_rules(rules: object) -> None:
    """Refuse a malformed ``LEVY_DUE_RULES`` at start-up rather than at the first bill."""
    if not isinstance(rules, Mapping) or "*" not in rules:
        raise RuleError("LEVY_DUE_RULES", "invalid", "LEVY_DUE_RULES needs a '*' entry")
    for key, entry in rules.items():
        if not isinstance(entry, Mapping):
            raise RuleError(
                "LEVY_DUE_RULES", "invalid", f"LEVY_DUE_RULES[{key!r}] is not a mapping"
            )
        for name, value in entry.items():
            bounds = DUE_RULE_KEYS.get(name)
            if bounds is None or isinstance(value, bool) or not isinstance(value, int):
                raise RuleError("LEVY_DUE_RULES", "invalid", f"LEVY_DUE_RULES[{key!r}].{name}")
            if not bounds[0] <= value <= bounds[1]:
                raise RuleError(
                    "LEVY_DUE_RULES", "invalid", f"LEVY_DUE_RULES[{key!r}].{name} out of range"
                )
    due_rule_for(rules, "", "")


def monthly_due_on(period: Period, rule: DueRule, issued_on: date) -> date:
    nominal = date(period.year, period.month, min(rule.monthly_due_day, period.days))
    return max(nominal, issued_on + timedelta(days=rule.min_days_to_pay))


def daily_due_on(day: date, rule: DueRule) -> date:
    return day + timedelta(days=rule.daily_due_days)


# --- sanctions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SanctionTerms:
    """The sanction regime stored with a bill (older bills keep theirs)."""

    principal_idr: int
    due_on: date
    rate_pct_per_month: Decimal
    cap_months: int
    part_month_counts: bool
    rounding: RoundingRule


@dataclass(frozen=True)
class SanctionFigure:
    sanction_idr: int
    months: int  # months charged on the principal still unpaid at the date asked
    principal_unpaid_idr: int
    suspended_days: int  # days of (due, as_of] on which nothing accrued (outage, relief)


def suspended_days(after: date, until: date, suspensions: Iterable[tuple[date, date]]) -> int:
    """Days in ``after < day <= until`` covered by at least one (inclusive) suspension."""
    spans = sorted(
        (max(start, after + timedelta(days=1)), min(end, until))
        for start, end in suspensions
        if end > after and start <= until
    )
    total = 0
    cursor = after
    for span_start, end in spans:
        start = max(span_start, cursor + timedelta(days=1))
        if start <= end:
            total += days_inclusive(start, end)
            cursor = end
    return total


def months_late(
    due_on: date,
    until: date,
    *,
    part_month_counts: bool,
    cap_months: int,
    suspensions: Iterable[tuple[date, date]] = (),
) -> tuple[int, int]:
    """Months of sanction from the due date to ``until`` (a payment date or today), and the
    suspended days skipped. The clock stops on suspended days; a payment on the due date is on time.
    """
    if until <= due_on:
        return 0, 0
    stopped = suspended_days(due_on, until, suspensions)
    effective = until - timedelta(days=stopped)
    if effective <= due_on:
        return 0, stopped
    months = (effective.year - due_on.year) * 12 + effective.month - due_on.month
    if add_months(due_on, months) > effective:
        months -= 1
    if part_month_counts and add_months(due_on, months) < effective:
        months += 1
    return min(months, cap_months), stopped


def sanction_cap_idr(terms: SanctionTerms) -> int:
    """The most a bill's sanction can ever be: rate x cap months of the principal, rounded down."""
    exact = Fraction(terms.principal_idr) * Fraction(terms.rate_pct_per_month) * terms.cap_months
    return round_idr(exact / 100, RoundingRule.DOWN)


def sanction_due(
    terms: SanctionTerms,
    as_of: date,
    *,
    principal_payments: Sequence[tuple[date, int]] = (),
    suspensions: Sequence[tuple[date, date]] = (),
) -> SanctionFigure:
    """The sanction a bill carries on ``as_of``: ``rate`` % a month of the unpaid principal, simple
    interest, each rupiah of principal counting from the due date to the day it was paid, at most
    ``cap_months`` months (PP 35/2023 Pasal 65(5)). Pure: the caller gives the principal payments
    ``(paid_on, amount_idr)`` and the suspension spans.
    """
    rate = Fraction(terms.rate_pct_per_month) / 100
    exact = Fraction(0)
    unpaid = terms.principal_idr
    for paid_on, amount_idr in sorted(principal_payments):
        if paid_on > as_of:
            continue
        if amount_idr < 0 or amount_idr > unpaid:
            raise ValueError("principal payments must be positive and within the principal")
        months, _ = months_late(
            terms.due_on,
            paid_on,
            part_month_counts=terms.part_month_counts,
            cap_months=terms.cap_months,
            suspensions=suspensions,
        )
        exact += amount_idr * rate * months
        unpaid -= amount_idr
    months, stopped = months_late(
        terms.due_on,
        as_of,
        part_month_counts=terms.part_month_counts,
        cap_months=terms.cap_months,
        suspensions=suspensions,
    )
    exact += unpaid * rate * months
    # Rounding must never carry a sanction past its legal ceiling.
    sanction = min(round_idr(exact, terms.rounding), sanction_cap_idr(terms))
    return SanctionFigure(sanction, months, unpaid, stopped)


# --- arrears -----------------------------------------------------------------------------------


def age_bucket(days_overdue: int) -> AgeBucket:
    if days_overdue <= 30:
        return AgeBucket.D0_30
    if days_overdue <= 90:
        return AgeBucket.D31_90
    if days_overdue <= 180:
        return AgeBucket.D91_180
    if days_overdue <= 365:
        return AgeBucket.D181_365
    return AgeBucket.OVER_365
