"""The demo: a few hundred payments over the demo's bills, deposits, and a ledger that verifies."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from payments.models import Channel, Deposit, DepositStatus, Payment, PaymentReversal, Receipt
from reconcile.demo import SIM_DAY_QRIS, SIM_DAY_VA
from retribusi.extensions import db
from tests.levy import factories as f
from vendors.models import Vendor


def test_the_demo_pays_bills_deposits_cash_and_the_ledger_verifies(
    app: Flask, runner: FlaskCliRunner
) -> None:
    first = runner.invoke(args=["demo", "--json"])
    assert first.exit_code == 0, first.output
    made = json.loads(first.output)["payments"]
    assert made["counter"] >= 150 and made["cash"] >= 20 and made["deposits"] == 2
    verify = runner.invoke(args=["ledger", "verify", "--json"])
    assert verify.exit_code == 0, verify.output
    # The counter, the officer's cash, and the simulated day's VA and QRIS payments.
    simulated = SIM_DAY_VA + SIM_DAY_QRIS
    assert json.loads(verify.output)["payments"] == made["counter"] + made["cash"] + simulated
    with app.app_context():
        assert f.count(Receipt) == f.count(Payment)
        assert f.count(PaymentReversal) == 1
        statuses = sorted(
            d.verification.status.value
            for d in db.session.scalars(sa.select(Deposit))
            if d.verification is not None
        )
        assert statuses == [DepositStatus.DISCREPANCY.value, DepositStatus.VERIFIED.value]
        sri = db.session.scalars(sa.select(Vendor).where(Vendor.phone == "6281234567890")).one()
        channels = set(
            db.session.scalars(sa.select(Payment.channel).where(Payment.vendor_id == sri.id))
        )
        assert channels == {Channel.COUNTER, Channel.CASH}
        counts = (f.count(Payment), f.count(Deposit), f.audit_count())
    again = runner.invoke(args=["demo", "--json"])
    assert again.exit_code == 0
    assert json.loads(again.output)["payments"] == made
    with app.app_context():
        assert (f.count(Payment), f.count(Deposit), f.audit_count()) == counts
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
