"""The demo's simulated day: VA and QRIS payments from the simulators, the simulated bank's
MT940 and the acquirer's settlement report, reconciled with every line explained."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from payments.models import Channel, Payment
from reconcile.demo import SIM_DAY_QRIS, SIM_DAY_VA, simulated_day
from reconcile.models import Claim, ImportedFile, Line, ReconException
from reconcile.runs import run_reconciliation
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from tests.levy import factories as f
from tests.reconcile.factories import DAY


def test_a_simulated_day_reconciles_with_every_line_explained(
    app: Flask, runner: FlaskCliRunner
) -> None:
    assert runner.invoke(args=["sim", "setup"]).exit_code == 0
    assert runner.invoke(args=["sim", "qris", "setup"]).exit_code == 0
    with app.app_context():
        f.illustrative_tariffs()
        for market in ("KLEWER", "KLEWER", "GEDE", "GEDE", "LEGI", "LEGI", "LEGI", "LEGI"):
            f.holding(market, area_m2="5")
        issue_bills("2026-11", actor="test", issued_on=DAY)

        imported = simulated_day()
        assert [i["file"] for i in imported] == [
            f"sim-settlement-{DAY}.csv",
            f"sim-statement-{DAY}.mt940",
        ]
        paid = list(db.session.scalars(sa.select(Payment).order_by(Payment.id)))
        channels = [p.channel for p in paid]
        assert channels == [Channel.VA] * SIM_DAY_VA + [Channel.QRIS] * SIM_DAY_QRIS
        # The statement: a credit per VA payment and one for the QRIS batch; the report: a row
        # per QRIS payment.
        assert [i["new"] for i in imported] == [SIM_DAY_QRIS, SIM_DAY_VA + 1]

        run = run_reconciliation(actor="test")
        assert run.exceptions == {}
        lines = db.session.scalars(sa.select(Line)).all()
        claimed = set(db.session.scalars(sa.select(Claim.line_id)))
        assert len(lines) == SIM_DAY_VA + 1 + SIM_DAY_QRIS
        assert {line.id for line in lines} <= claimed
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReconException)) == 0

        # Once: the bank's journal remembers the day, so the demo run again adds nothing.
        assert simulated_day() == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == len(paid)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportedFile)) == 2
