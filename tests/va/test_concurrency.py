"""Flags for one closed VA arriving at once, on both databases: the exact total is taken once.

Each thread has its own application context and connection. On PostgreSQL the ledger locks the
vendor and the bills; SQLite has no row locks, and the amount check is safe there only because
the payment's first write (claiming its reference) takes the database's write lock before the
open bills are read.
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from flask import Flask

from payments.models import Allocation, CreditEntry, Payment
from payments.verify import verify_ledger
from retribusi.extensions import db
from tests.va.fixtures import bank, billed_vendor, post_together, signed_flag

THREADS = 12


def test_many_full_payments_of_a_closed_va_at_once_record_one(app: Flask) -> None:
    _reg, sim = bank(app)
    vendor = billed_vendor(app, months=("2026-10", "2026-11"))
    requests = [
        signed_flag(sim, vendor, vendor.owed_idr, request_id=f"FULL-{n:03d}", external_id=f"F-{n}")
        for n in range(THREADS)
    ]
    answers = post_together(app, requests)
    codes = Counter(a["responseCode"] for a in answers)
    # One pays the total; every other finds nothing left to pay: none becomes credit.
    assert codes == {"2002500": 1, "4042514": THREADS - 1}, answers
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1
        assert db.session.scalar(sa.select(sa.func.sum(Allocation.amount_idr))) == vendor.owed_idr
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditEntry)) == 0
        assert verify_ledger(db.session).ok
