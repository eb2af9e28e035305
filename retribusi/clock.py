"""Time: stored as aware UTC, reasoned about in Asia/Jakarta (WIB), and movable in tests.

Services ask :func:`now` rather than ``datetime.now``; the application holds the clock, so a test
can freeze or advance it (due dates, sanctions, token expiry, per-day idempotency windows).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

JAKARTA = ZoneInfo("Asia/Jakarta")
EXTENSION_KEY = "retribusi.clock"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime) -> None:
        self._at = _aware(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = _aware(at)

    def advance(self, delta: timedelta) -> None:
        self._at += delta


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("clock times must be timezone-aware")
    return at.astimezone(UTC)


_SYSTEM = SystemClock()


def current_clock() -> Clock:
    if has_app_context():
        clock: Clock = current_app.extensions.get(EXTENSION_KEY, _SYSTEM)
        return clock
    return _SYSTEM


def now() -> datetime:
    """The current instant (aware UTC) from the application's clock."""
    return current_clock().now()


def to_wib(at: datetime) -> datetime:
    """An instant shown in Western Indonesian Time (UTC+7, no daylight saving)."""
    return _aware(at).astimezone(JAKARTA)


def format_wib(at: datetime) -> str:
    """``23-11-2026 10:00 WIB``: how a time is shown to people, in Solo's zone."""
    return to_wib(at).strftime("%d-%m-%Y %H:%M WIB")


def business_date(at: datetime) -> date:
    """The Jakarta calendar date of an instant: 23:30 UTC is already tomorrow in Solo."""
    return to_wib(at).date()


def today_wib() -> date:
    return business_date(now())


def start_of_day_wib(day: date) -> datetime:
    """The UTC instant at which a Jakarta calendar day begins."""
    return datetime.combine(day, time.min, tzinfo=JAKARTA).astimezone(UTC)


def add_business_days(day: date, days: int, holidays: Iterable[date] = ()) -> date:
    """``day`` moved forward by ``days`` working days (Mon–Fri, minus the given holidays)."""
    if days < 0:
        raise ValueError("days must not be negative")
    off = set(holidays)
    current = day
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in off:
            remaining -= 1
    return current
