"""A day of payments (VA and QRIS through the ledger, cash deposited by an officer) and the day's
MT940 statement and QRIS settlement report reconcile with every line explained, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from reconcile.models import Claim, ExceptionStatus, Line, ReconException
from retribusi.extensions import db
from tests.reconcile import factories as rf


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # The acquirer charges the regular 0.7 % MDR (it did not classify the merchant as P2G).
    return {**app_config, "RECONCILE_MDR": {rf.ACQUIRER: [["2023-07-01", "0.7"]]}}


def cli(runner: FlaskCliRunner, *args: str) -> dict[str, Any]:
    result = runner.invoke(args=["reconcile", *args, "--json"])
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.output)
    return body


def fee(gross: int) -> int:
    return (gross * 7 + 500) // 1000  # 0.7 %, half up per transaction


def build_day(app: Flask, tmp_path: Path) -> dict[str, Any]:
    with app.app_context():
        bills = rf.bills_for("KLEWER", "KLEWER", "KLEWER", "GEDE", "GEDE", "LEGI", "LEGI")
        day = rf.DAY
        va = [
            (bills[0], 157_500, "8881001234567001"),
            (bills[1], 100_000, "8881001234567002"),
            (bills[2], 157_500, "8881001234567003"),
        ]
        for i, (bill, amount, number) in enumerate(va):
            rf.va_payment(bill, amount, va=number, paid_at=rf.at(day, 8, 10 + i))
        qris = [(bills[3], 157_500, "633400000001"), (bills[4], 50_000, "633400000002")]
        for i, (bill, amount, rrn) in enumerate(qris):
            rf.qris_payment(bill, amount, rrn=rrn, paid_at=rf.at(day, 9, i))
        deposit = rf.cash_deposit(
            [(bills[5], 157_500), (bills[6], 20_000)],
            slip_ref="DEP-LEGI-20261123-01",
            deposited_on=day,
            paid_at=rf.at(day, 7, 30),
        )
        settlement = rf.Settlement().batch("B20261123-KLW01", day)
        for i, (bill, amount, rrn) in enumerate(qris):
            settlement.transaction(rrn, bill.number, rf.at(day, 9, i), amount, fee(amount))
        statement = rf.Mt940(day=day)
        for bill, amount, number in va:
            statement.credit(amount, f"TRF VA {number} {bill.number}")
        statement.credit(
            settlement.net("B20261123-KLW01"),
            f"QRIS STL BATCH B20261123-KLW01 NMID {rf.NMID} PASAR KLEWER",
        )
        statement.credit(
            deposit.amount_idr, "SETORAN TUNAI PETUGAS NO SETORAN DEP-LEGI-20261123-01"
        )
        statement.debit(5_000, "BIAYA LAYANAN VA NOVEMBER 2026")
    mt940 = tmp_path / "statement-20261123.mt940"
    mt940.write_bytes(statement.render())
    report = tmp_path / "settlement-20261123.csv"
    report.write_bytes(settlement.render())
    return {"mt940": mt940, "settlement": report, "lines": len(statement.lines) + 2}


def test_a_day_reconciles_with_every_line_explained(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    files = build_day(app, tmp_path)
    imported = cli(runner, "import", str(files["mt940"]), "--format", "mt940")
    assert (imported["lines_read"], imported["lines_new"], imported["lines_rejected"]) == (6, 6, 0)
    settled = cli(
        runner,
        "import",
        str(files["settlement"]),
        "--format",
        "qris_settlement",
        "--acquirer",
        rf.ACQUIRER,
    )
    assert (settled["lines_new"], settled["batches_new"]) == (2, 1)

    preview = cli(runner, "run", "--dry-run")
    run = cli(runner, "run")
    assert preview["result_hash"] == run["result_hash"]
    assert {rule: entry["count"] for rule, entry in run["matched"].items()} == {
        "va": 3,
        "reference": 2,
        "batch": 1,
        "deposit": 1,
    }
    # Only the bank's fee is left: a debit, for a person to explain.
    assert run["exceptions"] == {"unknown_debit": {"open": 1, "amount_idr": 5_000}}

    with app.app_context():
        fee_exception = db.session.scalars(sa.select(ReconException)).one()
        exception_id = fee_exception.id
    result = runner.invoke(
        args=[
            "reconcile",
            "resolve",
            exception_id,
            "--action",
            "ignore",
            "--reason",
            "Biaya layanan VA bulanan dari bank",
        ]
    )
    assert result.exit_code == 0, result.output

    with app.app_context():
        lines = db.session.scalars(sa.select(Line)).all()
        claimed = set(db.session.scalars(sa.select(Claim.line_id)))
        decided = {
            e.line_id: e.status
            for e in db.session.scalars(sa.select(ReconException))
            if e.line_id is not None
        }
        assert len(lines) == files["lines"]
        for line in lines:
            explained = line.id in claimed or decided.get(line.id) is ExceptionStatus.IGNORED
            assert explained, line.description
            assert not (line.id in claimed and line.id in decided)

    again = cli(runner, "run")
    assert again["matched_count"] == 0
    assert (again["opened"], again["reopened"], again["resolved"]) == (0, 0, 0)
    verified = cli(runner, "verify")
    assert verified["ok"] and verified["claims"] == 7
