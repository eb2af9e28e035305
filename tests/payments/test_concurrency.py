"""Payments arriving at the same moment, on real concurrent connections: a replay storm records
one payment, and many payments for one vendor never over-allocate a bill.

Each thread has its own application context, hence its own session and its own database
connection (the suite's engines use NullPool), and all of them wait at a barrier so that they
really do hit the database together. PostgreSQL runs the full 50; SQLite, whose writers take
turns on one file lock, runs fewer threads through the same code.
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from flask import Flask

from payments.ledger import Recorded, record_payment
from payments.models import Allocation, Component, CreditEntry, Payment, Receipt
from payments.verify import verify_ledger
from retribusi.auth.models import Role
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.models import Bill
from tests.levy import factories as f
from tests.payments.factories import api_headers, payment_in

T = TypeVar("T")
PG_THREADS = int(os.environ.get("RETRIBUSI_CONCURRENCY_THREADS", "50"))
SQLITE_THREADS = 12


def together(app: Flask, count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` in ``count`` threads released at once; re-raise the first failure."""
    barrier = threading.Barrier(count, timeout=60)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                results[i] = work(i)
                db.session.remove()
        except BaseException as error:  # reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread never finished"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def vendor(app: Flask) -> dict[str, Any]:
    """A Klewer vendor owing four months."""
    with app.app_context():
        f.illustrative_tariffs()
        holding = f.holding("KLEWER", area_m2="5")
        for month in ("2026-08", "2026-09", "2026-10", "2026-11"):
            first = date(int(month[:4]), int(month[5:]), 1)
            issue_bills(month, actor="t", issued_on=first)
        owed = sum(
            b.principal_idr
            for b in db.session.scalars(sa.select(Bill).where(Bill.vendor_id == holding.vendor.id))
        )
        return {"id": holding.vendor.id, "owed": owed}


def check_ledger(app: Flask) -> None:
    with app.app_context():
        report = verify_ledger(db.session)
        assert report.ok, [v.to_dict() for v in report.violations]
        for bill in db.session.scalars(sa.select(Bill)):
            principal = db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(Allocation.amount_idr), 0)).where(
                    Allocation.bill_id == bill.id, Allocation.component == Component.PRINCIPAL
                )
            )
            assert principal <= bill.principal_idr


def identical_storm(app: Flask, vendor: dict[str, Any], threads: int) -> None:
    with app.app_context():
        incoming = payment_in(vendor["id"], 200_000, ref="BANK-STORM-1")
    results: list[Recorded] = together(app, threads, lambda _i: record_payment(incoming))
    assert len({r.payment_id for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False] + [True] * (threads - 1)
    assert len({(r.receipt_number, r.bills) for r in results}) == 1
    with app.app_context():
        assert (f.count(Payment), f.count(Receipt)) == (1, 1)
        assert db.session.scalar(sa.select(sa.func.sum(Allocation.amount_idr))) == 200_000
    check_ledger(app)


def many_for_one_vendor(app: Flask, vendor: dict[str, Any], threads: int) -> None:
    rng = random.Random(threads)
    # About 1.5 times what is owed in all, in uneven amounts.
    share = vendor["owed"] // threads
    amounts = [rng.randrange(share // 2, share * 5 // 2, 500) for _ in range(threads)]
    # Some aim at a bill (a dynamic QRIS code), most pay oldest first.
    with app.app_context():
        bill_ids = db.session.scalars(sa.select(Bill.id).order_by(Bill.due_on)).all()
    targets = [(rng.choice(bill_ids),) if rng.random() < 0.3 else () for _ in range(threads)]
    assert sum(amounts) > vendor["owed"]  # more than is owed: credit is made too

    def one(i: int) -> Recorded:
        return record_payment(
            payment_in(vendor["id"], amounts[i], ref=f"RACE-{i:03d}", targets=targets[i])
        )

    results = together(app, threads, one)
    assert len({r.payment_id for r in results}) == threads
    assert not any(r.replayed for r in results)
    assert len({r.receipt_number for r in results}) == threads
    with app.app_context():
        assert f.count(Payment) == threads
        allocated = db.session.scalar(sa.select(sa.func.sum(Allocation.amount_idr))) or 0
        credit = db.session.scalar(sa.select(sa.func.sum(CreditEntry.amount_idr))) or 0
        assert allocated + credit == sum(amounts)
        numbers = sorted(db.session.scalars(sa.select(Receipt.seq)))
        assert numbers == list(range(1, threads + 1))  # no gap, no repeat
    check_ledger(app)


def cash_storm(app: Flask, vendor: dict[str, Any], threads: int) -> None:
    from flask.testing import FlaskClient

    client: FlaskClient = app.test_client()
    officer = api_headers(app, client, Role.OFFICER, market_codes=("KLEWER",))
    headers = {**officer.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"vendor_id": vendor["id"], "market": "KLEWER", "amount_idr": 75_000}

    def send(_i: int) -> tuple[int, int]:
        response = app.test_client().post("/api/v1/cash-payments", json=body, headers=headers)
        return response.status_code, response.get_json().get("payment_id", 0)

    answers = together(app, threads, send)
    assert sorted(status for status, _ in answers) == [200] * (threads - 1) + [201]
    assert len({payment_id for _, payment_id in answers}) == 1
    with app.app_context():
        assert f.count(Payment) == 1
    check_ledger(app)


@pytest.mark.postgres
def test_fifty_identical_payments_at_once_record_one(app: Flask, vendor: dict[str, Any]) -> None:
    identical_storm(app, vendor, PG_THREADS)


@pytest.mark.postgres
def test_fifty_payments_for_one_vendor_at_once_never_over_allocate(
    app: Flask, vendor: dict[str, Any]
) -> None:
    many_for_one_vendor(app, vendor, PG_THREADS)


@pytest.mark.postgres
def test_a_cash_resend_storm_records_once(app: Flask, vendor: dict[str, Any]) -> None:
    cash_storm(app, vendor, 20)


# The same races with fewer threads run in the ordinary suite too (SQLite by default), where
# the writers queue on the database file's lock instead of on row locks.


def test_identical_payments_from_threads_record_one(app: Flask, vendor: dict[str, Any]) -> None:
    identical_storm(app, vendor, SQLITE_THREADS)


def test_payments_for_one_vendor_from_threads_never_over_allocate(
    app: Flask, vendor: dict[str, Any]
) -> None:
    many_for_one_vendor(app, vendor, SQLITE_THREADS)


def test_a_cash_resend_from_threads_records_once(app: Flask, vendor: dict[str, Any]) -> None:
    cash_storm(app, vendor, 6)
