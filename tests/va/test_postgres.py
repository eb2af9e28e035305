"""Concurrency on PostgreSQL: real connections, one thread (and app context) per bank call."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from payments.models import Allocation, Payment
from payments.snap.models import VaType
from payments.verify import verify_ledger
from retribusi import clock
from retribusi.extensions import db
from tests.va.fixtures import bank, billed_vendor, post_together, signed_flag

pytestmark = pytest.mark.postgres
THREADS = 50


def test_fifty_identical_flags_record_one_payment(app: Flask) -> None:
    _reg, sim = bank(app)
    vendor = billed_vendor(app, months=("2026-10", "2026-11"))
    flag = signed_flag(
        sim,
        vendor,
        vendor.owed_idr,
        request_id="SAME-FLAG-1",
        external_id="EXT-SAME-1",
        flagAdvise="N",
    )
    answers = post_together(app, [flag] * THREADS)
    assert Counter(a["responseCode"] for a in answers) == {"2002500": THREADS}, answers
    assert len({json.dumps(a, sort_keys=True) for a in answers}) == 1  # the same answer
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1
        allocated = db.session.scalar(sa.select(sa.func.sum(Allocation.amount_idr)))
        assert allocated == vendor.owed_idr
        assert verify_ledger(db.session).ok


def test_fifty_different_payments_for_one_vendor_never_over_allocate(app: Flask) -> None:
    _reg, sim = bank(app, va_type=VaType.PARTIAL)
    vendor = billed_vendor(app, months=("2026-09", "2026-10", "2026-11"))
    part_idr = vendor.owed_idr // 7 + 1  # six fit; a seventh would pay more than is owed
    requests = [
        signed_flag(sim, vendor, part_idr, request_id=f"PART-{n:03d}", external_id=f"E-{n:03d}")
        for n in range(THREADS)
    ]
    answers = post_together(app, requests)
    codes = Counter(a["responseCode"] for a in answers)
    assert set(codes) <= {"2002500", "4042513"}, codes
    assert codes["2002500"] == 6  # 6 × part fits; a 7th exceeds what is left
    with app.app_context():
        payments = db.session.scalars(sa.select(Payment)).all()
        assert len(payments) == codes["2002500"]
        allocated = db.session.scalar(sa.select(sa.func.sum(Allocation.amount_idr)))
        assert allocated == part_idr * codes["2002500"] <= vendor.owed_idr
        assert verify_ledger(db.session).ok


class TickingClock(clock.FrozenClock):
    """Every reading is a quarter of a second after the one before: concurrent calls arrive
    at different moments, whole seconds apart within a few readings."""

    def __init__(self, start: clock.FrozenClock) -> None:
        super().__init__(start.now())
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            self.advance(timedelta(milliseconds=250))
            return super().now()


def test_retries_racing_their_first_flag_are_quiet_replays(
    app: Flask, frozen_clock: clock.FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A flag without trxDateTime is paid when it arrived; its retries (flagAdvise=Y, other
    X-EXTERNAL-IDs) sent while it is still being processed arrive later. Each retry takes the
    first call's moment, so whichever records the payment, the others are replays with the
    same meaning: one payment, one answer, and no warning of a reference reused."""
    _reg, sim = bank(app)
    vendor = billed_vendor(app, months=("2026-10", "2026-11"))
    app.extensions[clock.EXTENSION_KEY] = TickingClock(frozen_clock)
    flags = [
        signed_flag(
            sim,
            vendor,
            vendor.owed_idr,
            request_id="RACE-1",
            external_id=f"EXT-RACE-{n}",
            flagAdvise="Y" if n else "N",
        )
        for n in range(20)
    ]
    with caplog.at_level(logging.WARNING, logger="payments.ledger"):
        answers = post_together(app, flags)
    assert Counter(a["responseCode"] for a in answers) == {"2002500": 20}, answers
    assert len({json.dumps(a, sort_keys=True) for a in answers}) == 1
    assert not [r for r in caplog.records if "reused" in r.getMessage()]
    with app.app_context():
        [payment] = db.session.scalars(sa.select(Payment)).all()
        assert payment.amount_idr == vendor.owed_idr
        assert verify_ledger(db.session).ok
