"""Payment core benchmark: what recording a payment, answering a replay, drawing a receipt and
verifying the ledger cost, on SQLite (and PostgreSQL when ``TEST_DATABASE_URL`` is set, in a
scratch database ``rt_payments_bench``).

A fresh migrated database gets 2 000 Klewer vendors, each with a kios billed for September to
November 2026; then, on 23 November 2026:

* ``record_payment``: one payment each for N vendors, one after another, each its own
  transaction (insert, lock, allocate oldest first, credit, bill status, receipt, commit);
* a replay of each (the same message again): the first answer, nothing written;
* receipts as PDF (58 mm and A6) and the public check of a token;
* ``verify_ledger`` over everything.

    PYTHONPATH=. .venv/bin/python bench/bench_payments.py [--payments N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from payments.ledger import PaymentIn, record_payment
from payments.models import Channel, Payment
from payments.receipts import receipt_pdf, receipt_view, verify_receipt
from payments.verify import verify_ledger
from retribusi import clock, create_app
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.tariffs import load_illustrative_tariffs
from vendors.models import Block, Market, MarketClassPeriod, Placement, Stall, Vendor

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Solo
VENDORS = 2000


def _populate(vendors: int) -> None:
    load_illustrative_tariffs(actor="bench")
    market = Market(code="KLEWER", name="Pasar Klewer", kecamatan="Pasar Kliwon", created_at=NOW)
    db.session.add(market)
    db.session.flush()
    db.session.add(
        MarketClassPeriod(
            market_id=market.id, market_class="IA", valid_from=date(2016, 1, 1), source="bench"
        )
    )
    block = Block(market_id=market.id, code="A", name="Blok A")
    db.session.add(block)
    db.session.flush()
    for n in range(1, vendors + 1):
        stall = Stall(
            market_id=market.id,
            block_id=block.id,
            number=f"{n:04d}",
            stall_type="kios",
            area_m2=Decimal(5),
            tntd_idr_per_m2=950_000,
            status="active",
            created_at=NOW,
        )
        vendor = Vendor(
            nik=f"3372{n:012d}", full_name=f"Pedagang {n}", phone=f"62812{n:08d}", created_at=NOW
        )
        db.session.add_all([stall, vendor])
        db.session.flush()
        db.session.add(
            Placement(
                number=f"SHP/B/{n:05d}",
                vendor_id=vendor.id,
                stall_id=stall.id,
                start_on=date(2025, 1, 1),
                expires_on=date(2028, 1, 1),
                status="active",
                created_at=NOW,
            )
        )
    db.session.commit()
    for month in ("2026-09", "2026-10", "2026-11"):
        issue_bills(month, actor="bench", issued_on=date(2026, int(month[5:]), 1))


def _timed(work: Callable[[], Any], count: int) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for _ in range(count):
        start = time.perf_counter()
        results.append(work())
        times.append((time.perf_counter() - start) * 1000)
    return times, results


def _report(label: str, times_ms: list[float]) -> None:
    times_ms = sorted(times_ms)
    p99 = times_ms[min(len(times_ms) - 1, int(len(times_ms) * 0.99))]
    print(
        f"  {label:<34} n={len(times_ms):<5} p50 {statistics.median(times_ms):7.2f} ms"
        f"  p99 {p99:7.2f} ms  ({1000 / statistics.mean(times_ms):6.1f}/s)"
    )


def run(url: str, payments: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True})
    app.extensions[clock.EXTENSION_KEY] = clock.FrozenClock(NOW)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        _populate(max(VENDORS, payments))
        vendor_ids = list(db.session.scalars(sa.select(Vendor.id).order_by(Vendor.id)))[:payments]
        messages = iter(
            PaymentIn(
                channel=Channel.COUNTER,
                sender="bench",
                external_ref=f"B-{vendor_id}",
                vendor_id=vendor_id,
                amount_idr=200_000,  # the oldest month with its sanction, and part of the next
                paid_at=NOW,
                raw={},
                recorded_by="bench",
            )
            for vendor_id in vendor_ids
        )
        sent: list[PaymentIn] = []

        def one() -> Any:
            message = next(messages)
            sent.append(message)
            return record_payment(message)

        times, results = _timed(one, payments)
        _report("record_payment (new)", times)
        replays = iter(sent)
        times, again = _timed(lambda: record_payment(next(replays)), payments)
        assert all(r.replayed for r in again)
        _report("record_payment (replay)", times)
        payment = db.session.get(Payment, results[0].payment_id)
        assert payment is not None
        assert payment.receipt is not None
        view = receipt_view(payment)
        for paper in ("58mm", "a6"):
            times, _ = _timed(lambda paper=paper: receipt_pdf(view, paper), 20)
            _report(f"receipt PDF {paper}", times)
        token = payment.receipt.token
        times, _ = _timed(lambda: verify_receipt(token), 200)
        _report("verify_receipt (public check)", times)
        start = time.perf_counter()
        report = verify_ledger(db.session)
        elapsed = time.perf_counter() - start
        assert report.ok, report.violations[:3]
        print(
            f"  verify_ledger: {report.payments} payments, {report.bills} bills in {elapsed:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite")
        run(f"sqlite:///{folder}/bench.db", args.payments)
    pg = os.environ.get("TEST_DATABASE_URL")
    if pg:
        url = sa.make_url(pg).set(drivername="postgresql+psycopg")
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("DROP DATABASE IF EXISTS rt_payments_bench WITH (FORCE)"))
            conn.execute(sa.text("CREATE DATABASE rt_payments_bench"))
        print("PostgreSQL")
        run(
            url.set(database="rt_payments_bench").render_as_string(hide_password=False),
            args.payments,
        )
        with admin.connect() as conn:
            conn.execute(sa.text("DROP DATABASE IF EXISTS rt_payments_bench WITH (FORCE)"))
        admin.dispose()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
