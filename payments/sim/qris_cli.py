"""``retribusi sim qris …``: the simulated QRIS acquirer pays codes, repeats, settles the day.

Demo and tests only (refused in production). ``pay`` takes a payload, or ``--stall`` (the
stall's static code) or ``--code`` (a stored dynamic code); the notification goes through the
real ``/snap/v1.0/qr/qr-mpm-notify``, in-process or to ``--base-url``.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from flask.cli import with_appcontext

from payments.qris.services import find_code, stall_for_label, static_payload
from payments.sim.client import TransportError
from payments.sim.demo import credit_settlements
from payments.sim.qris import (
    AcquirerReply,
    SimError,
    demo_acquirer,
    register_demo_acquirer,
    settlement_batches,
    settlement_csv,
    sim_enabled,
)
from retribusi.cli import emit, fail, write_file
from retribusi.errors import DomainError, Forbidden
from retribusi.levy.errors import not_found

_BASE_URL = click.option(
    "--base-url", help="A running server (http://127.0.0.1:5000); default: this app in-process."
)


@click.group("qris", help="The simulated QRIS acquirer (demo and tests only).")
def sim_qris_cli() -> None:
    pass


def _refuse_in_production() -> None:
    if not sim_enabled():
        raise Forbidden("the simulator is never run in production")


def _reply_body(reply: AcquirerReply) -> dict[str, object]:
    return {
        "ok": reply.response_code == "2005200",
        "response_code": reply.response_code,
        "response": dict(reply.body),
        "rrn": reply.payment.rrn,
        "amount_idr": reply.payment.amount_idr,
        "reference_label": reply.payment.reference_label,
        "store_label": reply.payment.store_label,
    }


@sim_qris_cli.command("setup")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def sim_qris_setup(as_json: bool) -> None:
    """Register the demo acquirer profile with the simulator's key (what `retribusi demo` does)."""
    try:
        summary = register_demo_acquirer()
    except DomainError as error:
        fail(error, as_json)
        return
    emit({"ok": True, **summary}, as_json, f"simulated acquirer {summary['sim_acquirer']['code']}")


def _payload(payload: str | None, stall: str | None, code: str | None) -> str:
    if sum(x is not None for x in (payload, stall, code)) != 1:
        raise click.UsageError("give one of PAYLOAD, --stall or --code")
    if stall is not None:
        found = stall_for_label(stall)
        if found is None:
            raise not_found("stall", f"no stall {stall[:40]}")
        return static_payload(found)
    if code is not None:
        stored = find_code(code)
        if stored is None:
            raise not_found("code", f"no QRIS code {code[:25]}")
        return stored.payload
    assert payload is not None
    return payload


@sim_qris_cli.command("pay")
@click.argument("payload", required=False)
@click.option("--stall", help="Pay this stall's static code (its reference).")
@click.option("--code", "code_reference", help="Pay this dynamic code (its 62-05 reference).")
@click.option("--amount", type=click.IntRange(1, 10_000_000), help="Static code: what is typed.")
@click.option("--status", default="00", show_default=True, help="latestTransactionStatus.")
@click.option("--repeat", type=click.IntRange(0, 20), default=0, help="Send it again N times.")
@_BASE_URL
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def sim_qris_pay(
    payload: str | None,
    stall: str | None,
    code_reference: str | None,
    amount: int | None,
    status: str,
    repeat: int,
    base_url: str | None,
    as_json: bool,
) -> None:
    """Pay a QRIS code as a payer's app and its acquirer do; print our answer."""
    try:
        _refuse_in_production()
        text = _payload(payload, stall, code_reference)
        acquirer = demo_acquirer(base_url)
        reply = acquirer.pay(text, amount_idr=amount, status=status)
        replies = [reply] + [acquirer.repeat(reply.payment.rrn) for _ in range(repeat)]
    except DomainError as error:
        fail(error, as_json)
        return
    except (SimError, TransportError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    bodies = [_reply_body(r) for r in replies]
    human = "\n".join(f"{b['rrn']} Rp{b['amount_idr']}: {b['response_code']}" for b in bodies)
    emit({"ok": all(b["ok"] for b in bodies), "replies": bodies}, as_json, human)
    if not all(b["ok"] for b in bodies):
        sys.exit(1)


@sim_qris_cli.command("repeat")
@click.argument("rrn", required=False)
@_BASE_URL
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def sim_qris_repeat(rrn: str | None, base_url: str | None, as_json: bool) -> None:
    """Send a journalled payment's notification again (the last one by default)."""
    try:
        _refuse_in_production()
        reply = demo_acquirer(base_url).repeat(rrn)
    except DomainError as error:
        fail(error, as_json)
        return
    except (SimError, TransportError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    body = _reply_body(reply)
    emit(body, as_json, f"{body['rrn']}: {body['response_code']}")
    if not body["ok"]:
        sys.exit(1)


@sim_qris_cli.command("settle")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="The business day whose payments are settled (WIB).",
)
@click.option("--mdr-pct", default="0", show_default=True, help="MDR in percent (0 for levies).")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=500, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the CSV here (default: stdout).",
)
@with_appcontext
def sim_qris_settle(day: datetime, mdr_pct: str, batch_size: int, out: Path | None) -> None:
    """The acquirer's settlement report for DATE, settled the next day (reconcile format)."""
    try:
        _refuse_in_production()
        rate = Decimal(mdr_pct)
    except DomainError as error:
        fail(error, False)
        return
    except InvalidOperation:
        raise click.BadParameter("a number, e.g. 0.7", param_hint="--mdr-pct") from None
    business_day = day.date()
    acquirer = demo_acquirer(None)
    try:
        batches = settlement_batches(
            acquirer.journal.payments(),
            settlement_date=business_day + timedelta(days=1),
            business_date=business_day,
            mdr_pct=rate,
            batch_size=batch_size,
            acquirer_code="SIMQRIS",
        )
    except (SimError, TransportError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    report = settlement_csv(batches)
    # The acquirer pays each batch into the city's account: the simulated bank, when there is
    # one, shows the transfers on its statement of the settlement date.
    credit_settlements(batches)
    if out is None:
        click.echo(report.decode("utf-8"), nl=False)
    else:
        write_file(out, report)
        click.echo(f"wrote {out}")
