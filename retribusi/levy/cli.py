"""``retribusi billing …`` and ``retribusi tariffs …``: commands that change data take ``--json``
(one JSON summary on stdout) and exit non-zero on failure."""

from __future__ import annotations

import json
from datetime import date

import click
from flask.cli import with_appcontext

from retribusi import clock
from retribusi.cli import emit, fail
from retribusi.db import MAX_ID
from retribusi.errors import DomainError
from retribusi.levy.arrears import arrears
from retribusi.levy.billing import close_period, get_bill_by_number, issue_bills, void_bill
from retribusi.levy.errors import not_found
from retribusi.levy.notices import issue_notices
from retribusi.levy.reliefs import ReliefInput, add_outage, add_relief
from retribusi.levy.rules import Component, TariffBasis
from retribusi.levy.tariffs import TariffInput, add_tariff_version, list_tariffs, tariff_dict
from retribusi.levy.tariffs import load_illustrative_tariffs as load_illustrative
from retribusi.money import format_idr
from vendors.models import MarketClass, StallType

DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group("billing", help="Bills (SKRD, karcis), period closing, voiding, STRD and teguran.")
def billing_cli() -> None:
    pass


@billing_cli.command("issue")
@click.option("--period", required=True, help="The month to bill, YYYY-MM.")
@click.option("--market", "market_code", help="Only this market (code, e.g. KLEWER).")
@click.option("--dry-run", is_flag=True, help="Compute and report; write nothing.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def billing_issue(period: str, market_code: str | None, dry_run: bool, as_json: bool) -> None:
    """Bill every placement of PERIOD that has no bill for it yet (safe to run again)."""
    try:
        summary = issue_bills(period, market_code=market_code, dry_run=dry_run, actor="cli")
    except DomainError as error:
        fail(error, as_json)
        return
    body = summary.to_dict()
    skipped = ", ".join(f"{k}: {v}" for k, v in body["skipped"].items()) or "none"
    human = (
        f"{'DRY RUN ' if dry_run else ''}{body['period']}: {body['bills']} bills "
        f"({body['monthly']} monthly, {body['daily']} daily karcis), {body['lines']} lines, "
        f"{format_idr(body['principal_idr'])}; already billed {body['already_billed']}; "
        f"skipped {skipped}; digest {body['digest'][:12]}"
    )
    if body["stale"]:
        human += f"\n{len(body['stale'])} bill(s) no longer match their SHP: void and reissue them"
    emit(body, as_json, human)


@billing_cli.command("close")
@click.option("--period", required=True, help="The month to close, YYYY-MM.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def billing_close(period: str, as_json: bool) -> None:
    """Close a past month: billing runs refuse it afterwards."""
    try:
        closure = close_period(period, actor="cli")
    except DomainError as error:
        fail(error, as_json)
        return
    emit({"ok": True, "period": closure.period}, as_json, f"{closure.period} closed")


@billing_cli.command("void")
@click.argument("number")
@click.option("--reason", required=True, help="Why (10-300 characters); kept in the audit trail.")
@click.option("--reissue", is_flag=True, help="Issue a corrected bill at once.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def billing_void(number: str, reason: str, reissue: bool, as_json: bool) -> None:
    """Void bill NUMBER (nothing may have been paid on it), optionally reissuing it."""
    try:
        bill = get_bill_by_number(number)
        if bill is None:
            raise not_found("bill", f"no bill {number!r}")
        result = void_bill(bill.id, reason=reason, actor="cli", reissue=reissue)
    except DomainError as error:
        fail(error, as_json)
        return
    body = {
        "ok": True,
        "voided": result.voided.number,
        "reissued": result.reissued.number if result.reissued else None,
        "principal_idr": result.reissued.principal_idr if result.reissued else None,
        "not_reissued_reason": result.not_reissued_reason,
    }
    human = f"voided {result.voided.number}"
    if result.reissued:
        human += (
            f"; reissued as {result.reissued.number} ({format_idr(result.reissued.principal_idr)})"
        )
    emit(body, as_json, human)


@billing_cli.command("notices")
@click.option("--as-of", type=DATE, help="Date of the letters (default today).")
@click.option("--market", "market_code", help="Only this market.")
@click.option("--dry-run", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def billing_notices(as_of: object, market_code: str | None, dry_run: bool, as_json: bool) -> None:
    """Issue the STRD and Surat Teguran due (safe to run again)."""
    day = as_of.date() if as_of is not None else None  # type: ignore[attr-defined]
    try:
        summary = issue_notices(as_of=day, market_code=market_code, dry_run=dry_run, actor="cli")
    except DomainError as error:
        fail(error, as_json)
        return
    body = summary.to_dict()
    counts = ", ".join(f"{k.upper()}: {v}" for k, v in body["notices"].items())
    emit(body, as_json, f"{'DRY RUN ' if dry_run else ''}{body['as_of']}: {counts}")


@billing_cli.command("arrears")
@click.option("--market", "market_code", help="One market's blocks instead of every market.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def billing_arrears(market_code: str | None, as_json: bool) -> None:
    """Arrears today by market (or by block within --market), aged."""
    try:
        report = arrears(None, as_of=clock.today_wib(), market_code=market_code)
    except DomainError as error:
        fail(error, as_json)
        return
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, sort_keys=True))
        return
    for row in [*report.rows, report.total]:
        principal = format_idr(row.total.principal_idr)
        sanction = format_idr(row.total.sanction_idr)
        label = f"{row.label[:30]:<30} {row.bills:>7} bills"
        click.echo(f"{label}  pokok {principal:>16}  sanksi {sanction:>14}")


@click.group("tariffs", help="Tariff versions with their legal basis and effective dates.")
def tariffs_cli() -> None:
    pass


@tariffs_cli.command("list")
@click.option("--all", "include_withdrawn", is_flag=True, help="Include withdrawn versions.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def tariffs_list(include_withdrawn: bool, as_json: bool) -> None:
    rows = [tariff_dict(v) for v in list_tariffs(include_withdrawn=include_withdrawn)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, sort_keys=True))
        return
    for row in rows:
        mark = " ILLUSTRATIVE" if row["illustrative"] else ""
        click.echo(
            f"{row['id']:>5} {row['scope']:<10} {row['stall_type']:<10} {row['component']:<16} "
            f"{row['basis']:<13} {row['rate']:>12} from {row['valid_from']}  "
            f"{row['legal_basis']}{mark}"
        )


@tariffs_cli.command("add")
@click.option("--stall-type", type=click.Choice([t.value for t in StallType]), required=True)
@click.option("--component", type=click.Choice([c.value for c in Component]), required=True)
@click.option("--basis", type=click.Choice([b.value for b in TariffBasis]), required=True)
@click.option("--rate", required=True, help="Rp per m² per day, % of TNTD per day, or Rp/day.")
@click.option("--legal-basis", required=True, help="The Perda or Perwali, e.g. 'Perwali 2/2022'.")
@click.option("--valid-from", type=DATE, required=True)
@click.option("--valid-to", type=DATE)
@click.option("--market", "market_code", help="Scope: one market (code).")
@click.option(
    "--class",
    "market_class",
    type=click.Choice([c.value for c in MarketClass]),
    help="Scope: a market class. Neither --market nor --class: the whole city.",
)
@click.option("--default-tntd", type=int, help="TNTD (Rp/m²) for stalls without one.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def tariffs_add(
    stall_type: str,
    component: str,
    basis: str,
    rate: str,
    legal_basis: str,
    valid_from: object,
    valid_to: object,
    market_code: str | None,
    market_class: str | None,
    default_tntd: int | None,
    as_json: bool,
) -> None:
    """Add a tariff version (a change is always a new version)."""
    try:
        version = add_tariff_version(
            TariffInput(
                stall_type=stall_type,
                component=component,
                basis=basis,
                rate=rate,
                legal_basis=legal_basis,
                valid_from=valid_from.date(),  # type: ignore[attr-defined]
                valid_to=valid_to.date() if valid_to else None,  # type: ignore[attr-defined]
                market_code=market_code,
                market_class=market_class,
                default_tntd_idr_per_m2=default_tntd,
            ),
            actor="cli",
        )
    except DomainError as error:
        fail(error, as_json)
        return
    emit({"ok": True, **tariff_dict(version)}, as_json, f"added tariff version {version.id}")


@tariffs_cli.command("load-illustrative")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def tariffs_load_illustrative(as_json: bool) -> None:
    """Load the ILLUSTRATIVE table of domain.md §7 (not Solo's legal tariff); once only."""
    try:
        added = load_illustrative(actor="cli")
    except DomainError as error:
        fail(error, as_json)
        return
    emit({"ok": True, "added": added}, as_json, f"{added} illustrative tariff versions added")


@click.group("reliefs", help="Relief decisions and payment-channel outages.")
def reliefs_cli() -> None:
    pass


@reliefs_cli.command("add")
@click.option("--kind", type=click.Choice(["exemption", "reduction", "deferral"]), required=True)
@click.option("--decision", "decision_number", required=True, help="Decision letter number.")
@click.option("--decided-on", type=DATE, required=True)
@click.option("--from", "valid_from", type=DATE, required=True)
@click.option("--to", "valid_to", type=DATE, required=True)
@click.option("--market", "market_code")
@click.option("--block", "block_code")
@click.option("--vendor-id", type=click.IntRange(1, MAX_ID))
@click.option("--pct", "reduction_pct", help="Reduction percentage (reductions only).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def reliefs_add(
    kind: str,
    decision_number: str,
    decided_on: object,
    valid_from: object,
    valid_to: object,
    market_code: str | None,
    block_code: str | None,
    vendor_id: int | None,
    reduction_pct: str | None,
    as_json: bool,
) -> None:
    try:
        relief = add_relief(
            ReliefInput(
                kind=kind,
                decision_number=decision_number,
                decided_on=decided_on.date(),  # type: ignore[attr-defined]
                valid_from=valid_from.date(),  # type: ignore[attr-defined]
                valid_to=valid_to.date(),  # type: ignore[attr-defined]
                market_code=market_code,
                block_code=block_code,
                vendor_id=vendor_id,
                reduction_pct=reduction_pct,
            ),
            actor="cli",
        )
    except DomainError as error:
        fail(error, as_json)
        return
    emit({"ok": True, "id": relief.id}, as_json, f"relief {relief.id} recorded")


@reliefs_cli.command("outage")
@click.option("--market", "market_code", help="The market (default: every market).")
@click.option("--channel", default="all", show_default=True)
@click.option("--from", "started_on", type=DATE, required=True)
@click.option("--to", "ended_on", type=DATE)
@click.option("--reference", required=True, help="Report or agreement that records the outage.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def reliefs_outage(
    market_code: str | None,
    channel: str,
    started_on: object,
    ended_on: object,
    reference: str,
    as_json: bool,
) -> None:
    start: date = started_on.date()  # type: ignore[attr-defined]
    end: date | None = ended_on.date() if ended_on else None  # type: ignore[attr-defined]
    try:
        outage = add_outage(
            market_code=market_code,
            channel=channel,
            started_on=start,
            ended_on=end,
            reference=reference,
            actor="cli",
        )
    except DomainError as error:
        fail(error, as_json)
        return
    emit({"ok": True, "id": outage.id}, as_json, f"outage {outage.id} recorded")
