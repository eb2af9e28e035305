"""The levy's named configuration, read once per use into a typed, checked value.

Every key can be overridden like any other setting (``RETRIBUSI_BILL_MONTH_DAYS=actual``). The
rules a bill was issued under are copied onto the bill, so changing them never rewrites old bills.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from retribusi.levy.rules import (
    MonthDays,
    RoundingRule,
    RuleError,
    check_due_rules,
    parse_month_days,
    parse_rounding,
)

DEFAULTS: dict[str, Any] = {
    # Days a whole month charges for: "actual" (28-31) or 30. Solo's reported bills do not settle
    # it (domain.md §7); the worked examples assume 30.
    "BILL_MONTH_DAYS": 30,
    # How an exact amount becomes whole rupiah, once, at the bill line.
    "BILL_ROUNDING": "half_up",
    # Due dates per market and stall type: "*", "*/kios", "KLEWER", "KLEWER/kios" (most specific
    # wins, key by key). A Perwali sets these; the defaults follow domain.md §2.5 and §7.
    "LEVY_DUE_RULES": {"*": {"monthly_due_day": 10, "min_days_to_pay": 7, "daily_due_days": 0}},
    # HKPD sanction (PP 35/2023 Pasal 65(5)): 1 % a month of the unpaid principal, at most 24
    # months. Whether a part month counts as a whole month is not said for retribusi; until the
    # Perwali says so only complete months count, the reading that never overcharges.
    "SANCTION_RATE_PCT_PER_MONTH": "1",
    "SANCTION_CAP_MONTHS": 24,
    "SANCTION_PART_MONTH_COUNTS": False,
    # Days after the due date on which the STRD and the Surat Teguran 1-3 go out (the old-Perda
    # pattern of a teguran 7 days after the due date and every 7 days after; to be confirmed).
    "STRD_DAYS_AFTER_DUE": 30,
    "TEGURAN_DAYS_AFTER_DUE": [7, 14, 21],
    # The biggest page an API client may ask for; also bounds pages on the site.
    "LEVY_PAGE_SIZE_MAX": 200,
}


@dataclass(frozen=True)
class SanctionRegime:
    rate_pct_per_month: Decimal
    cap_months: int
    part_month_counts: bool


@dataclass(frozen=True)
class LevySettings:
    month_days: MonthDays
    rounding: RoundingRule
    due_rules: Mapping[str, Mapping[str, int]]
    sanction: SanctionRegime
    strd_days_after_due: int
    teguran_days_after_due: tuple[int, int, int]


def _decimal(name: str, value: object, low: Decimal, high: Decimal) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RuleError(name, "invalid", f"{name} is not a number: {value!r}") from None
    if not number.is_finite() or not low <= number <= high:
        raise RuleError(name, "invalid", f"{name} must be between {low} and {high}")
    return number


def _int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RuleError(name, "invalid", f"{name} must be a whole number from {low} to {high}")
    return value


def settings(config: Mapping[str, Any]) -> LevySettings:
    """The levy settings from a Flask config, checked; raises ``RuleError`` naming the bad key."""
    due_rules = config["LEVY_DUE_RULES"]
    check_due_rules(due_rules)
    ladder = config["TEGURAN_DAYS_AFTER_DUE"]
    if not isinstance(ladder, list | tuple) or len(ladder) != 3:
        raise RuleError("TEGURAN_DAYS_AFTER_DUE", "invalid", "give three day counts (SP1-SP3)")
    days = tuple(_int("TEGURAN_DAYS_AFTER_DUE", d, 1, 3650) for d in ladder)
    if not days[0] < days[1] < days[2]:
        raise RuleError("TEGURAN_DAYS_AFTER_DUE", "invalid", "SP1, SP2, SP3 must come in order")
    part = config["SANCTION_PART_MONTH_COUNTS"]
    if not isinstance(part, bool):
        raise RuleError("SANCTION_PART_MONTH_COUNTS", "invalid", "true or false")
    return LevySettings(
        month_days=parse_month_days(config["BILL_MONTH_DAYS"]),
        rounding=parse_rounding(config["BILL_ROUNDING"]),
        due_rules=due_rules,
        sanction=SanctionRegime(
            rate_pct_per_month=_decimal(
                "SANCTION_RATE_PCT_PER_MONTH",
                config["SANCTION_RATE_PCT_PER_MONTH"],
                Decimal(0),
                Decimal(10),
            ),
            cap_months=_int("SANCTION_CAP_MONTHS", config["SANCTION_CAP_MONTHS"], 0, 120),
            part_month_counts=part,
        ),
        strd_days_after_due=_int("STRD_DAYS_AFTER_DUE", config["STRD_DAYS_AFTER_DUE"], 1, 3650),
        teguran_days_after_due=(days[0], days[1], days[2]),
    )


def current() -> LevySettings:
    from flask import current_app

    return settings(current_app.config)
