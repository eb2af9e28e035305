"""``retribusi ledger …``: check the payment ledger's invariants, reverse a payment, print the
receipts' public key, check a receipt."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from payments.ledger import reverse_payment
from payments.receipts import VERIFY_PATH, public_pem, verify_receipt
from payments.verify import verify_ledger
from retribusi.cli import emit, fail
from retribusi.db import MAX_ID
from retribusi.errors import DomainError
from retribusi.extensions import db


@click.group(
    "ledger", help="The payment ledger: verify its invariants, reverse a payment, receipts."
)
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
@click.argument("payment_id", type=click.IntRange(1, MAX_ID))
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


@ledger_cli.command("public-key")
@with_appcontext
def ledger_public_key() -> None:
    """Print the receipts' public key (PEM): anyone may hold it to check receipts offline."""
    click.echo(public_pem(), nl=False)


@ledger_cli.command("check-receipt")
@click.argument("link_or_token")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def ledger_check_receipt(link_or_token: str, as_json: bool) -> None:
    """Check a receipt link (or its token) as the public page does; exit 1 if it is not valid."""
    token = link_or_token.strip().rsplit(VERIFY_PATH, 1)[-1]
    verdict = verify_receipt(token)
    db.session.rollback()
    payload = verdict.payload or {}
    body = {
        "ok": verdict.valid,
        "valid": verdict.valid,
        "reason": verdict.reason,
        "reversed": verdict.reversed,
        "number": payload.get("n") if verdict.valid else None,
        "amount_idr": payload.get("a") if verdict.valid else None,
    }
    if verdict.valid:
        state = "valid, but the payment was reversed" if verdict.reversed else "valid"
        human = f"{payload.get('n')}: {state} (Rp{payload.get('a')}, {payload.get('t')})"
    else:
        human = f"not valid: {verdict.reason}"
    emit(body, as_json, human)
    if not verdict.valid:
        sys.exit(1)
