"""The reconciliation rules: windows, grace periods, holidays, MDR per acquirer and period.

They come from the application's configuration (``RECONCILE_*``, environment variables with the
``RETRIBUSI_`` prefix override them) and are checked when the application starts: a bad rule
stops the start, not the first run. A run records the rules it used and their version, a hash
of their canonical form, so a result can be reproduced and a changed rule is visible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from flask import current_app

from retribusi.clock import add_business_days

#: Bumped when the engine's logic changes in a way that changes results for the same rules.
ENGINE_VERSION: Final = "1"

#: Windows and grace periods are bounded: a month of business days is already generous.
MAX_DAYS: Final = 30
#: An ambiguous group larger than this is not even examined pair by pair (bounded work).
MAX_COMPONENT: Final = 64
#: MDR is a percentage; Bank Indonesia's highest rate is 0.7 %, so 5 % is a typo.
MAX_MDR_PCT: Final = Decimal(5)

DEFAULTS: dict[str, Any] = {
    # Business days after the payment within which its bank line may be booked.
    "RECONCILE_WINDOWS": {"va": 3, "batch": 3, "deposit": 5, "qris_bill_days": 1},
    # Business days after which a payment, deposit or batch with no bank line is an exception.
    "RECONCILE_GRACE": {"va": 3, "qris": 3, "deposit": 3, "batch": 2},
    # Days banks do not book (national holidays, cuti bersama), ISO dates.
    "RECONCILE_HOLIDAYS": [],
    # acquirer id -> [[valid from (ISO date), rate in percent ("0.7")], ...]. An acquirer without
    # an entry is expected to charge 0 %: Bank Indonesia's MDR for P2G payments (retribution).
    "RECONCILE_MDR": {},
    # Payments before this date (ISO) are outside reconciliation (go-live); None: all.
    "RECONCILE_PAYMENTS_SINCE": None,
    # Largest file the upload page accepts (the importers' own bound is 50 MiB).
    "RECONCILE_UPLOAD_MAX_BYTES": 20 * 1024 * 1024,
    # Digits our VA numbers start with, so a VA number is found even without the word "VA".
    "RECONCILE_VA_PREFIXES": [],
    # The sender of payments made from a bank or settlement line ("paid but not credited").
    "RECONCILE_SENDER": "reconcile",
}


class RulesError(ValueError):
    """A reconciliation setting that cannot be used."""


@dataclass(frozen=True)
class MdrPeriod:
    valid_from: date
    rate_pct: Decimal


@dataclass(frozen=True)
class Rules:
    """Everything a run's result depends on besides the data."""

    va_window_days: int = 3
    batch_window_days: int = 3
    deposit_window_days: int = 5
    qris_bill_window_days: int = 1
    grace_va_days: int = 3
    grace_qris_days: int = 3
    grace_deposit_days: int = 3
    grace_batch_days: int = 2
    holidays: tuple[date, ...] = ()
    mdr: tuple[tuple[str, tuple[MdrPeriod, ...]], ...] = ()
    payments_since: date | None = None
    sender: str = "reconcile"
    _mdr_index: dict[str, tuple[MdrPeriod, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # Due dates already computed (a run asks for the same few dates for every line).
    _due: dict[tuple[date, int], date] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_mdr_index", dict(self.mdr))

    def mdr_rate_pct(self, acquirer_id: str, on: date) -> Decimal:
        """The MDR in force for an acquirer on a settlement date (0 without an entry)."""
        rate = Decimal(0)
        for period in self._mdr_index.get(acquirer_id, ()):
            if period.valid_from <= on:
                rate = period.rate_pct
        return rate

    def expected_fee_idr(self, acquirer_id: str, on: date, gross_idr: int) -> int:
        """The fee the schedule allows on one transaction: gross x rate, half up to the rupiah
        (acquirers compute the MDR per transaction)."""
        rate = self.mdr_rate_pct(acquirer_id, on)
        if not rate:
            return 0
        fee = (Decimal(gross_idr) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return int(fee)

    def within(self, start: date, day: date, business_days: int) -> bool:
        """``start`` <= ``day`` <= ``start`` + ``business_days`` business days."""
        return start <= day <= self.due(start, business_days)

    def due(self, start: date, business_days: int) -> date:
        """The day after which something that started on ``start`` is overdue."""
        key = (start, business_days)
        found = self._due.get(key)
        if found is None:
            found = self._due[key] = add_business_days(start, business_days, self.holidays)
        return found

    @property
    def span_days(self) -> int:
        """Calendar days that certainly contain any window (SQL pre-filter; exact check later)."""
        widest = max(
            self.va_window_days,
            self.batch_window_days,
            self.deposit_window_days,
            self.qris_bill_window_days,
        )
        return widest * 2 + 7 + len(self.holidays)

    def to_dict(self) -> dict[str, Any]:
        """The canonical form recorded with every run."""
        return {
            "engine": ENGINE_VERSION,
            "windows": {
                "va": self.va_window_days,
                "batch": self.batch_window_days,
                "deposit": self.deposit_window_days,
                "qris_bill_days": self.qris_bill_window_days,
            },
            "grace": {
                "va": self.grace_va_days,
                "qris": self.grace_qris_days,
                "deposit": self.grace_deposit_days,
                "batch": self.grace_batch_days,
            },
            "holidays": [d.isoformat() for d in self.holidays],
            "mdr": {
                acquirer: [[p.valid_from.isoformat(), str(p.rate_pct)] for p in periods]
                for acquirer, periods in self.mdr
            },
            "payments_since": self.payments_since.isoformat() if self.payments_since else None,
            "sender": self.sender,
        }

    @property
    def version(self) -> str:
        body = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return f"{ENGINE_VERSION}-{hashlib.sha256(body.encode()).hexdigest()[:16]}"


def _days(table: Any, key: str, default: int, what: str) -> int:
    if not isinstance(table, Mapping):
        raise RulesError(f"{what} must be a mapping")
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise RulesError(f"{what}[{key!r}] must be a whole number of days from 0 to {MAX_DAYS}")
    return value


def _date(value: Any, what: str) -> date:
    if not isinstance(value, str):
        raise RulesError(f"{what} must be an ISO date string")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RulesError(f"{what} {value!r} is not an ISO date") from None


def _mdr(raw: Any) -> tuple[tuple[str, tuple[MdrPeriod, ...]], ...]:
    if not isinstance(raw, Mapping):
        raise RulesError("RECONCILE_MDR must map acquirer ids to lists of [date, rate]")
    found: list[tuple[str, tuple[MdrPeriod, ...]]] = []
    for acquirer in sorted(raw):
        entries = raw[acquirer]
        if not isinstance(acquirer, str) or not 1 <= len(acquirer) <= 64:
            raise RulesError("an MDR acquirer id is 1-64 characters")
        if not isinstance(entries, list | tuple) or not entries:
            raise RulesError(f"RECONCILE_MDR[{acquirer!r}] must be a non-empty list")
        periods: list[MdrPeriod] = []
        for entry in entries:
            if not isinstance(entry, list | tuple) or len(entry) != 2:
                raise RulesError(f"RECONCILE_MDR[{acquirer!r}] entries are [date, rate]")
            valid_from = _date(entry[0], f"MDR date of {acquirer}")
            try:
                rate = Decimal(str(entry[1]))
            except InvalidOperation:
                raise RulesError(f"MDR rate {entry[1]!r} of {acquirer} is not a number") from None
            if not rate.is_finite() or not Decimal(0) <= rate <= MAX_MDR_PCT:
                raise RulesError(f"MDR rate of {acquirer} must be 0-{MAX_MDR_PCT} percent")
            if rate.as_tuple().exponent < -4:  # type: ignore[operator]
                raise RulesError(f"MDR rate of {acquirer} has more than 4 decimal places")
            periods.append(MdrPeriod(valid_from, rate.normalize()))
        periods.sort(key=lambda p: p.valid_from)
        if len({p.valid_from for p in periods}) != len(periods):
            raise RulesError(f"RECONCILE_MDR[{acquirer!r}] has two rates from the same day")
        found.append((acquirer, tuple(periods)))
    return tuple(found)


def rules_from_config(config: Mapping[str, Any]) -> Rules:
    """Build and check the rules from the application's configuration."""
    windows = config.get("RECONCILE_WINDOWS", DEFAULTS["RECONCILE_WINDOWS"])
    grace = config.get("RECONCILE_GRACE", DEFAULTS["RECONCILE_GRACE"])
    holidays_raw = config.get("RECONCILE_HOLIDAYS", [])
    if not isinstance(holidays_raw, list | tuple) or len(holidays_raw) > 1000:
        raise RulesError("RECONCILE_HOLIDAYS must be a list of at most 1000 ISO dates")
    holidays = tuple(sorted({_date(d, "a holiday") for d in holidays_raw}))
    since_raw = config.get("RECONCILE_PAYMENTS_SINCE")
    since = _date(since_raw, "RECONCILE_PAYMENTS_SINCE") if since_raw is not None else None
    sender = config.get("RECONCILE_SENDER", "reconcile")
    if not isinstance(sender, str) or not 1 <= len(sender) <= 60 or not sender.isprintable():
        raise RulesError("RECONCILE_SENDER must be 1-60 printable characters")
    return Rules(
        va_window_days=_days(windows, "va", 3, "RECONCILE_WINDOWS"),
        batch_window_days=_days(windows, "batch", 3, "RECONCILE_WINDOWS"),
        deposit_window_days=_days(windows, "deposit", 5, "RECONCILE_WINDOWS"),
        qris_bill_window_days=_days(windows, "qris_bill_days", 1, "RECONCILE_WINDOWS"),
        grace_va_days=_days(grace, "va", 3, "RECONCILE_GRACE"),
        grace_qris_days=_days(grace, "qris", 3, "RECONCILE_GRACE"),
        grace_deposit_days=_days(grace, "deposit", 3, "RECONCILE_GRACE"),
        grace_batch_days=_days(grace, "batch", 2, "RECONCILE_GRACE"),
        holidays=holidays,
        mdr=_mdr(config.get("RECONCILE_MDR", {})),
        payments_since=since,
        sender=sender,
    )


def current_rules() -> Rules:
    """The rules of the running application."""
    return rules_from_config(current_app.config)


def upload_max_bytes() -> int:
    value = current_app.config["RECONCILE_UPLOAD_MAX_BYTES"]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RulesError("RECONCILE_UPLOAD_MAX_BYTES must be a positive number of bytes")
    return value


def va_prefixes() -> tuple[str, ...]:
    raw = current_app.config.get("RECONCILE_VA_PREFIXES") or []
    if not isinstance(raw, list | tuple) or not all(
        isinstance(p, str) and p.isdigit() and 1 <= len(p) <= 20 for p in raw
    ):
        raise RulesError("RECONCILE_VA_PREFIXES must be a list of digit strings")
    return tuple(raw)
