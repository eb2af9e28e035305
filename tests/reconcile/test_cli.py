"""``retribusi reconcile match | unmatch | pay``: a person's actions from the command line, with
the same checks, events and idempotence as the finance pages."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from payments.models import Payment
from reconcile.importing import import_file
from reconcile.models import Claim, Event, EventAction, ExceptionStatus, Line, ReconException
from reconcile.runs import run_reconciliation
from retribusi.extensions import db
from tests.reconcile import factories as rf

WHY = "dicek dengan bukti transfer dari bank"


def cli(runner: FlaskCliRunner, *args: str, code: int = 0) -> dict[str, Any]:
    result = runner.invoke(args=["reconcile", *args, "--json"])
    assert result.exit_code == code, result.output
    body: dict[str, Any] = json.loads(result.output)
    return body


def reason(body: dict[str, Any]) -> str:
    """The stable reason of a refusal, as ``retribusi.levy.errors.reason_of`` reads it."""
    return str((body["details"].get("errors") or [{}])[0].get("reason", body["code"]))


def line_id(description: str) -> int:
    found = db.session.scalars(sa.select(Line.id).where(Line.description == description)).one()
    return int(found)


def events() -> list[tuple[str, str, str]]:
    rows = db.session.scalars(sa.select(Event).order_by(Event.id))
    return [(e.action.value, e.actor, e.reason) for e in rows]


def test_match_then_unmatch_by_hand(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        bill = rf.bills_for("KLEWER")[0]
        payment = rf.va_payment(bill, 157_500, va="88810000000001", paid_at=rf.at(rf.DAY, 8))
        statement = rf.Mt940().credit(157_000, "TRF VA 88810000000001").render()
        import_file(statement, "mt940", actor="t")
        run_reconciliation(actor="t")
        line = line_id("TRF VA 88810000000001")
    matched = cli(runner, "match", str(line), "--payment", str(payment.payment_id), "--reason", WHY)
    assert (matched["line_id"], matched["difference_idr"]) == (line, -500)
    again = cli(
        runner,
        "match",
        str(line),
        "--payment",
        str(payment.payment_id),
        "--reason",
        WHY,
        code=1,
    )
    assert reason(again) == "already_matched"
    released = cli(runner, "unmatch", str(matched["match_id"]), "--reason", WHY)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 0
        exception = db.session.get(ReconException, released["exception_id"])
        assert exception is not None and exception.status is ExceptionStatus.OPEN
        assert events() == [
            (EventAction.MATCH.value, "cli", WHY),
            (EventAction.UNMATCH.value, "cli", WHY),
        ]


def test_a_credit_becomes_the_vendors_payment_once(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        bill = rf.bills_for("KLEWER")[0]
        text = f"TRF VA 88810000000009 {bill.number}"
        import_file(rf.Mt940().credit(157_500, text).render(), "mt940", actor="t")
        run_reconciliation(actor="t")
        line, vendor, bill_id = line_id(text), bill.vendor_id, bill.id
    args = ["pay", str(line), "--vendor", str(vendor), "--bill", str(bill_id), "--reason", WHY]
    first = cli(runner, *args)
    assert first["receipt_number"] and first["replayed"] is False
    second = cli(runner, *args)
    assert (second["payment_id"], second["replayed"]) == (first["payment_id"], True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1


def test_bad_input_is_refused_and_nothing_is_written(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        bill = rf.bills_for("KLEWER")[0]
        import_file(rf.Mt940().credit(157_500, "TRF VA 1").render(), "mt940", actor="t")
        run_reconciliation(actor="t")
        line, vendor = str(line_id("TRF VA 1")), str(bill.vendor_id)
    refusals = [
        (["match", line, "--reason", WHY], "one_target"),
        (["match", line, "--payment", "1", "--deposit", "1", "--reason", WHY], "one_target"),
        (["match", line, "--payment", "1", "--reason", "short"], "required"),
        (["unmatch", "99", "--reason", WHY], "not_matched"),
        (["pay", "99", "--vendor", vendor, "--reason", WHY], "not_found"),
    ]
    for args, why in refusals:
        body = cli(runner, *args, code=1)
        assert body["ok"] is False and reason(body) == why, (args, body)
    # Ids the database could not hold, or not numbers at all: click's usage error, exit 2.
    for args in (
        ["match", "2" * 30, "--payment", "1", "--reason", WHY],
        ["pay", line, "--vendor", "x", "--reason", WHY],
        ["unmatch", "0", "--reason", WHY],
    ):
        result = runner.invoke(args=["reconcile", *args])
        assert result.exit_code == 2, (args, result.output)
    with app.app_context():
        assert events() == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0
