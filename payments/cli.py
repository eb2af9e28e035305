"""``retribusi ledger …``: check the payment ledger's invariants; reverse a payment."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from payments.ledger import reverse_payment
from payments.verify import verify_ledger
from retribusi.cli import emit, fail
from retribusi.errors import DomainError
from retribusi.extensions import db


@click.group("ledger", help="The payment ledger: verify its invariants, reverse a payment.")
def ledger_cli() -> None:
    pass


@ledger_cli.command("verify")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def ledger_verify(as_json: bool) -> None:
    """Check every ledger invariant; exit 1 naming each violation."""
    report = verify_ledger(db.session)
    db.session.rollback()
    body = {
        "ok": report.ok,
        "payments": report.payments,
        "bills": report.bills,
        "violations": [v.to_dict() for v in report.violations],
    }
    lines = [f"{v.check} {v.subject}: {v.message}" for v in report.violations]
    human = "\n".join(
        [
            *lines,
            f"{report.payments} payments, {report.bills} bills: "
            + ("ledger OK" if report.ok else f"{len(lines)} violation(s)"),
        ]
    )
    emit(body, as_json, human)
    if not report.ok:
        sys.exit(1)


@ledger_cli.command("reverse")
@click.argument("payment_id", type=click.IntRange(1, 2**62))
@click.option("--reference", required=True, help="The bank's or the office's reversal reference.")
@click.option("--reason", required=True, help="Why (10-300 characters); kept in the audit trail.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def ledger_reverse(payment_id: int, reference: str, reason: str, as_json: bool) -> None:
    """Reverse payment PAYMENT_ID (a bank reversal or a refund): its bills reopen."""
    try:
        done = reverse_payment(payment_id, reference=reference, reason=reason, actor="cli")
    except DomainError as error:
        fail(error, as_json)
        return
    body = {
        "ok": True,
        "payment_id": done.payment_id,
        "reversal_id": done.reversal_id,
        "reopened_bill_ids": list(done.reopened_bill_ids),
        "credit_withdrawn_idr": done.credit_withdrawn_idr,
    }
    emit(
        body,
        as_json,
        f"payment {done.payment_id} reversed; {len(done.reopened_bill_ids)} bills reopen",
    )
