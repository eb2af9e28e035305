"""The levy's pure arithmetic against domain.md §7's worked examples, and its properties."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retribusi.levy.rules import (
    AgeBucket,
    Component,
    DueRule,
    MonthDays,
    Period,
    Relief,
    RoundingRule,
    RuleError,
    SanctionTerms,
    Segment,
    TariffBasis,
    TariffScope,
    TariffTerms,
    TariffVersionRow,
    age_bucket,
    billable_days,
    check_due_rules,
    due_rule_for,
    monthly_due_on,
    months_late,
    plan_period,
    price_segments,
    round_idr,
    sanction_cap_idr,
    sanction_due,
    suspended_days,
)

KIOS_IA = TariffTerms(
    1,
    Component.PELAYANAN_PASAR,
    TariffBasis.TNTD_PCT_DAY,
    Decimal("0.1"),
    "Perda 5/2016",
    default_tntd_idr_per_m2=950_000,
)
SAMPAH = TariffTerms(2, Component.PERSAMPAHAN, TariffBasis.PER_M2_DAY, Decimal(100), "Perda 5/2016")
PELATARAN_IA = TariffTerms(3, Component.PELAYANAN_PASAR, TariffBasis.PER_M2_DAY, Decimal(500), "P")
SAMPAH_PELATARAN = TariffTerms(4, Component.PERSAMPAHAN, TariffBasis.PER_M2_DAY, Decimal(50), "P")
NOV = Period(2026, 11)  # 30 days
DEC = Period(2026, 12)  # 31 days


def price(
    segments: list[Segment],
    *,
    area: str = "5",
    month: Period | None = NOV,
    rule: MonthDays = MonthDays.THIRTY,
    tntd: int | None = None,
    rounding: RoundingRule = RoundingRule.HALF_UP,
) -> int:
    lines = price_segments(
        segments,
        area_m2=Decimal(area),
        tntd_idr_per_m2=tntd,
        month_length=month.days if month else None,
        month_days=rule,
        rounding=rounding,
    )
    return sum(line.amount_idr for line in lines)


def whole(period: Period, *tariffs: TariffTerms) -> list[Segment]:
    return [Segment(period.first_day, period.last_day, t) for t in tariffs]


# --- domain.md §7 worked examples ---------------------------------------------------------------


@pytest.mark.parametrize("rule", [MonthDays.THIRTY, MonthDays.ACTUAL])
def test_klewer_kios_5m2_thirty_day_month_is_157500(rule: MonthDays) -> None:
    assert price(whole(NOV, KIOS_IA, SAMPAH), rule=rule) == 157_500


def test_klewer_kios_lines_show_quantity_rate_and_basis() -> None:
    lines = price_segments(
        whole(NOV, KIOS_IA, SAMPAH),
        area_m2=Decimal(5),
        tntd_idr_per_m2=None,
        month_length=30,
        month_days=MonthDays.THIRTY,
        rounding=RoundingRule.HALF_UP,
    )
    by_component = {line.component: line for line in lines}
    service = by_component[Component.PELAYANAN_PASAR]
    assert (service.quantity, service.rate_idr, service.amount_idr) == (150, Decimal(950), 142_500)
    assert service.tntd_idr_per_m2 == 950_000 and service.legal_basis == "Perda 5/2016"
    assert by_component[Component.PERSAMPAHAN].amount_idr == 15_000


def test_thirty_day_rule_bills_a_31_day_month_as_30_and_actual_as_31() -> None:
    assert price(whole(DEC, KIOS_IA, SAMPAH), month=DEC, rule=MonthDays.THIRTY) == 157_500
    assert price(whole(DEC, KIOS_IA, SAMPAH), month=DEC, rule=MonthDays.ACTUAL) == 162_750


def test_kadipolo_kios_9m2_class_iia_is_216000() -> None:
    kios_iia = TariffTerms(
        5,
        Component.PELAYANAN_PASAR,
        TariffBasis.TNTD_PCT_DAY,
        Decimal("0.1"),
        "P",
        default_tntd_idr_per_m2=700_000,
    )
    assert price(whole(NOV, kios_iia, SAMPAH), area="9") == 216_000


def test_pelataran_ticket_2m2_class_ia_is_1100() -> None:
    day = date(2026, 11, 23)
    segments = [Segment(day, day, PELATARAN_IA), Segment(day, day, SAMPAH_PELATARAN)]
    assert price(segments, area="2", month=None) == 1_100


def test_stall_tntd_beats_the_tariff_default() -> None:
    assert price(whole(NOV, KIOS_IA), tntd=80_000) == 5 * 80 * 30  # Pasar Besi's Rp80/m²/day


LATE = SanctionTerms(216_000, date(2026, 1, 10), Decimal(1), 24, False, RoundingRule.HALF_UP)


def test_late_payment_whole_months_is_6480() -> None:
    figure = sanction_due(
        LATE, date(2026, 4, 25), principal_payments=[(date(2026, 4, 25), 216_000)]
    )
    assert (figure.sanction_idr, figure.months, figure.principal_unpaid_idr) == (6_480, 3, 0)
    assert sanction_due(LATE, date(2026, 4, 25)).sanction_idr == 6_480


def test_late_payment_part_month_counts_is_8640() -> None:
    terms = SanctionTerms(216_000, date(2026, 1, 10), Decimal(1), 24, True, RoundingRule.HALF_UP)
    assert sanction_due(terms, date(2026, 4, 25)).sanction_idr == 8_640


def test_old_regime_two_percent_is_kept_per_bill() -> None:
    old = SanctionTerms(216_000, date(2023, 1, 10), Decimal(2), 24, False, RoundingRule.HALF_UP)
    assert sanction_due(old, date(2023, 4, 25)).sanction_idr == 12_960


# --- sanctions --------------------------------------------------------------------------------


def test_no_sanction_on_or_before_the_due_date() -> None:
    assert sanction_due(LATE, date(2026, 1, 10)).sanction_idr == 0
    assert sanction_due(LATE, date(2026, 1, 9)).sanction_idr == 0


def test_sanction_stops_at_24_months() -> None:
    assert sanction_due(LATE, date(2030, 1, 1)).sanction_idr == 216_000 * 24 // 100
    assert sanction_due(LATE, date(2030, 1, 1)).months == 24


def test_month_end_due_dates_count_calendar_months() -> None:
    kw = {"part_month_counts": False, "cap_months": 24}
    assert months_late(date(2026, 1, 31), date(2026, 2, 28), **kw) == (1, 0)
    assert months_late(date(2026, 1, 31), date(2026, 2, 27), **kw) == (0, 0)
    assert months_late(date(2026, 1, 31), date(2026, 3, 30), **kw) == (1, 0)
    assert months_late(date(2026, 1, 31), date(2026, 3, 31), **kw) == (2, 0)


def test_partial_principal_payment_stops_its_share_of_sanction() -> None:
    # Half paid one month late, half three months late: 1 % x 108,000 + 3 % x 108,000.
    figure = sanction_due(
        LATE,
        date(2026, 4, 10),
        principal_payments=[(date(2026, 2, 10), 108_000), (date(2026, 4, 10), 108_000)],
    )
    assert figure.sanction_idr == 1_080 + 3_240
    assert figure.principal_unpaid_idr == 0


def test_outage_days_stop_the_clock() -> None:
    outage = [(date(2026, 2, 1), date(2026, 2, 28))]  # 28 days of broken machines
    assert sanction_due(LATE, date(2026, 4, 25), suspensions=outage).sanction_idr == 4_320
    assert suspended_days(date(2026, 1, 10), date(2026, 4, 25), outage) == 28


def test_overlapping_suspensions_are_counted_once() -> None:
    spans = [(date(2026, 2, 1), date(2026, 2, 10)), (date(2026, 2, 5), date(2026, 2, 20))]
    assert suspended_days(date(2026, 1, 31), date(2026, 3, 1), spans) == 20
    assert suspended_days(date(2026, 2, 15), date(2026, 3, 1), spans) == 5


def test_payment_above_the_principal_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="within the principal"):
        sanction_due(LATE, date(2026, 5, 1), principal_payments=[(date(2026, 2, 1), 216_001)])


principals = st.integers(min_value=1, max_value=10**11)
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31))
rates = st.decimals(min_value=0, max_value=10, places=3)


@given(
    principals,
    days,
    days,
    rates,
    st.booleans(),
    st.sampled_from(list(RoundingRule)),
    st.integers(min_value=0, max_value=120),
)
def test_sanction_never_exceeds_rate_times_cap_of_principal(
    principal: int,
    due_on: date,
    as_of: date,
    rate: Decimal,
    part: bool,
    rounding: RoundingRule,
    cap: int,
) -> None:
    terms = SanctionTerms(principal, due_on, rate, cap, part, rounding)
    sanction = sanction_due(terms, as_of).sanction_idr
    assert sanction >= 0
    assert Fraction(sanction) <= Fraction(principal) * Fraction(rate) * cap / 100
    assert sanction <= sanction_cap_idr(terms)


@given(principals, days, days, st.booleans())
def test_hkpd_sanction_never_exceeds_24_percent(
    principal: int, due_on: date, as_of: date, part: bool
) -> None:
    terms = SanctionTerms(principal, due_on, Decimal(1), 24, part, RoundingRule.HALF_UP)
    assert sanction_due(terms, as_of).sanction_idr * 100 <= principal * 24


@given(principals, days, st.integers(min_value=0, max_value=2000), st.integers(0, 2000))
def test_sanction_never_decreases_with_time(principal: int, due_on: date, a: int, b: int) -> None:
    terms = SanctionTerms(principal, due_on, Decimal(1), 24, False, RoundingRule.HALF_UP)
    early, late = sorted((a, b))
    assert (
        sanction_due(terms, due_on + timedelta(days=early)).sanction_idr
        <= sanction_due(terms, due_on + timedelta(days=late)).sanction_idr
    )


# --- pricing properties -----------------------------------------------------------------------

areas = st.decimals(min_value=Decimal("0.25"), max_value=Decimal(200), places=2)
rates_idr = st.decimals(min_value=Decimal("0.5"), max_value=Decimal(5000), places=1)
periods = st.builds(Period, st.integers(2024, 2030), st.integers(1, 12))


@given(
    areas,
    rates_idr,
    periods,
    st.sampled_from(list(MonthDays)),
    st.sampled_from(list(RoundingRule)),
    st.data(),
)
def test_pro_rated_parts_add_up_to_the_whole(
    area: Decimal,
    rate: Decimal,
    period: Period,
    rule: MonthDays,
    rounding: RoundingRule,
    data: st.DataObject,
) -> None:
    tariff = TariffTerms(9, Component.PELAYANAN_PASAR, TariffBasis.PER_M2_DAY, rate, "P")
    cuts = sorted(data.draw(st.sets(st.integers(1, period.days - 1), max_size=6)))
    bounds = [0, *cuts, period.days]
    parts = [
        Segment(
            period.first_day + timedelta(days=a), period.first_day + timedelta(days=b - 1), tariff
        )
        for a, b in pairwise(bounds)
    ]
    kwargs = {"area": str(area), "month": period, "rule": rule, "rounding": rounding}
    assert price(parts, **kwargs) == price(whole(period, tariff), **kwargs)  # type: ignore[arg-type]
    assert sum(
        billable_days(b - a, period.days, rule) for a, b in pairwise(bounds)
    ) == billable_days(period.days, period.days, rule)


@given(
    areas,
    rates_idr,
    rates_idr,
    periods,
    st.integers(1, 27),
    st.sampled_from(list(RoundingRule)),
    st.randoms(use_true_random=False),
)
def test_a_bills_total_does_not_depend_on_the_order_of_its_lines(
    area: Decimal,
    rate_a: Decimal,
    rate_b: Decimal,
    period: Period,
    cut: int,
    rounding: RoundingRule,
    rng: random.Random,
) -> None:
    first = TariffTerms(1, Component.PELAYANAN_PASAR, TariffBasis.PER_M2_DAY, rate_a, "old")
    second = TariffTerms(2, Component.PELAYANAN_PASAR, TariffBasis.PER_M2_DAY, rate_b, "new")
    change = period.first_day + timedelta(days=cut)
    segments = [
        Segment(period.first_day, change - timedelta(days=1), first),
        Segment(change, period.last_day, second),
        Segment(period.first_day, change - timedelta(days=1), SAMPAH),
        Segment(change, period.last_day, SAMPAH),
    ]
    shuffled = segments[:]
    rng.shuffle(shuffled)
    assert price(segments, area=str(area), month=period, rounding=rounding) == price(
        shuffled, area=str(area), month=period, rounding=rounding
    )


def test_tariff_change_mid_month_pro_rates_each_part() -> None:
    dearer = TariffTerms(
        7, Component.PERSAMPAHAN, TariffBasis.PER_M2_DAY, Decimal(200), "Perwali X"
    )
    change = date(2026, 11, 16)
    segments = [
        Segment(NOV.first_day, change - timedelta(days=1), SAMPAH),
        Segment(change, NOV.last_day, dearer),
    ]
    assert price(segments) == 5 * 100 * 15 + 5 * 200 * 15


def test_relief_reduces_its_days_only() -> None:
    half = Relief(1, Decimal(50), "pengurangan 50% SK 1/2026")
    segments = [
        Segment(date(2026, 11, 1), date(2026, 11, 10), SAMPAH, half),
        Segment(date(2026, 11, 11), date(2026, 11, 30), SAMPAH),
    ]
    assert price(segments) == 5 * 100 * 10 // 2 + 5 * 100 * 20


def test_fractional_rates_round_once_by_the_named_rule() -> None:
    noto = TariffTerms(
        8, Component.PELAYANAN_PASAR, TariffBasis.PER_M2_DAY, Decimal("187.5"), "old"
    )
    day = date(2026, 11, 1)
    one = [Segment(day, day, noto)]
    assert price(one, area="1", month=None, rounding=RoundingRule.HALF_UP) == 188
    assert price(one, area="1", month=None, rounding=RoundingRule.HALF_EVEN) == 188
    assert price(one, area="1", month=None, rounding=RoundingRule.DOWN) == 187
    assert price(one, area="1.5", month=None, rounding=RoundingRule.HALF_EVEN) == 281  # 281.25


@pytest.mark.parametrize(
    ("value", "rule", "expected"),
    [
        (Fraction(5, 2), RoundingRule.HALF_UP, 3),
        (Fraction(5, 2), RoundingRule.HALF_EVEN, 2),
        (Fraction(7, 2), RoundingRule.HALF_EVEN, 4),
        (Fraction(5, 2), RoundingRule.DOWN, 2),
        (Fraction(21, 10), RoundingRule.UP, 3),
        (Fraction(4), RoundingRule.UP, 4),
    ],
)
def test_round_idr(value: Fraction, rule: RoundingRule, expected: int) -> None:
    assert round_idr(value, rule) == expected


def test_round_idr_refuses_negative_amounts() -> None:
    with pytest.raises(ValueError, match="never negative"):
        round_idr(Fraction(-1, 2), RoundingRule.HALF_UP)


# --- tariff plans -----------------------------------------------------------------------------


def version(
    terms: TariffTerms,
    *,
    valid_from: date,
    market_id: int | None = None,
    market_class: str | None = None,
    stall_type: str = "kios",
    valid_to: date | None = None,
) -> TariffVersionRow:
    return TariffVersionRow(
        terms,
        TariffScope(market_id, market_class, stall_type, terms.component),
        valid_from,
        valid_to,
    )


CLASS_IA = [(date(2016, 1, 1), None, "IA")]


def test_market_version_beats_class_which_beats_city() -> None:
    city = version(SAMPAH, valid_from=date(2024, 1, 1))
    own = TariffTerms(11, Component.PERSAMPAHAN, TariffBasis.PER_M2_DAY, Decimal(150), "Perwali K")
    plan = plan_period(
        NOV.first_day,
        NOV.last_day,
        market_id=7,
        stall_type="kios",
        class_on=CLASS_IA,
        versions=[
            city,
            version(KIOS_IA, valid_from=date(2024, 1, 1), market_class="IA"),
            version(own, valid_from=date(2026, 11, 11), market_id=7),
            version(own, valid_from=date(2026, 11, 1), market_id=8),
        ],
    )
    assert [(p.first.day, p.last.day) for p in plan] == [(1, 10), (11, 30)]
    assert plan[0].tariffs[Component.PERSAMPAHAN] == SAMPAH
    assert plan[1].tariffs[Component.PERSAMPAHAN] == own
    assert plan[1].tariffs[Component.PELAYANAN_PASAR] == KIOS_IA


def test_class_change_inside_a_month_changes_the_tariff() -> None:
    ib = TariffTerms(12, Component.PELAYANAN_PASAR, TariffBasis.PER_M2_DAY, Decimal(500), "IB")
    iib = TariffTerms(13, Component.PELAYANAN_PASAR, TariffBasis.PER_M2_DAY, Decimal(300), "IIB")
    history = [(date(2016, 1, 1), date(2026, 11, 19), "IIB"), (date(2026, 11, 20), None, "IB")]
    plan = plan_period(
        NOV.first_day,
        NOV.last_day,
        market_id=1,
        stall_type="pelataran",
        class_on=history,
        versions=[
            version(ib, valid_from=date(2024, 1, 1), market_class="IB", stall_type="pelataran"),
            version(iib, valid_from=date(2024, 1, 1), market_class="IIB", stall_type="pelataran"),
        ],
    )
    assert [(p.first.day, p.tariffs[Component.PELAYANAN_PASAR].rate) for p in plan] == [
        (1, Decimal(300)),
        (20, Decimal(500)),
    ]


def test_a_version_runs_until_the_next_or_its_end() -> None:
    ended = version(SAMPAH, valid_from=date(2024, 1, 1), valid_to=date(2026, 11, 5))
    plan = plan_period(
        NOV.first_day,
        NOV.last_day,
        market_id=1,
        stall_type="kios",
        class_on=CLASS_IA,
        versions=[ended],
    )
    assert [(p.first.day, p.last.day, bool(p.tariffs)) for p in plan] == [
        (1, 5, True),
        (6, 30, False),
    ]


# --- periods, due dates, buckets --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "2026-00",
        "26-11",
        "2026/11",
        "2026-1",
        "",
        "1999-12",
        "２０２６-11",
        "2026-11 ",
        None,
        202611,
    ],
)
def test_malformed_periods_are_refused(text: object) -> None:
    with pytest.raises(RuleError) as caught:
        Period.parse(text)
    assert caught.value.field == "period"
    assert caught.value.reason in {"malformed", "out_of_range"}


def test_period_arithmetic() -> None:
    assert Period.parse("2026-12").next() == Period(2027, 1)
    assert Period.parse("2026-01").previous() == Period(2025, 12)
    assert (Period(2028, 2).days, Period(2026, 2).days) == (29, 28)


def test_due_rules_merge_from_general_to_specific() -> None:
    rules = {
        "*": {"monthly_due_day": 10, "min_days_to_pay": 7, "daily_due_days": 0},
        "*/los": {"monthly_due_day": 15},
        "KADIPOLO": {"monthly_due_day": 5},
        "KADIPOLO/los": {"min_days_to_pay": 3},
    }
    check_due_rules(rules)
    assert due_rule_for(rules, "KADIPOLO", "los") == DueRule(5, 3, 0)
    assert due_rule_for(rules, "KLEWER", "los") == DueRule(15, 7, 0)
    assert due_rule_for(rules, "KLEWER", "kios") == DueRule(10, 7, 0)


def test_a_bill_issued_late_still_gets_days_to_pay() -> None:
    rule = DueRule(10, 7, 0)
    assert monthly_due_on(NOV, rule, date(2026, 11, 1)) == date(2026, 11, 10)
    assert monthly_due_on(NOV, rule, date(2026, 11, 23)) == date(2026, 11, 30)
    assert monthly_due_on(Period(2026, 2), DueRule(31, 0, 0), date(2026, 2, 1)) == date(2026, 2, 28)


@pytest.mark.parametrize(
    "rules",
    [
        {},
        {"*": {"monthly_due_day": 32, "min_days_to_pay": 7, "daily_due_days": 0}},
        {"*": {"monthly_due_day": 10}},
        {"*": {"monthly_due_day": "10", "min_days_to_pay": 7, "daily_due_days": 0}},
        [1, 2],
    ],
)
def test_bad_due_rules_are_refused(rules: object) -> None:
    with pytest.raises(RuleError):
        check_due_rules(rules)


@pytest.mark.parametrize(
    ("days_overdue", "bucket"),
    [
        (1, "0-30"),
        (30, "0-30"),
        (31, "31-90"),
        (90, "31-90"),
        (91, "91-180"),
        (180, "91-180"),
        (181, "181-365"),
        (365, "181-365"),
        (366, ">365"),
    ],
)
def test_age_buckets(days_overdue: int, bucket: str) -> None:
    assert age_bucket(days_overdue) is AgeBucket(bucket)
