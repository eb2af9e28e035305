"""Reconciliation tests: after every test that built an application, every invariant holds.

The check is the real ``retribusi reconcile verify`` (and the ledger's own), against the test's
real database: every imported line in exactly one state, nothing claimed twice, every file's
lines counted, Σ explained = Σ credited for every settlement batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from payments.verify import verify_ledger
from reconcile.verify import verify_reconciliation
from retribusi.extensions import db


@pytest.fixture(autouse=True)
def invariants(request: pytest.FixtureRequest) -> Iterator[None]:
    # Set up after ``app`` (so torn down before it truncates anything).
    app: Any = request.getfixturevalue("app") if "app" in request.fixturenames else None
    yield
    if app is None or getattr(request.node, "skip_invariants", False):
        return
    with app.app_context():
        report = verify_reconciliation(db.session)
        ledger = verify_ledger(db.session)
        db.session.rollback()
    assert report.ok, report.to_dict()["violations"]
    assert ledger.ok, [v.to_dict() for v in ledger.violations]
