"""``retribusi reconcile …``: import statements and settlements, run, verify, report, resolve,
and match, unmatch or pay by hand."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from reconcile.actions import assign, create_payment, decide, match_line, unmatch
from reconcile.formats import FileFormat, available_profiles
from reconcile.formats.common import MAX_FILE_BYTES
from reconcile.importing import IMPORT_JOBS, ImportSummary, import_files
from reconcile.models import EventAction
from reconcile.runs import STEPS, run_reconciliation
from reconcile.verify import verify_reconciliation
from retribusi import clock
from retribusi.cli import emit, error_text, fail, write_file
from retribusi.db import MAX_ID
from retribusi.errors import DomainError
from retribusi.extensions import db


@click.group("reconcile", help="Bank statements and QRIS settlements: import, run, verify.")
def reconcile_cli() -> None:
    pass


def _read(path: Path) -> bytes:
    """The file's bytes, refusing one over the importers' bound without reading it whole."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DomainError(
            f"{path.name} is {size} bytes; the limit is {MAX_FILE_BYTES}",
            details={
                "errors": [
                    {
                        "field": "file",
                        "reason": "too_large",
                        "message": f"the file is {size} bytes; the limit is {MAX_FILE_BYTES}",
                    }
                ]
            },
        )
    with path.open("rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)


def _import_human(summary: dict[str, Any]) -> str:
    if summary["seen_before"]:
        return f"{summary['file_name']}: seen before (file {summary['file_id']}), nothing changed"
    head = "would import" if summary["dry_run"] else "imported"
    lines = [
        f"{head} {summary['file_name']} ({summary['format']}, account {summary['account_id']}):"
        f" {summary['lines_read']} lines read = {summary['lines_new']} new +"
        f" {summary['lines_known']} known + {summary['lines_rejected']} quarantined",
    ]
    for bad in summary["rejected"]:
        lines.append(f"  line {bad['line_no']}: {bad['field']}: {bad['reason']}: {bad['message']}")
    return "\n".join(lines)


@reconcile_cli.command("import")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
)
@click.option("--format", "fmt", required=True, type=click.Choice([f.value for f in FileFormat]))
@click.option("--profile", help=f"Bank CSV/XLSX profile: {', '.join(available_profiles())}.")
@click.option("--account", "account_id", help="Account number, when the file does not say it.")
@click.option("--acquirer", "acquirer_id", help="QRIS acquirer id (settlement reports).")
@click.option("--period-from", type=click.DateTime(["%Y-%m-%d"]), help="Statement period start.")
@click.option("--period-to", type=click.DateTime(["%Y-%m-%d"]), help="Statement period end.")
@click.option("--dry-run", is_flag=True, help="Check and count; store nothing.")
@click.option(
    "--jobs",
    type=click.IntRange(1, 8),
    default=IMPORT_JOBS,
    show_default=True,
    help="Processes for several files: one reads the next file while one stores.",
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def import_command(
    files: tuple[Path, ...],
    fmt: str,
    profile: str | None,
    account_id: str | None,
    acquirer_id: str | None,
    period_from: Any,
    period_to: Any,
    dry_run: bool,
    jobs: int,
    as_json: bool,
) -> None:
    """Import FILES in the order given, each on its own: a file seen before changes nothing;
    a refused file stores nothing (the others are still imported; the exit code is 1)."""
    period = None
    if (period_from is None) != (period_to is None):
        raise click.UsageError("give both --period-from and --period-to, or neither")
    if period_from is not None and period_to is not None:
        period = (period_from.date(), period_to.date())
    options: dict[str, Any] = {
        "profile": profile,
        "account_id": account_id,
        "acquirer_id": acquirer_id,
        "period": period,
        "dry_run": dry_run,
    }
    outcomes: dict[int, ImportSummary | DomainError] = {}
    readable: list[tuple[str, bytes]] = []
    for index, path in enumerate(files):
        try:
            readable.append((path.name, _read(path)))
        except DomainError as error:
            outcomes[index] = error
    imported = import_files(readable, fmt, actor="cli", jobs=jobs, **options)
    pending = (index for index in range(len(files)) if index not in outcomes)
    outcomes.update(zip(pending, imported, strict=True))
    results = [outcomes[index] for index in range(len(files))]
    if len(files) == 1:
        if isinstance(results[0], DomainError):
            fail(results[0], as_json)
        body = results[0].to_dict()
        emit(body, as_json, _import_human(body))
        return
    bodies = [
        {"ok": False, "file_name": path.name, **result.to_dict()}
        if isinstance(result, DomainError)
        else result.to_dict()
        for path, result in zip(files, results, strict=True)
    ]
    human = [
        error_text(result, path.name)
        if isinstance(result, DomainError)
        else _import_human(result.to_dict())
        for path, result in zip(files, results, strict=True)
    ]
    ok = all(body["ok"] for body in bodies)
    emit({"ok": ok, "files": bodies}, as_json, "\n".join(human))
    if not ok:
        sys.exit(1)


@reconcile_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Show what a run would do; write nothing.")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), help="Business date (default today).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def run_command(dry_run: bool, as_of: Any, as_json: bool) -> None:
    """Match everything not yet explained; what is left becomes exceptions."""
    day: date | None = as_of.date() if as_of is not None else None
    show_bar = not as_json and sys.stdout.isatty()
    try:
        if show_bar:
            with click.progressbar(length=len(STEPS), label="reconciling") as bar:
                result = run_reconciliation(
                    actor="cli", as_of=day, dry_run=dry_run, progress=lambda _s: bar.update(1)
                )
        else:
            result = run_reconciliation(actor="cli", as_of=day, dry_run=dry_run)
    except DomainError as error:
        fail(error, as_json)
        return
    body = result.to_dict()
    head = "dry run: would match" if dry_run else f"run {result.run_id}: matched"
    lines = [
        f"{head} {result.matched_count} lines (Rp{result.matched_idr:,}) as of {result.as_of}",
        *(
            f"  {rule}: {entry['count']} (Rp{entry['amount_idr']:,})"
            for rule, entry in result.matched.items()
        ),
        f"exceptions opened {result.opened}, reopened {result.reopened},"
        f" resolved {result.resolved}; open now:",
        *(
            f"  {kind}: {entry['open']} (Rp{entry['amount_idr']:,})"
            for kind, entry in result.exceptions.items()
        ),
        f"result {result.result_hash} (rules {result.rules_version})",
    ]
    emit(body, as_json, "\n".join(lines))


@reconcile_cli.command("verify")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def verify_command(as_json: bool) -> None:
    """Check every reconciliation invariant; exit 1 naming each violation."""
    report = verify_reconciliation(db.session)
    db.session.rollback()
    lines = [f"{v.check} {v.subject}: {v.message}" for v in report.violations]
    lines.append(
        f"{report.files} files, {report.lines} lines, {report.claims} matches standing,"
        f" {report.exceptions} exceptions: "
        + ("reconciliation OK" if report.ok else f"{len(report.violations)} violation(s)")
    )
    emit(report.to_dict(), as_json, "\n".join(lines))
    if not report.ok:
        sys.exit(1)


@reconcile_cli.command("report")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Business day (today).")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def report_command(day: Any, pdf_path: Path | None, xlsx_path: Path | None, as_json: bool) -> None:
    """The daily report: balances, matched, exceptions by type and age, collection per market."""
    from reconcile.report import daily_report, report_pdf, report_xlsx

    chosen: date = day.date() if day is not None else clock.today_wib()
    report = daily_report(chosen)
    written = []
    if pdf_path is not None:
        write_file(pdf_path, report_pdf(report))
        written.append(str(pdf_path))
    if xlsx_path is not None:
        write_file(xlsx_path, report_xlsx(report))
        written.append(str(xlsx_path))
    body = {"ok": True, "written": written, **report.to_dict()}
    emit(body, as_json, f"report for {chosen}: " + (", ".join(written) or "nothing written"))


@reconcile_cli.command("resolve")
@click.argument("exception_id")
@click.option(
    "--action", required=True, type=click.Choice(["ignore", "accept", "reopen", "assign"])
)
@click.option("--reason", default="", help="Why (10-300 characters; optional for assign).")
@click.option("--assignee", type=click.IntRange(1, MAX_ID), help="User id (assign).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def resolve_command(
    exception_id: str, action: str, reason: str, assignee: int | None, as_json: bool
) -> None:
    """Ignore, accept, reopen or assign an exception (``match``, ``unmatch`` and ``pay`` do the
    rest)."""
    try:
        if action == "assign":
            done = assign(
                exception_id=exception_id, assignee_id=assignee, actor="cli", reason=reason
            )
        else:
            done = decide(
                exception_id=exception_id, action=EventAction(action), actor="cli", reason=reason
            )
    except DomainError as error:
        fail(error, as_json)
        return
    body = {"ok": True, "exception_id": done.exception_id, "status": done.status.value}
    emit(body, as_json, f"{done.exception_id}: {done.status.value}")


_ID = click.IntRange(1, MAX_ID)
_REASON = click.option("--reason", required=True, help="Why (10-300 characters).")


@reconcile_cli.command("match")
@click.argument("line_id", type=_ID)
@click.option("--payment", "payment_id", type=_ID, help="The payment the line pays.")
@click.option("--deposit", "deposit_id", type=_ID, help="The officer's deposit it is.")
@click.option("--batch", "batch_id", type=_ID, help="The QRIS settlement batch it credits.")
@_REASON
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def match_command(
    line_id: int,
    payment_id: int | None,
    deposit_id: int | None,
    batch_id: int | None,
    reason: str,
    as_json: bool,
) -> None:
    """Match a bank line to exactly one payment, deposit or batch by hand; a difference in
    amount is kept on the match, explained by the reason."""
    try:
        done = match_line(
            line_id=line_id,
            actor="cli",
            reason=reason,
            payment_id=payment_id,
            deposit_id=deposit_id,
            batch_id=batch_id,
        )
    except DomainError as error:
        fail(error, as_json)
        return
    body = {
        "ok": True,
        "match_id": done.match_id,
        "line_id": done.line_id,
        "difference_idr": done.difference_idr,
    }
    emit(body, as_json, f"line {done.line_id} matched (match {done.match_id})")


@reconcile_cli.command("unmatch")
@click.argument("match_id", type=_ID)
@_REASON
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def unmatch_command(match_id: int, reason: str, as_json: bool) -> None:
    """Release a match: the line is an exception again, and the pair is never matched
    automatically again."""
    try:
        done = unmatch(match_id=match_id, actor="cli", reason=reason)
    except DomainError as error:
        fail(error, as_json)
        return
    body = {
        "ok": True,
        "match_id": done.match_id,
        "line_id": done.line_id,
        "exception_id": done.exception_id,
    }
    emit(
        body, as_json, f"match {done.match_id} released; line {done.line_id} is {done.exception_id}"
    )


@reconcile_cli.command("pay")
@click.argument("line_id", type=_ID)
@click.option("--vendor", "vendor_id", type=_ID, required=True, help="Whose money it is.")
@click.option("--bill", "bill_ids", type=_ID, multiple=True, help="A bill it pays; repeatable.")
@_REASON
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def pay_command(
    line_id: int, vendor_id: int, bill_ids: tuple[int, ...], reason: str, as_json: bool
) -> None:
    """Paid but not credited: record a credit line as the vendor's payment (oldest bills first,
    or the bills named) and match it; doing it twice records one payment."""
    try:
        done = create_payment(
            line_id=line_id, vendor_id=vendor_id, actor="cli", reason=reason, bill_ids=bill_ids
        )
    except DomainError as error:
        fail(error, as_json)
        return
    body = {
        "ok": True,
        "payment_id": done.payment_id,
        "match_id": done.match_id,
        "receipt_number": done.receipt_number,
        "replayed": done.replayed,
    }
    emit(body, as_json, f"line {line_id}: payment {done.payment_id}, receipt {done.receipt_number}")
