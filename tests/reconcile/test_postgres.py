"""Concurrency on PostgreSQL: runs, imports and people at once, and still nothing claimed twice."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from payments.models import Payment
from reconcile import actions
from reconcile.importing import ImportSummary, import_file
from reconcile.models import Claim, ImportedFile, Line, ReconException
from reconcile.runs import RunResult, run_reconciliation
from retribusi.errors import Conflict
from retribusi.extensions import db
from tests.factories import run_together
from tests.reconcile import factories as rf

pytestmark = pytest.mark.postgres
WHY = "dicek dengan rekening koran"


def setup_day(app: Flask) -> None:
    with app.app_context():
        bills = rf.bills_for("KLEWER", "GEDE", "LEGI")
        statement = rf.Mt940()
        for i, bill in enumerate(bills):
            va = f"8881000000000{i}"
            rf.va_payment(bill, 157_500, va=va, paid_at=rf.at(rf.DAY, 8, i))
            statement.credit(157_500, f"TRF VA {va}")
        statement.credit(9_999, "TRANSFER MASUK")
        import_file(statement.render(), "mt940", actor="t")


def test_runs_at_once_take_turns_and_claim_once(app: Flask) -> None:
    setup_day(app)
    results = run_together(app, [lambda: run_reconciliation(actor="t") for _ in range(3)])
    assert all(isinstance(r, RunResult) for r in results), results
    assert sorted(r.matched_count for r in results) == [0, 0, 3]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 3


def test_two_people_matching_one_line_at_once(app: Flask) -> None:
    setup_day(app)
    with app.app_context():
        bills = rf.bills_for()
        payments = [
            rf.va_payment(bills[0], 9_999, va="77700000000001", paid_at=rf.at(rf.DAY, 9, m))
            for m in range(2)
        ]
        line_id = db.session.scalars(
            sa.select(Line.id).where(Line.description == "TRANSFER MASUK")
        ).one()
    results = run_together(
        app,
        [
            lambda p=p: actions.match_line(
                line_id=line_id, actor="u", reason=WHY, payment_id=p.payment_id
            )
            for p in payments
        ],
    )
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(Claim).where(Claim.line_id == line_id)
            )
            == 1
        )


def test_a_person_and_a_run_at_once(app: Flask) -> None:
    setup_day(app)
    with app.app_context():
        line = db.session.scalars(
            sa.select(Line).where(Line.description == "TRF VA 88810000000000")
        ).one()
        payment_id = db.session.scalars(
            sa.select(Payment.id).where(Payment.va_number == "88810000000000")
        ).one()
        line_id = line.id
    results = run_together(
        app,
        [
            lambda: run_reconciliation(actor="t"),
            lambda: actions.match_line(
                line_id=line_id, actor="u", reason=WHY, payment_id=payment_id
            ),
        ],
    )
    with app.app_context():
        claims = db.session.scalar(
            sa.select(sa.func.count()).select_from(Claim).where(Claim.line_id == line_id)
        )
        assert claims == 1, results
        db.session.rollback()
    # Whoever lost was told, and a run afterwards leaves things as they are.
    assert all(isinstance(r, RunResult | actions.Matched | Conflict) for r in results), results
    with app.app_context():
        again = run_reconciliation(actor="t")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 3
        assert again.matched_count in (0, 1)
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(ReconException)
                .where(ReconException.line_id == line_id, ReconException.status == "open")
            )
            == 0
        )


def test_the_same_file_imported_twice_at_once_is_stored_once(app: Flask) -> None:
    data = rf.Mt940().credit(157_500, "TRF VA 88810000000001").credit(3_000, "X").render()
    results = run_together(app, [lambda: import_file(data, "mt940", actor="t") for _ in range(3)])
    assert all(isinstance(r, ImportSummary) for r in results), results
    assert sorted(r.seen_before for r in results) == [False, True, True]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportedFile)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Line)) == 2
