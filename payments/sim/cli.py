"""``retribusi sim …``: run the simulated bank against this app or a live server."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import NoReturn

import click
from flask.cli import with_appcontext

from payments.sim.bank import Padding, PayResult, SimulatedBank
from payments.sim.client import TransportError
from payments.sim.demo import demo_bank, register_demo_bank
from payments.va.services import va_numbers_for_vendor
from retribusi import clock
from retribusi.cli import emit, fail, write_file
from retribusi.errors import DomainError, NotFound
from vendors.services import find_vendor_by_nik

_BASE_URL = click.option(
    "--base-url",
    help="A running server (http://127.0.0.1:5000); default: this app in-process.",
)


def _bank(base_url: str | None, padding: str) -> SimulatedBank:
    bank = demo_bank(base_url)
    bank.padding = Padding(padding)
    return bank


def _va_of(bank: SimulatedBank, nik: str) -> str:
    vendor = find_vendor_by_nik(nik)
    if vendor is None:
        raise NotFound(f"no vendor with NIK {nik}")
    for number in va_numbers_for_vendor(vendor.id):
        if number.bank_code == bank.code:
            return number.digits
    raise NotFound(f"vendor {nik} has no VA at {bank.code}")


def _unanswered(error: TransportError) -> NoReturn:
    """The app gave the bank no token or no answer (not running, or the bank's key or secret is
    not the one on file): said plainly, not as a traceback."""
    click.echo(f"error: the bank's call was not answered: {error}", err=True)
    sys.exit(1)


def _summary(result: PayResult) -> dict[str, object]:
    return {
        "ok": result.accepted,
        "va": result.va_digits,
        "payment_request_id": result.payment_request_id,
        "paid_idr": result.paid_idr,
        "inquiry": result.inquiry.body if result.inquiry else None,
        "flags": [reply.body for reply in result.flags],
    }


@click.group("sim", help="The simulated bank (demo and tests only).")
def sim_cli() -> None:
    pass


@sim_cli.command("setup")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def sim_setup(as_json: bool) -> None:
    """Register the demo bank profile with the simulator's key (what `retribusi demo` does)."""
    try:
        summary = register_demo_bank()
    except DomainError as error:
        fail(error, as_json)
        return
    emit({"ok": True, **summary}, as_json, f"simulated bank {summary['sim_bank']['code']} ready")


@sim_cli.command("pay")
@click.argument("nik")
@click.option("--amount", type=click.IntRange(1, 10**12), help="Default: the total owed.")
@click.option("--repeat", type=click.IntRange(0, 100), default=0, help="Send the flag again.")
@click.option("--padding", type=click.Choice([p.value for p in Padding]), default="spaces")
@_BASE_URL
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def sim_pay(
    nik: str, amount: int | None, repeat: int, padding: str, base_url: str | None, as_json: bool
) -> None:
    """Inquire and pay what the vendor with NIK owes, by VA, signed as the bank signs."""
    try:
        bank = _bank(base_url, padding)
        va = _va_of(bank, nik)
        result = bank.pay_bills(va, amount_idr=amount)
        summary = _summary(result)
        if result.accepted and repeat:
            replies = [
                bank.flag(va, result.paid_idr, request_id=result.payment_request_id, retry=True)
                for _ in range(repeat)
            ]
            summary["repeats"] = [r.body for r in replies]
    except DomainError as error:
        fail(error, as_json)
        return
    except TransportError as error:
        _unanswered(error)
    last = result.last
    code = last.response_code if last else (result.inquiry.response_code if result.inquiry else "")
    emit(
        summary,
        as_json,
        f"{va}: {'paid Rp' + str(result.paid_idr) if result.accepted else 'not paid'} ({code})",
    )
    if not result.accepted:
        sys.exit(1)


@sim_cli.command("inquiry")
@click.argument("nik")
@click.option("--padding", type=click.Choice([p.value for p in Padding]), default="spaces")
@_BASE_URL
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def sim_inquiry(nik: str, padding: str, base_url: str | None, as_json: bool) -> None:
    """Ask what the vendor's VA owes."""
    try:
        bank = _bank(base_url, padding)
        reply = bank.inquiry(_va_of(bank, nik))
    except DomainError as error:
        fail(error, as_json)
        return
    except TransportError as error:
        _unanswered(error)
    emit(reply.body, as_json, f"{reply.response_code} {reply.body.get('responseMessage')}")
    if reply.response_code != "2002400":
        sys.exit(1)


@sim_cli.command("statement")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Default: today (WIB).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@with_appcontext
def sim_statement(day: object, out: Path | None) -> None:
    """The MT940 statement of what the simulated bank paid on a day."""
    try:
        bank = demo_bank()
    except DomainError as error:
        fail(error, False)
        return
    chosen = day.date() if hasattr(day, "date") else clock.today_wib()
    assert isinstance(chosen, date)
    text = bank.statement(chosen)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_file(out, text.encode())
        click.echo(f"wrote {out}")
