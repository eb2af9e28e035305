"""Billing run benchmark: 100 000 placements billed and committed in under 10 s.

Builds a fresh database (SQLite in a temporary folder; PostgreSQL too when ``TEST_DATABASE_URL``
is set, in a scratch database ``rt_levy_bench``), migrates it, bulk-loads 44 markets and 100 000
stalls, vendors and SHPs (48 % kios, 50 % los, 2 % pelataran), loads the illustrative tariffs,
then times ``retribusi billing issue`` runs (reading, pricing, numbering, inserting bills and
lines, committing) on 1 December 2026:

* the month's run (the target): December for every kios and los, plus each pelataran's karcis
  for the 1st; a second run must bill nothing;
* a catch-up of the whole of November, reported beside it: the same kios and los, plus a
  karcis for each of the 30 days of every pelataran, 58 % more bills than placements.

    PYTHONPATH=. .venv/bin/python bench/bench_billing.py [--placements N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from retribusi import clock, create_app
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.tariffs import load_illustrative_tariffs
from vendors.models import (
    Block,
    Market,
    MarketClassPeriod,
    Placement,
    Stall,
    Vendor,
)

TARGET_S = 10.0
PERIOD = "2026-12"
CATCH_UP = "2026-11"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 10:00 in Solo on the 1st
CLASSES = ("IA", "IB", "IIA", "IIB", "IIIA", "IIIB")
AREAS = tuple(Decimal(a) for a in ("2.25", "4", "5", "6", "9", "12"))
# SHPs are issued for kios and los (Perda 1/2010 Pasal 25); a few pelataran hold standing
# rights and get a karcis for every day of the month, so they weigh 30 bills each.
MIX = (("kios", 48), ("los", 50), ("pelataran", 2))
CHUNK = 10_000


def _insert(table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(sa.insert(table), rows[start : start + CHUNK])


def populate(placements: int) -> None:
    now = clock.now()
    _insert(
        Market,
        [
            {
                "id": m,
                "code": f"PASAR{m:02d}",
                "name": f"Pasar {m}",
                "kecamatan": "Bench",
                "created_at": now,
            }
            for m in range(1, 45)
        ],
    )
    _insert(
        MarketClassPeriod,
        [
            {
                "market_id": m,
                "market_class": CLASSES[m % 6],
                "valid_from": date(2016, 1, 1),
                "source": "bench",
            }
            for m in range(1, 45)
        ],
    )
    _insert(
        Block,
        [
            {"id": (m - 1) * 10 + b, "market_id": m, "code": f"B{b}", "name": f"Blok {b}"}
            for m in range(1, 45)
            for b in range(1, 11)
        ],
    )
    types = [t for t, share in MIX for _ in range(share)]
    stalls, vendors, shps = [], [], []
    for n in range(1, placements + 1):
        market_id = n % 44 + 1
        block_id = (market_id - 1) * 10 + n % 10 + 1
        stall_type = types[n % len(types)]
        stalls.append(
            {
                "id": n,
                "market_id": market_id,
                "block_id": block_id,
                "number": f"{n:06d}",
                "stall_type": stall_type,
                "area_m2": AREAS[n % len(AREAS)],
                "tntd_idr_per_m2": None if n % 3 else 500_000,
                "status": "active",
                "created_at": now,
            }
        )
        vendors.append(
            {
                "id": n,
                "nik": f"3372{n:012d}",
                "full_name": f"Pedagang {n}",
                "phone": f"62812{n:08d}",
                "created_at": now,
            }
        )
        start = date(2025, 1 + n % 12, 1) if n % 50 else date(2026, 11, 1 + n % 28)
        shps.append(
            {
                "id": n,
                "number": f"SHP/{n:07d}",
                "vendor_id": n,
                "stall_id": n,
                "start_on": start,
                "expires_on": date(start.year + 3, start.month, start.day),
                "ended_on": None,
                "status": "active",
                "created_at": now,
            }
        )
    _insert(Stall, stalls)
    _insert(Vendor, vendors)
    _insert(Placement, shps)
    db.session.commit()


def _timed(period: str) -> tuple[Any, float]:
    started = time.perf_counter()
    summary = issue_bills(period, actor="bench")
    return summary, time.perf_counter() - started


def _line(label: str, placements: int, summary: Any, elapsed: float, verdict: str) -> str:
    return (
        f"  {label:<22} {placements} placements -> {summary.bills} bills ({summary.monthly} "
        f"monthly, {summary.daily} karcis), {summary.lines} lines: {elapsed:.2f} s "
        f"(target < {TARGET_S:.0f} s) {verdict}"
    )


def run(url: str, placements: int) -> bool:
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "bench"})
    app.extensions[clock.EXTENSION_KEY] = clock.FrozenClock(NOW)
    with app.app_context():
        upgrade()
        populate(placements)
        load_illustrative_tariffs(actor="bench")
        month, month_s = _timed(PERIOD)
        again, again_s = _timed(PERIOD)
        catch_up, catch_up_s = _timed(CATCH_UP)
        db.engine.dispose()
    ok = month_s < TARGET_S and month.skipped == {} and again.bills == 0
    print(sa.make_url(url).get_backend_name())
    print(_line(f"month run {PERIOD}", placements, month, month_s, "PASS" if ok else "FAIL"))
    print(
        f"  re-run of {PERIOD}: {again.bills} bills, {again.already_billed} already billed, "
        f"{again_s:.2f} s"
    )
    verdict = "within target" if catch_up_s < TARGET_S else "over target (reported)"
    print(_line(f"catch-up {CATCH_UP}", placements, catch_up, catch_up_s, verdict))
    return ok


def _postgres_scratch(base: str) -> str:
    url = sa.make_url(base).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "rt_levy_bench" WITH (FORCE)'))
        conn.execute(sa.text('CREATE DATABASE "rt_levy_bench"'))
    admin.dispose()
    return url.set(database="rt_levy_bench").render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--placements", type=int, default=100_000)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(run(f"sqlite:///{folder}/bench.db", args.placements))
    pg = os.environ.get("TEST_DATABASE_URL", "")
    if pg.startswith("postgres"):
        results.append(run(_postgres_scratch(pg), args.placements))
    else:
        print("postgresql skipped: set TEST_DATABASE_URL=postgresql://... to measure it too")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
