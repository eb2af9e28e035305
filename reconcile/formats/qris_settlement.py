"""QRIS acquirer settlement reports, in the CSV layout this project defines.

Acquirers send settlement reports in their own layouts (NICEPAY, for one, lists count, amount,
MDR, VAT on the fee, holds: reconcile.md §3.2); there is no standard. We define one neutral CSV
(docs/import-formats.md §QRIS settlement) that an acquirer's report is converted into. Each
``TRX`` row is one QRIS payment; each ``BATCH`` row states the totals of one settlement batch,
which reaches the bank as one credit. The file is refused unless, for every batch,
Σ gross − Σ fee = Σ net = the batch's net, and the batch's gross, fee and count agree too.

Rows: ``TRX`` rows are the lines read (accepted or quarantined); ``BATCH`` rows become
:class:`SettlementBatch` values. Any other record type is a line, quarantined.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from reconcile.formats.common import (
    Direction,
    ExtractedKey,
    FileFormat,
    ImportRefused,
    KeyKind,
    KeyRules,
    Limits,
    LineDraft,
    LineReason,
    LineSink,
    ParsedFile,
    RefusalReason,
    SettlementBatch,
    TextEncoding,
    check_size,
    decode_text,
    sha256_hex,
)
from retribusi.money import MoneyError, parse_idr

COLUMNS: Final = (
    "record_type",
    "batch_id",
    "settlement_date",
    "nmid",
    "rrn",
    "reference_label",
    "bill_number",
    "transaction_time",
    "gross",
    "fee",
    "net",
    "transaction_count",
)
_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/\-]{0,63}")
_NMID_RE: Final = re.compile(r"[A-Z0-9]{1,32}")
_RRN_RE: Final = re.compile(r"[A-Za-z0-9\-]{1,64}")
_COUNT_RE: Final = re.compile(r"[0-9]{1,9}")
#: QRIS tag 62 sub-fields (bill number 01, reference label 05) hold at most 25 characters;
#: our bill numbers may be longer in the report, so they get a wider bound.
_REFERENCE_LABEL_CHARS: Final = 25
_BILL_NUMBER_CHARS: Final = 64


@dataclass(frozen=True, slots=True)
class _Amounts:
    gross: int
    fee: int
    net: int


@dataclass
class _BatchTotals:
    settlement_date: str
    nmid: str
    gross: int = 0
    fee: int = 0
    net: int = 0
    count: int = 0
    unreadable_row: int | None = None
    mixed_row: int | None = None


def parse_qris_settlement(
    data: bytes,
    *,
    acquirer_id: str,
    key_rules: KeyRules | None = None,
    limits: Limits | None = None,
) -> ParsedFile:
    """Parse a settlement CSV from the acquirer ``acquirer_id`` (the result's ``account_id``).

    Raises :class:`ImportRefused` when a batch does not add up, a batch total row is missing or
    repeated, or the header is wrong; quarantines rows with a bad time, a missing reference, a
    fee above the gross or a net that is not gross − fee (their amounts still count in the
    batch sums, because the acquirer paid them out).
    """
    if not _ID_RE.fullmatch(acquirer_id):
        raise ValueError("acquirer_id must be 1-64 characters [A-Za-z0-9._/-]")
    limits = limits or Limits()
    check_size(data, limits)
    text = decode_text(data, TextEncoding.UTF8)
    rows = _rows(text)
    sink = LineSink(key_rules or KeyRules())
    totals: dict[str, _BatchTotals] = {}
    batch_rows: dict[str, tuple[int, list[str]]] = {}
    lines_read = 0
    for row_no, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        record = dict(zip(COLUMNS, (cell.strip() for cell in cells), strict=False))
        if record.get("record_type") == "BATCH":
            _remember_batch(record, row_no, batch_rows, cells)
            continue
        lines_read += 1
        _read_transaction(record, row_no, cells, sink, totals, limits)
    batches = _check_batches(totals, batch_rows)
    return sink.build(
        fmt=FileFormat.QRIS_SETTLEMENT,
        file_sha256=sha256_hex(data),
        account_id=acquirer_id,
        lines_read=lines_read,
        batches=batches,
    )


def _rows(text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        header = next(reader, None)
        found = [cell.strip() for cell in header or []]
        if found != list(COLUMNS):
            delimiter = next((d for d in ";\t|" if d in ",".join(found)), None)
            reason = RefusalReason.DELIMITER if delimiter else RefusalReason.HEADER
            raise ImportRefused(
                reason,
                "settlement header must be exactly: " + ",".join(COLUMNS),
                line_no=1,
                expected=",".join(COLUMNS),
                found=",".join(found)[:300],
            )
        start = reader.line_num + 1
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportRefused(
            RefusalReason.MALFORMED,
            f"CSV cannot be read near line {reader.line_num}: {exc}",
            line_no=reader.line_num,
        ) from None
    return rows


def _remember_batch(
    record: dict[str, str],
    row_no: int,
    batch_rows: dict[str, tuple[int, list[str]]],
    cells: list[str],
) -> None:
    batch_id = record.get("batch_id", "")
    if not _ID_RE.fullmatch(batch_id):
        raise ImportRefused(
            RefusalReason.MALFORMED,
            f"BATCH row at line {row_no} has no valid batch_id",
            line_no=row_no,
        )
    if batch_id in batch_rows:
        raise ImportRefused(
            RefusalReason.BATCH_DUPLICATE,
            f"batch {batch_id} has two total rows (lines {batch_rows[batch_id][0]} and {row_no})",
            line_no=row_no,
            subject=batch_id,
        )
    batch_rows[batch_id] = (row_no, cells)


def _has_columns(cells: list[str]) -> bool:
    """Exactly the defined columns; empty trailing cells (a trailing comma) are tolerated."""
    extra = cells[len(COLUMNS) :]
    return len(cells) >= len(COLUMNS) and not any(cell.strip() for cell in extra)


def _money(text: str, *, allow_zero: bool) -> int | LineReason:
    try:
        return parse_idr(text, allow_zero=allow_zero)
    except MoneyError as exc:
        return {
            "fraction": LineReason.AMOUNT_FRACTION,
            "zero": LineReason.AMOUNT_ZERO,
            "range": LineReason.AMOUNT_RANGE,
        }.get(exc.reason, LineReason.AMOUNT_INVALID)


def _amounts(record: dict[str, str]) -> tuple[_Amounts | None, str, LineReason | None]:
    values: list[int] = []
    for name in ("gross", "fee", "net"):
        value = _money(record.get(name, ""), allow_zero=True)
        if isinstance(value, LineReason):
            return None, name, value
        values.append(value)
    gross, fee, net = values
    return _Amounts(gross, fee, net), "", None


def _read_transaction(
    record: dict[str, str],
    row_no: int,
    cells: list[str],
    sink: LineSink,
    totals: dict[str, _BatchTotals],
    limits: Limits,
) -> None:
    raw = ",".join(cells)

    def reject(field_name: str, reason: LineReason, message: str) -> None:
        sink.reject(line_no=row_no, field_name=field_name, reason=reason, message=message, raw=raw)

    if record.get("record_type") != "TRX":
        reject("record_type", LineReason.FIELD_INVALID, "record_type must be TRX or BATCH")
        return
    batch_id = record.get("batch_id", "")
    if not _ID_RE.fullmatch(batch_id):
        # Not part of any batch: the batch proofs do not depend on it, so quarantine is safe.
        reject("batch_id", LineReason.FIELD_MISSING, "transaction has no valid batch_id")
        return
    where = (record.get("settlement_date", ""), record.get("nmid", ""))
    batch = totals.setdefault(batch_id, _BatchTotals(*where))
    if (batch.settlement_date, batch.nmid) != where:
        batch.mixed_row = batch.mixed_row or row_no
    amounts, field_name, problem = _amounts(record)
    if not _has_columns(cells):
        amounts, field_name, problem = None, "row", LineReason.COLUMNS
    if amounts is None:
        batch.unreadable_row = batch.unreadable_row or row_no
        reason = problem or LineReason.AMOUNT_INVALID
        reject(field_name, reason, f"{field_name} cannot be read ({reason.value})")
        return
    batch.gross += amounts.gross
    batch.fee += amounts.fee
    batch.net += amounts.net
    batch.count += 1
    problem_field, row_problem, message = _transaction_problem(record, amounts, limits)
    if row_problem is not None:
        reject(problem_field, row_problem, message)
        return
    paid_at = datetime.fromisoformat(record["transaction_time"])
    sink.accept(
        LineDraft(
            line_no=row_no,
            booking_date=paid_at.date(),
            value_date=date.fromisoformat(record["settlement_date"]),
            amount_idr=amounts.gross,
            direction=Direction.CREDIT,
            description=" ".join(
                part for part in (record["reference_label"], record["bill_number"]) if part
            ),
            bank_reference=record["rrn"],
            customer_reference=record["reference_label"] or None,
            fee_idr=amounts.fee,
            batch_id=batch_id,
            transaction_time=paid_at,
            column_keys=_column_keys(record),
        )
    )


def _transaction_problem(
    record: dict[str, str], amounts: _Amounts, limits: Limits
) -> tuple[str, LineReason | None, str]:
    return next(_transaction_problems(record, amounts, limits), ("", None, ""))


def _transaction_problems(
    record: dict[str, str], amounts: _Amounts, limits: Limits
) -> Iterator[tuple[str, LineReason | None, str]]:
    """Why a transaction row is quarantined, in the order a reader would check."""
    if amounts.gross == 0:
        yield "gross", LineReason.AMOUNT_ZERO, "gross amount is zero"
    if amounts.fee > amounts.gross:
        yield "fee", LineReason.FEE_EXCEEDS_GROSS, f"fee {amounts.fee} > gross {amounts.gross}"
    if amounts.net != amounts.gross - amounts.fee:
        message = f"net {amounts.net} is not gross {amounts.gross} - fee {amounts.fee}"
        yield "net", LineReason.NET_MISMATCH, message
    if not _RRN_RE.fullmatch(record["rrn"]):
        yield "rrn", LineReason.FIELD_MISSING, "transaction has no acquirer reference (RRN)"
    if not _NMID_RE.fullmatch(record["nmid"]):
        yield "nmid", LineReason.FIELD_INVALID, "nmid must be 1-32 characters A-Z, 0-9"
    if len(record["reference_label"]) > _REFERENCE_LABEL_CHARS:
        yield "reference_label", LineReason.FIELD_TOO_LONG, "reference label over 25 characters"
    if len(record["bill_number"]) > min(_BILL_NUMBER_CHARS, limits.max_field_chars):
        yield "bill_number", LineReason.FIELD_TOO_LONG, "bill number over 64 characters"
    try:
        paid_at = datetime.fromisoformat(record["transaction_time"])
        date.fromisoformat(record["settlement_date"])
    except ValueError:
        yield "transaction_time", LineReason.DATE_INVALID, "time or date is not ISO 8601"
    else:
        if paid_at.tzinfo is None:
            yield "transaction_time", LineReason.DATE_INVALID, "time needs an offset (+07:00)"


def _column_keys(record: dict[str, str]) -> tuple[ExtractedKey, ...]:
    keys = [ExtractedKey(KeyKind.NMID, record["nmid"])]
    if record["reference_label"]:
        keys.append(ExtractedKey(KeyKind.QRIS_REFERENCE, record["reference_label"]))
    if record["bill_number"]:
        keys.append(ExtractedKey(KeyKind.BILL_NUMBER, record["bill_number"]))
    return tuple(keys)


def _batch_total(batch_id: str, row_no: int, cells: list[str]) -> SettlementBatch:
    record = dict(zip(COLUMNS, (cell.strip() for cell in cells), strict=False))
    amounts, field_name, _ = _amounts(record)
    if not _has_columns(cells):
        amounts, field_name = None, "columns"
    count = record.get("transaction_count", "")
    try:
        settlement_date = date.fromisoformat(record.get("settlement_date", ""))
    except ValueError:
        settlement_date = None
    if amounts is None or not _COUNT_RE.fullmatch(count) or settlement_date is None:
        raise ImportRefused(
            RefusalReason.BATCH_UNVERIFIABLE,
            f"total row of batch {batch_id} (line {row_no}) cannot be read"
            f" ({field_name or 'transaction_count or settlement_date'})",
            line_no=row_no,
            subject=batch_id,
        )
    return SettlementBatch(
        batch_id=batch_id,
        settlement_date=settlement_date,
        nmid=record.get("nmid", ""),
        transaction_count=int(count),
        gross_idr=amounts.gross,
        fee_idr=amounts.fee,
        net_idr=amounts.net,
    )


def _check_batches(
    totals: dict[str, _BatchTotals], batch_rows: dict[str, tuple[int, list[str]]]
) -> tuple[SettlementBatch, ...]:
    for batch_id in sorted(totals.keys() - batch_rows.keys()):
        raise ImportRefused(
            RefusalReason.BATCH_MISSING,
            f"batch {batch_id} has transactions but no BATCH total row",
            subject=batch_id,
        )
    batches: list[SettlementBatch] = []
    for batch_id, (row_no, cells) in batch_rows.items():
        total = _batch_total(batch_id, row_no, cells)
        sums = totals.get(batch_id)
        if sums is None:
            raise ImportRefused(
                RefusalReason.BATCH_MISSING,
                f"batch {batch_id} has a total row (line {row_no}) but no transactions",
                line_no=row_no,
                subject=batch_id,
            )
        _check_batch(batch_id, row_no, total, sums)
        batches.append(total)
    return tuple(batches)


def _check_batch(batch_id: str, row_no: int, total: SettlementBatch, sums: _BatchTotals) -> None:
    if sums.unreadable_row is not None:
        raise ImportRefused(
            RefusalReason.BATCH_UNVERIFIABLE,
            f"batch {batch_id}: the amounts of line {sums.unreadable_row} cannot be read, so the"
            " batch cannot be proven to add up",
            line_no=sums.unreadable_row,
            subject=batch_id,
        )
    if sums.mixed_row is not None or (total.settlement_date.isoformat(), total.nmid) != (
        sums.settlement_date,
        sums.nmid,
    ):
        raise ImportRefused(
            RefusalReason.BATCH_MISMATCH,
            f"batch {batch_id}: transactions disagree with the total row on settlement date or"
            " NMID",
            line_no=sums.mixed_row or row_no,
            subject=batch_id,
        )
    checks = {
        "gross - fee = net": sums.gross - sums.fee == sums.net,
        "net = batch net": sums.net == total.net_idr,
        "gross = batch gross": sums.gross == total.gross_idr,
        "fee = batch fee": sums.fee == total.fee_idr,
        "count = batch count": sums.count == total.transaction_count,
    }
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise ImportRefused(
            RefusalReason.BATCH_MISMATCH,
            f"batch {batch_id} does not add up ({', '.join(failed)}): transactions gross"
            f" {sums.gross}, fee {sums.fee}, net {sums.net}, count {sums.count}; total row"
            f" gross {total.gross_idr}, fee {total.fee_idr}, net {total.net_idr},"
            f" count {total.transaction_count}",
            line_no=row_no,
            expected=str(total.net_idr),
            found=str(sums.net),
            subject=batch_id,
        )
