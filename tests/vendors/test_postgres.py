"""Concurrency on PostgreSQL: one stall, many officers at once; one file, two imports at once."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from retribusi.extensions import db
from tests.factories import run_together
from tests.vendors import factories as f
from vendors.importer import import_vendors
from vendors.models import Placement, PlacementStatus, Vendor
from vendors.placements import issue_placement
from vendors.problems import VendorConflict

pytestmark = pytest.mark.postgres
THREADS = 6


def test_only_one_shp_in_force_however_many_officers_issue_at_once(app: Flask) -> None:
    with app.app_context():
        f.markets()
        stall_id = f.stall("KLEWER", "A", "001").id
        vendor_ids = [f.vendor(n).id for n in range(1, THREADS + 1)]

    def issue(vendor_id: int) -> object:
        return lambda: issue_placement(
            vendor_id=vendor_id, stall_id=stall_id, start_on=date(2026, 1, 1), actor=f.ADMIN
        )

    results = run_together(app, [issue(v) for v in vendor_ids])
    winners = [r for r in results if isinstance(r, Placement)]
    assert len(winners) == 1
    assert all(isinstance(r, VendorConflict) for r in results if r not in winners), results
    with app.app_context():
        active = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Placement)
            .where(Placement.stall_id == stall_id, Placement.status == PlacementStatus.ACTIVE)
        )
        assert active == 1


def test_the_same_file_imported_twice_at_once_is_written_once(app: Flask) -> None:
    with app.app_context():
        f.markets()
    data = f.csv_bytes([f.row(n) for n in range(1, 201)])
    results = run_together(app, [lambda: import_vendors(data, actor=f.ADMIN) for _ in range(2)])
    assert sum(not isinstance(r, Exception) for r in results) >= 1
    assert all(isinstance(r, VendorConflict) for r in results if isinstance(r, Exception)), results
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Vendor)) == 200
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Placement)) == 200
