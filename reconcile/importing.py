"""Import service: a statement or settlement file in, its facts stored once, nothing half-done.

One file, :func:`import_file`. The file is parsed by :mod:`reconcile.formats` (pure), then
stored in one transaction:

* a file seen before (same SHA-256) changes nothing and says so;
* a statement already stored (same account and number, same balances) is known, a different one
  under the same number refuses the file; a new statement must follow the last statement stored
  for the account (number without gap, opening = previous closing), the importers' own check
  (:func:`reconcile.formats.check_statement_chain`) with the stored statement as ``previous``;
* a settlement batch already stored is known if its totals are the same, else refused;
* a line whose identity is already stored for the account is known; only new lines are written;
* quarantined lines are stored with the file, with their reason;
* lines read = lines new + lines known + lines rejected, checked here and by a database
  constraint on the file row.

:func:`import_files` imports several files in order, each as :func:`import_file` does, the next
one parsed in a second process while one is stored.

Lines are written in bulk (PostgreSQL ``COPY``; SQLite ``executemany``) through
:mod:`retribusi.levy.bulk`. An import takes the reconciliation lock (:func:`reconcile.runs.lock`)
for its transaction, so two imports of overlapping files cannot both decide a line is new and a
run never reads half a file.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from json.encoder import encode_basestring as _json_string  # the encoder's own (ensure_ascii=False)
from multiprocessing.connection import Connection, wait
from typing import Any, Final

import psycopg
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from reconcile.bulk import FastWriter, Kind, analyze, collector_paused
from reconcile.config import va_prefixes
from reconcile.formats import (
    ExtractedKey,
    FileFormat,
    ImportRefused,
    KeyKind,
    KeyRules,
    Limits,
    ParsedFile,
    PreviousStatement,
    RefusalReason,
    StatementLine,
    StatementSummary,
    check_statement_chain,
    parse_file,
)
from reconcile.formats.common import MAX_FILE_BYTES, sha256_hex
from reconcile.models import (
    ImportedFile,
    Line,
    RejectedLine,
    SettlementBatch,
    Source,
    Statement,
)
from reconcile.runs import lock
from retribusi import clock
from retribusi.audit import record_event
from retribusi.db import AnySession, transaction
from retribusi.errors import Conflict, DomainError, ValidationFailed
from retribusi.extensions import db
from retribusi.levy.bulk import allocate_ids, widen_cache

#: Quarantined lines shown in a summary (all of them are stored).
SUMMARY_REJECTED: Final = 50
#: Lines after which an import refreshes the planner's statistics of ``recon_lines``: the run
#: that follows plans its joins on them, and autovacuum would refresh them only minutes later.
ANALYZE_AFTER_LINES: Final = 5000
MAX_FILE_NAME: Final = 200

LINE_COLUMNS: Final = (
    ("id", Kind.INT),
    ("seq", Kind.INT),
    ("line_no", Kind.INT),
    ("amount_idr", Kind.INT),
    ("file_id", Kind.INT),
    ("source", Kind.ENUM),
    ("account_id", Kind.TEXT),
    ("direction", Kind.ENUM),
    ("booking_date", Kind.DATE),
    ("value_date", Kind.DATE),
    ("statement_id", Kind.INT),
    ("batch_id", Kind.INT),
    ("is_reversal", Kind.BOOL),
    ("identity", Kind.CODE),  # "<kind>:<hex>#<n>"
    ("fee_idr", Kind.INT),
    ("bank_reference", Kind.TEXT),
    ("customer_reference", Kind.TEXT),
    ("description", Kind.TEXT),
    ("transaction_time", Kind.DATETIME),
    ("va_number", Kind.TEXT),
    ("bill_number", Kind.TEXT),
    ("qris_reference", Kind.TEXT),
    ("nmid", Kind.TEXT),
    ("keys", Kind.TEXT),  # JSON [[kind, value], ...], written by _keys_json
)
REJECTED_COLUMNS: Final = (
    ("file_id", Kind.INT),
    ("seq", Kind.INT),
    ("line_no", Kind.INT),
    ("field", Kind.TEXT),
    ("reason", Kind.CODE),
    ("message", Kind.TEXT),
    ("raw", Kind.TEXT),
)
#: Key columns of a line: a key only when the line has exactly one of that kind (and it fits).
_KEY_COLUMNS: Final = (
    (KeyKind.VA_NUMBER, 32),
    (KeyKind.BILL_NUMBER, 64),
    (KeyKind.QRIS_REFERENCE, 64),
    (KeyKind.NMID, 32),
)


@dataclass
class ImportSummary:
    """What an import did (or, for a dry run, would do)."""

    sha256: str
    format: str
    source: str
    account_id: str
    file_name: str
    profile_id: str | None = None
    file_id: int | None = None
    seen_before: bool = False
    dry_run: bool = False
    lines_read: int = 0
    lines_new: int = 0
    lines_known: int = 0
    lines_rejected: int = 0
    statements_new: int = 0
    statements_known: int = 0
    batches_new: int = 0
    batches_known: int = 0
    credit_new_idr: int = 0
    debit_new_idr: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "file_id": self.file_id,
            "sha256": self.sha256,
            "format": self.format,
            "profile": self.profile_id,
            "source": self.source,
            "account_id": self.account_id,
            "file_name": self.file_name,
            "seen_before": self.seen_before,
            "dry_run": self.dry_run,
            "lines_read": self.lines_read,
            "lines_new": self.lines_new,
            "lines_known": self.lines_known,
            "lines_rejected": self.lines_rejected,
            "statements_new": self.statements_new,
            "statements_known": self.statements_known,
            "batches_new": self.batches_new,
            "batches_known": self.batches_known,
            "credit_new_idr": self.credit_new_idr,
            "debit_new_idr": self.debit_new_idr,
            "rejected": self.rejected,
        }


def refused(error: ImportRefused) -> ValidationFailed:
    """The importers' refusal as a domain error: a stable reason, where and what was expected."""
    item: dict[str, Any] = {
        "field": "file",
        "reason": error.reason.value,
        "message": error.message,
    }
    for name in ("line_no", "expected", "found", "subject"):
        value = getattr(error, name)
        if value is not None:
            item[name] = value
    return ValidationFailed(error.message, details={"errors": [item]})


def _refuse(reason: RefusalReason, message: str, **extra: Any) -> ValidationFailed:
    return refused(ImportRefused(reason, message, **extra))


@collector_paused()
def import_file(
    data: bytes,
    fmt: str,
    *,
    actor: str,
    file_name: str = "",
    profile: str | None = None,
    account_id: str | None = None,
    acquirer_id: str | None = None,
    period: tuple[date, date] | None = None,
    dry_run: bool = False,
    max_bytes: int = MAX_FILE_BYTES,
    before_store: Callable[[], None] | None = None,
) -> ImportSummary:
    """Parse and store one file; idempotent on its bytes and on each line's identity.

    ``before_store`` is called once the file is parsed, before its transaction starts (what
    :func:`import_files` waits in for the file before to commit).

    Raises :class:`~retribusi.errors.ValidationFailed` (reason = the importers'
    :class:`~reconcile.formats.RefusalReason`) for a file refused whole, with nothing stored.
    """
    if len(data) > max_bytes:
        raise _refuse(
            RefusalReason.TOO_LARGE,
            f"file is {len(data)} bytes; the limit is {max_bytes}",
            expected=f"<= {max_bytes} bytes",
            found=f"{len(data)} bytes",
        )
    name = (file_name or "").strip()[:MAX_FILE_NAME] or "(unnamed)"
    digest = sha256_hex(data)
    session = db.session
    seen = _seen(session, digest)
    if seen is not None:
        session.rollback()
        return seen
    parsed = _parse(data, fmt, profile, account_id, acquirer_id, period, max_bytes)
    source = Source.SETTLEMENT if parsed.format is FileFormat.QRIS_SETTLEMENT else Source.BANK
    summary = ImportSummary(
        sha256=digest,
        format=parsed.format.value,
        source=source.value,
        account_id=parsed.account_id,
        file_name=name,
        profile_id=parsed.profile_id,
        dry_run=dry_run,
        lines_read=parsed.lines_read,
        lines_rejected=len(parsed.rejected),
        rejected=[
            {
                "line_no": r.line_no,
                "field": r.field,
                "reason": r.reason.value,
                "message": r.message,
            }
            for r in parsed.rejected[:SUMMARY_REJECTED]
        ],
    )
    if before_store is not None:
        before_store()
    try:
        with transaction(session):
            # One writer at a time (imports, runs, people's matches): a run never sees half
            # of a file, and two overlapping imports cannot both decide a line is new.
            lock(session)
            again = _seen(session, digest)
            if again is not None:  # imported meanwhile by someone else
                return again
            _store(session, parsed, source, summary, size=len(data), actor=actor)
            if dry_run:
                session.rollback()
                summary.file_id = None
                return summary
    except (IntegrityError, psycopg.IntegrityError) as error:
        again = _seen(session, digest)
        session.rollback()
        if again is not None:
            return again
        raise Conflict(
            "another import stored some of these lines at the same time; import again",
            details={"errors": [{"field": "file", "reason": "concurrent", "message": str(error)}]},
        ) from error
    return summary


#: Worker processes :func:`import_files` uses by default: one file parsed while the one
#: before it is stored fills two cores (the parse is Python, the store mostly the server).
IMPORT_JOBS: Final = 2


def import_files(
    files: Sequence[tuple[str, bytes]],
    fmt: str,
    *,
    actor: str,
    jobs: int = IMPORT_JOBS,
    **options: Any,
) -> list[ImportSummary | DomainError]:
    """Import ``(file name, bytes)`` in the order given, each as :func:`import_file` does (its
    own transaction; a refused file stores nothing and the others go on): each file's summary,
    or the error that refused it, in order. ``options`` are :func:`import_file`'s.

    With ``jobs`` > 1 (and a database on disk or a server) the files are shared among forked
    worker processes, each with its own connection: a worker parses its next file while the
    worker before it stores its own, and starts storing only once that file is committed, so
    the files are stored one at a time in the order given (statement chains need it) while the
    next one is already being read on the other core.
    """
    jobs = max(1, min(jobs, len(files)))
    if jobs == 1 or not _forkable():
        return [_outcome(name, data, fmt, actor, options) for name, data in files]
    context = multiprocessing.get_context("fork")
    turns = [context.Semaphore(0) for _ in range(jobs)]
    turns[0].release()
    db.session.remove()
    db.engine.dispose()  # no connection crosses the fork
    pipes = [context.Pipe(duplex=False) for _ in range(jobs)]
    workers = [
        context.Process(
            target=_import_worker,
            args=(first, jobs, files, fmt, actor, options, turns, pipes[first][1]),
            daemon=True,
        )
        for first in range(jobs)
    ]
    results: dict[int, ImportSummary | DomainError] = {}
    try:
        for worker in workers:
            worker.start()
        for _receiver, sender in pipes:
            sender.close()
        live = {
            worker.sentinel: (worker, receiver)
            for worker, (receiver, _s) in zip(workers, pipes, strict=True)
        }
        while live:  # read as they come (a full pipe would block its worker), until all end
            ready = wait([*live, *(receiver for _w, receiver in live.values())])
            for sentinel, (worker, receiver) in list(live.items()):
                if sentinel in ready:
                    worker.join()  # ended: all it sent is in the pipe
                    _receive(receiver, results)
                    del live[sentinel]
                    if worker.exitcode != 0:
                        raise RuntimeError(f"an import worker ended with code {worker.exitcode}")
                elif receiver in ready:
                    _receive(receiver, results)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()
    missing = [files[i][0] for i in range(len(files)) if i not in results]
    if missing:
        raise RuntimeError(f"no import result for {', '.join(missing)}")
    return [results[i] for i in range(len(files))]


def _receive(receiver: Connection, results: dict[int, ImportSummary | DomainError]) -> None:
    while receiver.poll():
        try:
            index, outcome = receiver.recv()
        except EOFError:  # its worker is ending
            return
        if isinstance(outcome, str):  # an unexpected failure, as its traceback
            raise RuntimeError(f"an import worker failed:\n{outcome}")
        results[index] = outcome


def _outcome(
    name: str,
    data: bytes,
    fmt: str,
    actor: str,
    options: dict[str, Any],
    before_store: Callable[[], None] | None = None,
) -> ImportSummary | DomainError:
    try:
        return import_file(
            data, fmt, actor=actor, file_name=name, before_store=before_store, **options
        )
    except DomainError as error:
        return error


def _forkable() -> bool:
    """Workers can share the database: a server or a file (an in-memory SQLite would be copied)."""
    url = db.engine.url
    on_disk = url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:")
    return on_disk and "fork" in multiprocessing.get_all_start_methods()


class _Turn:
    """A worker's turn to store one file: taken once, then passed to the next worker."""

    def __init__(self, mine: Any, following: Any) -> None:
        self.mine, self.following, self.held = mine, following, False

    def take(self) -> None:
        if not self.held:
            self.mine.acquire()
            self.held = True

    def pass_on(self) -> None:
        self.take()  # a file refused before its store still waits, so the order holds
        self.following.release()


def _import_worker(
    first: int,
    jobs: int,
    files: Sequence[tuple[str, bytes]],
    fmt: str,
    actor: str,
    options: dict[str, Any],
    turns: Sequence[Any],
    sender: Connection,
) -> None:
    """One worker of :func:`import_files`: files ``first``, ``first + jobs``, … in turn."""
    db.engine.dispose(close=False)
    for index in range(first, len(files), jobs):
        name, data = files[index]
        turn = _Turn(turns[index % jobs], turns[(index + 1) % jobs])
        outcome: ImportSummary | DomainError | str
        try:
            outcome = _outcome(name, data, fmt, actor, options, turn.take)
        except Exception:  # a bug, not a refusal: the parent raises it with this traceback
            outcome = traceback.format_exc()
        turn.pass_on()
        sender.send((index, outcome))
        if isinstance(outcome, str):
            break
    sender.close()


def _seen(session: AnySession, digest: str) -> ImportSummary | None:
    row = session.scalars(select(ImportedFile).where(ImportedFile.sha256 == digest)).first()
    if row is None:
        return None
    return ImportSummary(
        sha256=row.sha256,
        format=row.format,
        source=row.source.value,
        account_id=row.account_id,
        file_name=row.file_name,
        profile_id=row.profile_id,
        file_id=row.id,
        seen_before=True,
        lines_read=row.lines_read,
        lines_new=0,
        lines_known=row.lines_new + row.lines_known,
        lines_rejected=row.lines_rejected,
        statements_known=row.statements_new + row.statements_known,
        batches_known=row.batches_new + row.batches_known,
    )


def _parse(
    data: bytes,
    fmt: str,
    profile: str | None,
    account_id: str | None,
    acquirer_id: str | None,
    period: tuple[date, date] | None,
    max_bytes: int,
) -> ParsedFile:
    try:
        return parse_file(
            data,
            fmt,
            profile=profile,
            account_id=account_id,
            acquirer_id=acquirer_id,
            period=period,
            key_rules=KeyRules(va_prefixes=va_prefixes()),
            limits=Limits(max_bytes=max_bytes),
        )
    except ImportRefused as error:
        raise refused(error) from None
    except ValueError as error:  # an acquirer id the settlement importer refuses
        raise ValidationFailed(
            str(error),
            details={"errors": [{"field": "acquirer", "reason": "invalid", "message": str(error)}]},
        ) from None


# --- storing ---------------------------------------------------------------------------------


def _store(
    session: AnySession,
    parsed: ParsedFile,
    source: Source,
    summary: ImportSummary,
    *,
    size: int,
    actor: str,
) -> None:
    statement_rows, known_statements = _resolve_statements(session, parsed)
    batch_rows, known_batches = _resolve_batches(session, parsed)
    known = _known_identities(session, source, parsed)
    new_lines = [line for line in parsed.lines if line.identity not in known]
    summary.lines_new = len(new_lines)
    summary.lines_known = len(parsed.lines) - len(new_lines)
    summary.statements_new = len(statement_rows)
    summary.statements_known = len(known_statements)
    summary.batches_new = len(batch_rows)
    summary.batches_known = len(known_batches)
    summary.credit_new_idr = sum(ln.amount_idr for ln in new_lines if ln.direction == "credit")
    summary.debit_new_idr = sum(ln.amount_idr for ln in new_lines if ln.direction == "debit")
    if summary.lines_read != summary.lines_new + summary.lines_known + summary.lines_rejected:
        # The ParsedFile already guarantees read = accepted + rejected; this guards the split.
        raise AssertionError("lines read do not add up to new + known + rejected")
    record = ImportedFile(
        sha256=parsed.file_sha256,
        format=parsed.format.value,
        profile_id=parsed.profile_id,
        source=source,
        account_id=parsed.account_id,
        file_name=summary.file_name,
        size_bytes=size,
        lines_read=summary.lines_read,
        lines_new=summary.lines_new,
        lines_known=summary.lines_known,
        lines_rejected=summary.lines_rejected,
        statements_new=summary.statements_new,
        statements_known=summary.statements_known,
        batches_new=summary.batches_new,
        batches_known=summary.batches_known,
        imported_at=clock.now(),
        imported_by=actor,
    )
    session.add(record)
    session.flush()  # the first write: on SQLite it takes the write lock before ids are counted
    summary.file_id = record.id
    statement_ids = dict(known_statements)
    for index, row in statement_rows:
        row.file_id = record.id
        session.add(row)
        session.flush()
        statement_ids[index] = row.id
    batch_ids = dict(known_batches)
    for ref, batch in batch_rows:
        batch.file_id = record.id
        session.add(batch)
        session.flush()
        batch_ids[ref] = batch.id
    _write_lines(session, record.id, source, parsed.account_id, new_lines, statement_ids, batch_ids)
    _write_rejected(session, record.id, parsed)
    if len(new_lines) >= ANALYZE_AFTER_LINES:
        analyze(session, "recon_lines", len(new_lines))
    record_event(
        session,
        actor=actor,
        action="reconcile.import",
        subject_type="recon_file",
        subject_id=record.id,
        details={
            "sha256": parsed.file_sha256,
            "format": parsed.format.value,
            "account_id": parsed.account_id,
            "lines_read": summary.lines_read,
            "lines_new": summary.lines_new,
            "lines_known": summary.lines_known,
            "lines_rejected": summary.lines_rejected,
        },
    )


def _statement_row(summary: StatementSummary, account_id: str) -> Statement:
    return Statement(
        account_id=account_id,
        number=summary.number,
        sequence=summary.sequence,
        statement_ref=(summary.statement_id or "")[:64] or None,
        opening_date=summary.opening_date,
        closing_date=summary.closing_date,
        opening_balance_idr=summary.opening_balance_idr,
        closing_balance_idr=summary.closing_balance_idr,
        credit_total_idr=summary.credit_total_idr,
        debit_total_idr=summary.debit_total_idr,
        line_count=summary.line_count,
        closing_is_final=summary.closing_is_final,
    )


def _same_statement(stored: Statement, summary: StatementSummary) -> bool:
    return (
        stored.opening_balance_idr == summary.opening_balance_idr
        and stored.closing_balance_idr == summary.closing_balance_idr
        and stored.credit_total_idr == summary.credit_total_idr
        and stored.debit_total_idr == summary.debit_total_idr
        and stored.opening_date == summary.opening_date
        and stored.closing_date == summary.closing_date
    )


def _previous(session: AnySession, account_id: str) -> PreviousStatement | None:
    """The last numbered statement stored for the account (latest closing date, then id)."""
    stored = session.scalars(
        select(Statement)
        .where(Statement.account_id == account_id, Statement.number.is_not(None))
        .order_by(Statement.closing_date.desc(), Statement.id.desc())
        .limit(1)
    ).first()
    if stored is None:
        return None
    return PreviousStatement(
        number=stored.number,
        sequence=stored.sequence,
        closing_date=stored.closing_date,
        closing_balance_idr=stored.closing_balance_idr,
        closing_is_final=stored.closing_is_final,
    )


def _resolve_statements(
    session: AnySession, parsed: ParsedFile
) -> tuple[list[tuple[int, Statement]], list[tuple[int, int]]]:
    """(new statement rows by index, [(index, stored id)] of statements already stored)."""
    account = parsed.account_id
    new: list[tuple[int, Statement]] = []
    known: list[tuple[int, int]] = []
    new_summaries: list[StatementSummary] = []
    for summary in parsed.statements:
        query = select(Statement).where(Statement.account_id == account)
        if summary.number is not None:
            query = query.where(
                Statement.number == summary.number,
                Statement.sequence.is_(None)
                if summary.sequence is None
                else Statement.sequence == summary.sequence,
            )
        else:
            # A statement without a number (a CSV footer) is known by its period and balances.
            query = query.where(
                Statement.number.is_(None),
                Statement.opening_date.is_(None)
                if summary.opening_date is None
                else Statement.opening_date == summary.opening_date,
                Statement.closing_date.is_(None)
                if summary.closing_date is None
                else Statement.closing_date == summary.closing_date,
                Statement.opening_balance_idr == summary.opening_balance_idr,
                Statement.closing_balance_idr == summary.closing_balance_idr,
            )
        stored = session.scalars(query.limit(1)).first()
        if stored is not None:
            if not _same_statement(stored, summary):
                label = summary.number if summary.number is not None else "(unnumbered)"
                raise _refuse(
                    RefusalReason.STATEMENT_CONFLICT,
                    f"statement {label} of account {account} is already stored with other"
                    f" balances (closing {stored.closing_balance_idr}, this file"
                    f" {summary.closing_balance_idr})",
                    expected=str(stored.closing_balance_idr),
                    found=str(summary.closing_balance_idr),
                    subject=f"statement {label}",
                )
            if new_summaries:
                raise _refuse(
                    RefusalReason.STATEMENT_ORDER,
                    f"statement {summary.number} is already stored but follows a new one",
                    subject=f"statement {summary.number}",
                )
            known.append((summary.index, stored.id))
            continue
        new.append((summary.index, _statement_row(summary, account)))
        new_summaries.append(summary)
    numbered = [s for s in new_summaries if s.number is not None]
    if numbered:
        try:
            check_statement_chain(_previous(session, account), numbered)
        except ImportRefused as error:
            raise refused(error) from None
    return new, known


def _resolve_batches(
    session: AnySession, parsed: ParsedFile
) -> tuple[list[tuple[str, SettlementBatch]], list[tuple[str, int]]]:
    new: list[tuple[str, SettlementBatch]] = []
    known: list[tuple[str, int]] = []
    if not parsed.batches:
        return new, known
    refs = [b.batch_id for b in parsed.batches]
    stored = {
        b.batch_ref: b
        for b in session.scalars(
            select(SettlementBatch).where(
                SettlementBatch.acquirer_id == parsed.account_id,
                SettlementBatch.batch_ref.in_(refs),
            )
        )
    }
    for batch in parsed.batches:
        existing = stored.get(batch.batch_id)
        if existing is not None:
            same = (
                existing.settlement_date,
                existing.nmid,
                existing.transaction_count,
                existing.gross_idr,
                existing.fee_idr,
                existing.net_idr,
            ) == (
                batch.settlement_date,
                batch.nmid,
                batch.transaction_count,
                batch.gross_idr,
                batch.fee_idr,
                batch.net_idr,
            )
            if not same:
                raise _refuse(
                    RefusalReason.BATCH_CONFLICT,
                    f"batch {batch.batch_id} is already stored with other totals (net"
                    f" {existing.net_idr}, this file {batch.net_idr})",
                    expected=str(existing.net_idr),
                    found=str(batch.net_idr),
                    subject=batch.batch_id,
                )
            known.append((batch.batch_id, existing.id))
            continue
        new.append(
            (
                batch.batch_id,
                SettlementBatch(
                    acquirer_id=parsed.account_id,
                    batch_ref=batch.batch_id,
                    settlement_date=batch.settlement_date,
                    nmid=batch.nmid,
                    transaction_count=batch.transaction_count,
                    gross_idr=batch.gross_idr,
                    fee_idr=batch.fee_idr,
                    net_idr=batch.net_idr,
                ),
            )
        )
    return new, known


def _known_identities(session: AnySession, source: Source, parsed: ParsedFile) -> set[str]:
    """Identities of this file's lines already stored. An identity hashes the booking date, so
    only stored lines booked within the file's dates can share one."""
    if not parsed.lines:
        return set()
    low = min(line.booking_date for line in parsed.lines)
    high = max(line.booking_date for line in parsed.lines)
    rows = session.execute(
        select(Line.identity).where(
            Line.account_id == parsed.account_id,
            Line.source == source,
            Line.booking_date >= low,
            Line.booking_date <= high,
        )
    )
    return {identity for (identity,) in rows}


def _key_columns(line: StatementLine) -> list[str | None]:
    found: dict[KeyKind, str | None] = {}
    for kind, value in line.keys:  # distinct keys: a second one of a kind means no column
        found[kind] = None if kind in found else value
    values: list[str | None] = []
    for kind, limit in _KEY_COLUMNS:
        key = found.get(kind)
        values.append(key if key is not None and len(key) <= limit else None)
    return values


def _keys_json(keys: tuple[ExtractedKey, ...]) -> str:
    """A line's keys as the bulk writer's JSON encoder writes them (``[["kind", "value"], ...]``,
    the same text): written here, because the encoder costs microseconds a call, once a line."""
    return "[" + ", ".join([f'["{kind}", {_json_string(value)}]' for kind, value in keys]) + "]"


def _write_lines(
    session: AnySession,
    file_id: int,
    source: Source,
    account_id: str,
    lines: Sequence[StatementLine],
    statement_ids: dict[int, int],
    batch_ids: dict[str, int],
) -> None:
    if not lines:
        return
    if len(lines) > 10_000:
        widen_cache(session)
    table = Line.__table__
    ids = allocate_ids(session, table, len(lines))  # type: ignore[arg-type]

    def rows() -> Iterator[tuple[Any, ...]]:
        for line_id, line in zip(ids, lines, strict=True):
            index = line.statement_index
            yield (
                line_id,
                line.seq,
                line.line_no,
                line.amount_idr,
                file_id,
                source,
                account_id,
                line.direction,  # stored as its value, the same as LineDirection's
                line.booking_date,
                line.value_date,
                statement_ids.get(index) if index is not None else None,
                batch_ids[line.batch_id] if line.batch_id is not None else None,
                line.is_reversal,
                line.identity,
                line.fee_idr,
                line.bank_reference,
                line.customer_reference,
                line.description,
                line.transaction_time,
                *_key_columns(line),
                _keys_json(line.keys),
            )

    FastWriter(session, table, LINE_COLUMNS).write(rows())  # type: ignore[arg-type]


def _write_rejected(session: AnySession, file_id: int, parsed: ParsedFile) -> None:
    if not parsed.rejected:
        return
    FastWriter(session, RejectedLine.__table__, REJECTED_COLUMNS).write(  # type: ignore[arg-type]
        (file_id, r.seq, r.line_no, r.field[:40], r.reason.value, r.message[:500], r.raw)
        for r in parsed.rejected
    )


def stored_counts(session: AnySession, file_id: int) -> tuple[int, int]:
    """(lines stored, lines quarantined) recorded against a file, counted from the rows."""
    lines = session.scalar(select(func.count()).where(Line.file_id == file_id)) or 0
    rejected = session.scalar(select(func.count()).where(RejectedLine.file_id == file_id)) or 0
    return int(lines), int(rejected)
