"""Vendor import benchmark: a 10 000-row file checked and committed in under 10 s.

Builds a fresh database (SQLite in a temporary folder; PostgreSQL too, in a scratch database
``rt_vendors_bench``, when ``TEST_DATABASE_URL`` or ``BENCH_PG_URL`` names a server), migrates it,
loads the 44 markets, then times on the same 10 000-row CSV (new stalls, vendors and SHPs in every
market; some vendors hold two stalls):

* ``check``: ``--dry-run``, every row checked against the file and the registry, nothing written;
* ``import``: checked and committed in one transaction (the target);
* ``again``: the same file once more, which must change nothing.

    PYTHONPATH=. .venv/bin/python bench/bench_vendor_import.py [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from retribusi import clock, create_app
from retribusi.extensions import db
from vendors.importer import import_vendors
from vendors.models import Placement, Vendor
from vendors.nik import Sex, make_nik
from vendors.services import Actor, load_markets, market_list_rows

TARGET_S = 10.0
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
HEADER = (
    "market_code", "block", "stall_number", "stall_type", "area_m2", "nik", "name", "phone",
    "shp_number", "shp_start", "tntd_idr_per_m2", "proxy_name", "proxy_phone",
)  # fmt: skip
AREAS = ("2.25", "4", "5", "6", "9")


def make_file(rows: int) -> bytes:
    """``rows`` SHPs over the 44 markets; every tenth vendor holds the stall next to theirs."""
    codes = [r.code for r in market_list_rows()]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    vendor = 0
    for n in range(rows):
        second = n % 10 == 9  # the same vendor as the row before
        if not second:
            vendor += 1
        born = date(1950, 1, 1) + timedelta(days=vendor % 18000)
        sex = Sex.FEMALE if vendor % 3 else Sex.MALE
        district = vendor // 9000 % 5 + 1
        nik = make_nik(f"33720{district}", born, sex, vendor % 9000 + 1)
        market = codes[n % len(codes)]
        stall_type = "kios" if n % 2 else "los"
        writer.writerow(
            [
                market,
                f"X{n // 2000 + 1}",
                f"{stall_type[0].upper()}{n:05d}",
                stall_type,
                AREAS[n % len(AREAS)],
                nik,
                f"Pedagang Bench {vendor}",
                f"0813{vendor:08d}",
                f"SHP/BENCH/{n:06d}",
                (date(2024, 1, 1) + timedelta(days=n % 900)).isoformat(),
                "" if n % 17 == 0 else str(500_000 + (n % 5) * 100_000),
                "Anak" if vendor % 7 == 0 else "",
                f"0857{vendor:08d}" if vendor % 7 == 0 else "",
            ]
        )
    return out.getvalue().encode("utf-8")


def run(url: str, data: bytes, rows: int) -> dict[str, float]:
    from flask_migrate import upgrade

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "VENDORS_IMPORT_MAX_ROWS": max(rows, 20_000),
            "VENDORS_IMPORT_MAX_BYTES": max(len(data) + 1, 8 * 1024 * 1024),
        }
    )
    app.extensions[clock.EXTENSION_KEY] = clock.FrozenClock(NOW)
    figures: dict[str, float] = {}
    with app.app_context():
        upgrade()
        load_markets(Actor.system("bench"))
        for label, dry in (("check", True), ("import", False), ("again", False)):
            start = time.perf_counter()
            report = import_vendors(data, actor=Actor.system("bench"), dry_run=dry)
            figures[label] = time.perf_counter() - start
            assert report.rows == rows
        assert report.unchanged_rows == rows, "the second import changed something"
        placements = db.session.scalar(sa.select(sa.func.count()).select_from(Placement))
        vendors = db.session.scalar(sa.select(sa.func.count()).select_from(Vendor))
        assert placements == rows, placements
        figures["vendors"] = float(vendors or 0)
        db.session.remove()
        db.engine.dispose()
    return figures


def _pg_scratch(server_url: str) -> str:
    url = sa.make_url(server_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "rt_vendors_bench" WITH (FORCE)'))
        conn.execute(sa.text('CREATE DATABASE "rt_vendors_bench"'))
    admin.dispose()
    return url.set(database="rt_vendors_bench").render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    data = make_file(args.rows)
    print(f"file: {args.rows} rows, {len(data) / 1e6:.2f} MB")
    targets = {}
    with tempfile.TemporaryDirectory() as folder:
        targets["sqlite"] = f"sqlite:///{os.path.join(folder, 'bench.db')}"
        server = os.environ.get("BENCH_PG_URL") or os.environ.get("TEST_DATABASE_URL")
        if server:
            targets["postgresql"] = _pg_scratch(server)
        ok = True
        for name, url in targets.items():
            figures = run(url, data, args.rows)
            passed = figures["import"] < TARGET_S
            ok &= passed
            print(
                f"{name:<10} check {figures['check']:6.2f} s   "
                f"import {figures['import']:6.2f} s (target < {TARGET_S:.0f} s: "
                f"{'pass' if passed else 'FAIL'})   "
                f"again {figures['again']:6.2f} s   vendors {figures['vendors']:.0f}"
            )
        if not server:
            print("postgresql: skipped (set TEST_DATABASE_URL or BENCH_PG_URL)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
