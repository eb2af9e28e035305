"""Reconciliation benchmark: a day's file of 50 000 lines imported, matched and committed in under
2 s; 1 000 000 lines against 1 000 000 bills in under 30 s end to end.

For each database (SQLite in a temporary folder; PostgreSQL too when ``TEST_DATABASE_URL`` is
set, in a scratch database ``bench_reconcile``, never ``test``) it builds a fresh migrated
database and, untimed, bulk-loads 44 markets and N vendors each holding a stall with one bill,
and N VA payments (with their allocations) as the VA channel records them. The bank's exports
are generated as BNI-style CSV files (``reconcile/profiles/bni.toml``): 97 % of the lines pay
their VA exactly, 1 % carry another amount, 1 % an unknown VA number, and 1 % are a second line
for a VA already paid (duplicates). Then it times, through the real services:

* ``day``: one file of 50 000 lines imported (parse, dedup, COPY) and one run (candidates by
  SQL joins, decisions, matches and claims written, exceptions kept, result hash), committed;
* ``month``: 1 000 000 lines in 20 daily files (the importers refuse a file over 50 MiB, about
  500 000 such lines) imported in their order by ``import_files`` (as ``retribusi reconcile
  import FILES…`` does: two processes, one reading the next file while the other stores), then
  one run over all of them.

Each figure is printed beside an in-memory hash join of the same data, keyed on (VA number,
amount) with claim-once (the floor: what matching costs without a database), with the ratio, and
with the process's peak resident memory during the timed work (and an import worker's). The
machine's load average is printed too: other work on the 2 cores inflates the figures.

    PYTHONPATH=. .venv/bin/python bench/bench_reconcile.py [--day 50000] [--month 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

import sqlalchemy as sa

from payments.models import Allocation, Payment
from reconcile.bulk import FastWriter, Kind
from reconcile.importing import ImportSummary, import_files
from reconcile.runs import run_reconciliation
from retribusi import clock, create_app
from retribusi.extensions import db
from retribusi.levy.models import Bill
from vendors.models import Block, Market, MarketClassPeriod, Placement, Stall, Vendor

DAY_TARGET_S = 2.0
MONTH_TARGET_S = 30.0
FILES = 20
TARIFFS = (2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 25_000, 75_000, 100_000, 157_500, 200_000)
HEADER = "Post Date,Value Date,Branch,Journal No.,Description,Debit,Credit\n"


def business_days(start: date, count: int) -> list[date]:
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


# --- memory -----------------------------------------------------------------------------------


def reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as handle:  # Linux: reset VmHWM to VmRSS now
            handle.write("5")
    except OSError:
        pass


def peak_mib() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_peak_mib() -> float:
    """The largest peak resident memory of a child process ended so far (the import workers)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


# --- data ---------------------------------------------------------------------------------------


def va_of(i: int) -> str:
    return f"8881{i:012d}"


def amount_of(i: int) -> int:
    return TARIFFS[i % len(TARIFFS)]


def bill_number(i: int) -> str:
    return f"SKRD/2026/11/PASAR{i % 44 + 1:02d}/{i:06d}"


def _bulk(session: Any, model: Any, columns: str, rows: Iterator[tuple[Any, ...]]) -> None:
    """Setup rows through the same bulk writer the import uses. ``columns``: "name:kind ..."."""
    kinds = {
        "i": Kind.INT,
        "t": Kind.TEXT,
        "d": Kind.DATE,
        "dt": Kind.DATETIME,
        "b": Kind.BOOL,
        "j": Kind.JSON,
    }
    spec = [(c.split(":")[0], kinds[c.split(":")[1]]) for c in columns.split()]
    FastWriter(session, model.__table__, spec).write(rows)


def populate(count: int, days: list[date]) -> None:
    """Markets, stalls, vendors, SHPs, one November bill each, and each bill's VA payment."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        # Setup only: skip per-row triggers (FKs, the ledger's guards) for the bulk load; the
        # timed work runs with every trigger in place.
        session.execute(sa.text("SET session_replication_role = replica"))
    now = clock.now()
    n = range(1, count + 1)
    _bulk(
        session,
        Market,
        "id:i code:t name:t kecamatan:t created_at:dt",
        ((m, f"PASAR{m:02d}", f"Pasar {m}", "Bench", now) for m in range(1, 45)),
    )
    _bulk(
        session,
        MarketClassPeriod,
        "market_id:i market_class:t valid_from:d source:t",
        ((m, "IA", date(2016, 1, 1), "bench") for m in range(1, 45)),
    )
    _bulk(
        session,
        Block,
        "id:i market_id:i code:t name:t",
        ((m, m, "A", "Blok A") for m in range(1, 45)),
    )
    _bulk(
        session,
        Stall,
        "id:i market_id:i block_id:i number:t stall_type:t area_m2:t "
        "tntd_idr_per_m2:i status:t created_at:dt",
        ((i, i % 44 + 1, i % 44 + 1, f"{i:07d}", "kios", "5", None, "active", now) for i in n),
    )
    _bulk(
        session,
        Vendor,
        "id:i nik:t full_name:t phone:t created_at:dt",
        ((i, f"3372{i:012d}", f"Pedagang {i}", f"62812{i:08d}", now) for i in n),
    )
    _bulk(
        session,
        Placement,
        "id:i number:t vendor_id:i stall_id:i start_on:d expires_on:d "
        "ended_on:d status:t created_at:dt",
        (
            (i, f"SHP/{i:07d}", i, i, date(2025, 1, 1), date(2028, 1, 1), None, "active", now)
            for i in n
        ),
    )
    _bulk(
        session,
        Bill,
        "id:i number:t number_seq:i kind:t period:t period_start:d period_end:d "
        "service_from:d service_to:d placement_id:i vendor_id:i stall_id:i market_id:i "
        "block_id:i stall_type:t area_m2:t principal_idr:i issued_on:d due_on:d issued_at:dt "
        "issued_by:t status:t month_days_rule:t rounding_rule:t "
        "sanction_rate_pct_per_month:t sanction_cap_months:i sanction_part_month_counts:b "
        "illustrative:b",
        (
            (
                i,
                bill_number(i),
                i,
                "monthly",
                "2026-11",
                date(2026, 11, 1),
                date(2026, 11, 30),
                date(2026, 11, 1),
                date(2026, 11, 30),
                i,
                i,
                i,
                i % 44 + 1,
                i % 44 + 1,
                "kios",
                "5",
                amount_of(i),
                date(2026, 11, 1),
                date(2026, 11, 15),
                now,
                "bench",
                "paid",
                "actual",
                "half_up",
                "1",
                24,
                True,
                True,
            )
            for i in n
        ),
    )
    paid = {}
    for i in n:
        day = days[(i - 1) * len(days) // count]
        paid[i] = (day, datetime.combine(day, dtime(8, 0), tzinfo=clock.JAKARTA).astimezone(UTC))
    _bulk(
        session,
        Payment,
        "id:i channel:t sender:t external_ref:t vendor_id:i market_id:i "
        "va_number:t amount_idr:i paid_at:dt paid_on:d received_at:dt request_hash:t "
        "recorded_by:t raw:j target_bill_ids:j flags:j",
        (
            (
                i,
                "va",
                "bank_jateng",
                f"PRQ{i:012d}",
                i,
                i % 44 + 1,
                va_of(i),
                amount_of(i),
                paid[i][1],
                paid[i][0],
                paid[i][1],
                hashlib.sha256(str(i).encode()).hexdigest(),
                "bench",
                {},
                [],
                {},
            )
            for i in n
        ),
    )
    _bulk(
        session,
        Allocation,
        "payment_id:i bill_id:i component:t amount_idr:i reversal_id:i "
        "paid_on:d from_credit:b created_at:dt",
        ((i, i, "principal", amount_of(i), None, paid[i][0], False, now) for i in n),
    )
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        # A ledger that grew over months has statistics (autovacuum keeps them); a bulk-loaded
        # one has none until analysed.
        session.execute(sa.text("SET session_replication_role = origin"))
        session.execute(sa.text("ANALYZE"))
        session.commit()


def lines_for(count: int, days: list[date]) -> tuple[list[bytes], list[tuple[str, int]]]:
    """The bank's CSV exports, one per day, and the (VA, amount) of every line (for the floor)."""
    per_day: dict[date, list[str]] = {day: [] for day in days}
    keys: list[tuple[str, int]] = []
    journal = 0
    for i in range(1, count + 1):
        day = days[(i - 1) * len(days) // count]
        va, amount = va_of(i), amount_of(i)
        if i % 100 == 1:
            va = f"8889{i:012d}"  # unknown VA number
        elif i % 100 == 2:
            amount += 1_000  # another amount
        copies = 2 if i % 100 == 3 else 1  # a second line for the same payment
        for _ in range(copies):
            journal += 1
            stamp = day.strftime("%d/%m/%Y")
            per_day[day].append(
                f"{stamp} 08:15:00,{stamp},0123,J{journal:010d},TRF VA {va} {bill_number(i)},"
                f'0.00,"{amount:,}.00"\n'
            )
            keys.append((va, amount))
    files = [(HEADER + "".join(per_day[day])).encode() for day in days]
    return files, keys


def floor_join(payments: list[tuple[str, int]], lines: list[tuple[str, int]]) -> tuple[float, int]:
    """In-memory hash join on (VA, amount), each payment claimed once: the cost without a DB."""
    started = time.perf_counter()
    open_payments = Counter(payments)
    matched = 0
    for key in lines:
        if open_payments[key] > 0:
            open_payments[key] -= 1
            matched += 1
    return time.perf_counter() - started, matched


# --- measuring --------------------------------------------------------------------------------


def measure(
    url: str, label: str, count: int, files_count: int, target_s: float, as_of: date
) -> bool:
    from flask_migrate import upgrade

    days = business_days(as_of - timedelta(days=40), 400)
    days = [d for d in days if d <= as_of][-files_count:]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "bench"})
    end_of_day = datetime.combine(as_of, dtime(23, 0), tzinfo=clock.JAKARTA)
    app.extensions[clock.EXTENSION_KEY] = clock.FrozenClock(end_of_day)
    with app.app_context():
        upgrade()
        populate(count, days)
        files, line_keys = lines_for(count, days)
        floor_s, floor_matched = floor_join(
            [(va_of(i), amount_of(i)) for i in range(1, count + 1)], line_keys
        )
        load_before = os.getloadavg()[0]
        reset_peak()
        started = time.perf_counter()
        outcomes = import_files(
            [(f"day-{n}.csv", data) for n, data in enumerate(files)],
            "bank_csv",
            actor="bench",
            profile="bni",
            account_id="0123456789",
        )
        imported = sum(o.lines_new for o in outcomes if isinstance(o, ImportSummary))
        import_s = time.perf_counter() - started
        run = run_reconciliation(actor="bench", as_of=as_of)
        total_s = time.perf_counter() - started
        peak = peak_mib()
        load_after = os.getloadavg()[0]
        again = run_reconciliation(actor="bench", as_of=as_of)
        db.engine.dispose()
    ok = total_s < target_s and run.matched_count == floor_matched and imported == len(line_keys)
    backend = sa.make_url(url).get_backend_name()
    print(
        f"{backend} {label}: {len(line_keys)} lines in {len(files)} file(s) against {count}"
        " bills and payments"
    )
    print(
        f"  import {import_s:.2f} s + run {total_s - import_s:.2f} s = {total_s:.2f} s end to end"
        f" (target < {target_s:.0f} s) {'PASS' if total_s < target_s else 'FAIL'}"
    )
    print(
        f"  matched {run.matched_count} (floor {floor_matched}); exceptions"
        f" {sum(e['open'] for e in run.exceptions.values())}: "
        + ", ".join(f"{k} {v['open']}" for k, v in run.exceptions.items())
    )
    print(
        f"  in-memory hash join of the same data {floor_s * 1000:.0f} ms: ratio"
        f" {total_s / floor_s:.0f}x end to end, {(total_s - import_s) / floor_s:.0f}x for the run"
    )
    worker = worker_peak_mib()
    workers = f" (an import worker at most {worker:.0f} MiB)" if worker else ""
    print(
        f"  peak resident memory {peak:.0f} MiB{workers}; load average {load_before:.2f} ->"
        f" {load_after:.2f}"
    )
    print(
        f"  re-run: {again.matched_count} matched, {again.opened} opened, {again.duration_s:.2f} s"
    )
    return ok


def _postgres_scratch(base: str) -> str:
    url = sa.make_url(base).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "bench_reconcile" WITH (FORCE)'))
        conn.execute(sa.text('CREATE DATABASE "bench_reconcile"'))
    admin.dispose()
    return url.set(database="bench_reconcile").render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=int, default=50_000, help="lines of the day's file")
    parser.add_argument(
        "--month", type=int, default=1_000_000, help="lines (and bills) of the month"
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-day", action="store_true")
    parser.add_argument("--skip-month", action="store_true")
    args = parser.parse_args()
    as_of = date(2026, 11, 27)  # a Friday
    results = []
    pg = os.environ.get("TEST_DATABASE_URL", "")
    targets = []
    if not args.skip_sqlite:
        targets.append("sqlite")
    if pg.startswith("postgres"):
        targets.append("postgresql")
    else:
        print("postgresql skipped: set TEST_DATABASE_URL=postgresql://... to measure it too")
    for backend in targets:
        scenarios = [] if args.skip_day else [("day", args.day, 1, DAY_TARGET_S)]
        if not args.skip_month:
            scenarios.append(("month", args.month, FILES, MONTH_TARGET_S))
        for label, count, files, target in scenarios:
            with tempfile.TemporaryDirectory() as folder:
                url = (
                    f"sqlite:///{folder}/bench.db" if backend == "sqlite" else _postgres_scratch(pg)
                )
                results.append(measure(url, label, count, files, target, as_of))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
