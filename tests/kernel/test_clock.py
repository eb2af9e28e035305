from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask

from retribusi import clock


def test_business_date_is_jakarta_date() -> None:
    # 17:30 UTC on the 23rd is 00:30 WIB on the 24th.
    assert clock.business_date(datetime(2026, 11, 23, 17, 30, tzinfo=UTC)) == date(2026, 11, 24)
    assert clock.business_date(datetime(2026, 11, 23, 16, 59, tzinfo=UTC)) == date(2026, 11, 23)


def test_start_of_day_wib() -> None:
    assert clock.start_of_day_wib(date(2026, 1, 10)) == datetime(2026, 1, 9, 17, 0, tzinfo=UTC)


def test_frozen_clock_is_the_apps_clock(app: Flask, frozen_clock: clock.FrozenClock) -> None:
    with app.app_context():
        assert clock.now() == frozen_clock.now()
        frozen_clock.advance(timedelta(days=1))
        assert clock.today_wib() == date(2026, 11, 24)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        clock.FrozenClock(datetime(2026, 1, 1))  # noqa: DTZ001


def test_add_business_days_skips_weekends_and_holidays() -> None:
    friday = date(2026, 11, 20)
    assert clock.add_business_days(friday, 1) == date(2026, 11, 23)
    assert clock.add_business_days(friday, 1, holidays=[date(2026, 11, 23)]) == date(2026, 11, 24)
    assert clock.add_business_days(friday, 0) == friday
    with pytest.raises(ValueError, match="negative"):
        clock.add_business_days(friday, -1)
