"""``retribusi vendors …``: import, show, markets, class changes, SHP expiry."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click
from flask.cli import with_appcontext

from retribusi.cli import emit
from retribusi.errors import DomainError
from vendors.importer import file_problem, import_vendors, limits
from vendors.placements import expire_lapsed
from vendors.services import (
    Actor,
    get_vendor_by_nik,
    load_markets,
    set_market_class,
    vendor_summary,
)


def _fail(error: DomainError, as_json: bool) -> None:
    """Print every problem (row, column, reason) and exit 1."""
    if as_json:
        click.echo(json.dumps({"ok": False, **error.to_dict()}, ensure_ascii=False, sort_keys=True))
    else:
        click.echo(f"error: {error.message}", err=True)
        for item in error.details.get("errors", []):
            where = f"row {item['row']}, " if "row" in item else ""
            column = item.get("column") or item.get("field")
            click.echo(f"  {where}{column}: {item['reason']}", err=True)
    sys.exit(1)


@click.group("vendors", help="The vendor and stall registry: import, look up, SHP upkeep.")
def vendors_cli() -> None:
    pass


@vendors_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def import_command(path: Path, dry_run: bool, as_json: bool) -> None:
    """Import stalls, vendors and SHPs from a CSV or XLSX file (docs/import-vendors.md)."""
    max_bytes, _ = limits()
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise file_problem(
                "the file is %(size)s bytes; the limit is %(max)s bytes", size=size, max=max_bytes
            )
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
        report = import_vendors(data, actor=Actor.cli(), filename=path.name, dry_run=dry_run)
    except DomainError as error:
        _fail(error, as_json)
        return
    created = ", ".join(f"{n} {what}" for what, n in report.created.items())
    verb = "would create" if dry_run else "created"
    emit(
        report.to_dict(),
        as_json,
        f"{report.rows} rows checked; {verb} {created}; {report.unchanged_rows} already registered",
    )


@vendors_cli.command("show")
@click.argument("nik")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def show_command(nik: str, as_json: bool) -> None:
    """A vendor with their stalls and SHPs (and, once they exist, VA numbers, bills, balance)."""
    try:
        vendor = get_vendor_by_nik(nik, Actor.cli())
    except DomainError as error:
        _fail(error, as_json)
        return
    summary = vendor_summary(vendor)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, sort_keys=True))
        return
    v = summary["vendor"]
    lines = [f"{v['full_name']}  NIK {v['nik']}  phone {v['phone']}"]
    if v["proxy_name"]:
        lines.append(f"  paid for by {v['proxy_name']} {v['proxy_phone'] or ''}".rstrip())
    for p in summary["placements"]:
        end = p["ended_on"] or p["expires_on"]
        lines.append(f"  SHP {p['number']}  {p['stall']}  {p['start_on']}..{end}  {p['status']}")
    click.echo("\n".join(lines))


@vendors_cli.command("load-markets")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def load_markets_command(as_json: bool) -> None:
    """Create the 44 markets of the shipped list that are missing (safe to run again)."""
    created = load_markets(Actor.cli())
    emit({"ok": True, "created": created}, as_json, f"{created} market(s) created")


@vendors_cli.command("set-class")
@click.argument("code")
@click.argument("market_class")
@click.option("--from", "valid_from", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--source", required=True, help="Legal basis, e.g. 'Perwali 12/2026'.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def set_class_command(
    code: str, market_class: str, valid_from: datetime, source: str, as_json: bool
) -> None:
    """Move market CODE to MARKET_CLASS (IA … IIIB) from a date."""
    try:
        period = set_market_class(
            code, market_class, valid_from=valid_from.date(), source=source, actor=Actor.cli()
        )
    except DomainError as error:
        _fail(error, as_json)
        return
    emit(
        {"ok": True, "market": code.upper(), "class": period.market_class.value,
         "valid_from": period.valid_from.isoformat()},
        as_json,
        f"{code.upper()} is class {period.market_class.value} from {period.valid_from}",
    )  # fmt: skip


@vendors_cli.command("expire-lapsed")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), help="Default: today (WIB).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def expire_lapsed_command(on: datetime | None, as_json: bool) -> None:
    """Mark SHPs whose three years ran out as expired and free their stalls."""
    numbers = expire_lapsed(actor=Actor.cli(), on=on.date() if on is not None else None)
    emit({"ok": True, "expired": numbers}, as_json, f"{len(numbers)} SHP(s) expired")
