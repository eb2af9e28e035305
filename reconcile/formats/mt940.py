"""SWIFT MT940 statements, read with the ``mt-940`` library plus our own checks.

The library parses tags; it "does not calculate or reconcile balances" (its README). On top of it
this module checks, per statement: account, ``:28C:`` number, opening (``:60F:``/``:60M:``) and
closing (``:62F:``/``:62M:``) balances in IDR, and opening + Σ ``:61:`` = closing exactly in whole
rupiah; across statements: numbers run on without gaps and each statement opens at the previous
closing balance. Amounts use the SWIFT decimal comma (``1500000,00``).

Decisions (docs/import-formats.md §MT940):

* A non-zero fraction of a rupiah anywhere (balance or line) refuses the file: a statement is a
  balanced whole, and quarantining one line would leave the rest unprovable.
* A ``:61:`` with an impossible date (``260231``) is quarantined, but its amount still counts in
  the balance proof, because the bank did move that money.
* A ``:61:`` the library cannot read at all, or whose amount is unreadable, refuses the file:
  without its amount the balance cannot be proven.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import mt940
from mt940.models import Balance, Transaction, Transactions

from reconcile.formats.common import (
    BookedAmount,
    Direction,
    FileFormat,
    ImportRefused,
    KeyRules,
    Limits,
    LineDraft,
    LineReason,
    LineSink,
    ParsedFile,
    PreviousStatement,
    RefusalReason,
    StatementSummary,
    TextEncoding,
    balance_idr,
    check_size,
    check_statement_chain,
    decode_text,
    line_amount_idr,
    prove_balance,
    sha256_hex,
)

#: Lines of ``:86:`` are at most 65 characters (SWIFT 6*65x); a line that long was cut by the
#: bank mid-word, so it is joined to the next without a space.
_DETAILS_LINE_CHARS: Final = 65
_SWIFT_AMOUNT_RE: Final = re.compile(r"[0-9]{1,15},[0-9]{0,5}|[0-9]{1,15}")
_TAG61_RE: Final = re.compile(r"(?m)^:\n?61:")
_NO_TYPE: Final = "----"
_EMPTY_REFERENCES: Final = frozenset({"", "NONREF"})

# Opt-in library fixes we rely on: keep ``:86:`` whole (5.0.0 cut it after 9 × 65 characters,
# silently), let a structured ``:86:`` not erase the ``:61:`` customer reference, drop a BOM.
_OPTIONS: Final = mt940.Options(unbounded_details=True, merge_keeps_values=True, strip_bom=True)
# The library would replace ``:86:`` text that looks like German structured details
# (``166?00…``) by parsed sub-fields; we keep the bank's text as written.
_PROCESSORS: Final[dict[str, list[Any]]] = {"post_transaction_details": []}


class GuardedStatementLine(mt940.tags.Statement):
    """The library's ``:61:`` tag, made to report a bad line instead of aborting the file.

    The slug of this class is ``guarded_statement_line``, not ``statement``, so the library's
    ``pre_statement`` processor does not run: it silently turns 30 February into 28/29 February,
    and an impossible date must reach us as one. The library opens a new transaction for a
    ``:61:`` only when the previous one has a transaction-type ``id``; without one it would merge
    two lines into one, so every result carries a non-empty ``id``.
    """

    def parse(self, transactions: Transactions, value: str) -> dict[str, str | None]:
        """Match the tag; an unmatched ``:61:`` becomes an error marker, not an exception."""
        try:
            data = super().parse(transactions, value)
        except RuntimeError:
            return {"_error": "unparseable", "_raw": value}
        data["_raw"] = value
        return data

    def __call__(self, transactions: Transactions, value: dict[str, Any]) -> dict[str, object]:
        """Build dates and amount; keep the raw strings for our own exact amount parsing."""
        marker: dict[str, object] = {
            "_raw": value.get("_raw"),
            "_raw_amount": value.get("amount"),
            "_raw_status": value.get("status"),
            "_type": value.get("id"),
            "id": value.get("id") or _NO_TYPE,
        }
        if "_error" in value:
            return {**marker, "_error": value["_error"]}
        try:
            data = super().__call__(transactions, dict(value))
        except (ValueError, ArithmeticError, TypeError) as exc:
            # Date() raises ValueError for 31 February; Amount() ArithmeticError for "1,2,3".
            return {**marker, "_date_error": str(exc)}
        return {**data, **marker}


_STATEMENT_TAG: Final = GuardedStatementLine()


def parse_mt940(
    data: bytes,
    *,
    previous: PreviousStatement | None = None,
    key_rules: KeyRules | None = None,
    limits: Limits | None = None,
    encoding: TextEncoding = TextEncoding.UTF8,
) -> ParsedFile:
    """Parse an MT940 file (one or more statements of one account).

    ``previous`` is the last statement already imported for the account; the first statement
    of the file must follow it. Raises :class:`ImportRefused` for a file that must be refused
    whole; quarantines single lines with impossible dates or zero amounts.
    """
    limits = limits or Limits()
    check_size(data, limits)
    text = decode_text(data, encoding).replace("\r\n", "\n").replace("\r", "\n")
    raw_lines = text.split("\n")
    tag61_line_nos = [no for no, line in enumerate(raw_lines, start=1) if line.startswith(":61:")]
    normalised = "\n".join(Transactions.strip(raw_lines))
    if len(_TAG61_RE.findall(normalised)) != len(tag61_line_nos):
        raise ImportRefused(
            RefusalReason.MALFORMED, "a :61: tag is split over two lines; cannot number lines"
        )
    blocks = _parse_blocks(normalised)
    parsed_count = sum(len(block) for block in blocks)
    if parsed_count != len(tag61_line_nos):
        # The library drops a :61: before the first :20: (or in a block it cannot place).
        raise ImportRefused(
            RefusalReason.MALFORMED,
            f"file has {len(tag61_line_nos)} :61: lines but only {parsed_count} belong to a"
            " statement (a :61: before the first :20:?)",
            expected=str(len(tag61_line_nos)),
            found=str(parsed_count),
        )
    sink = LineSink(key_rules or KeyRules())
    line_nos = iter(tag61_line_nos)
    account_id: str | None = None
    statements: list[StatementSummary] = []
    for index, block in enumerate(blocks):
        account_id = _block_account(block, account_id, index)
        statements.append(_read_statement(block, index, sink, line_nos, limits))
    if account_id is None:
        raise ImportRefused(RefusalReason.MALFORMED, "no statement (:20: … :62F:) in the file")
    check_statement_chain(previous, statements)
    return sink.build(
        fmt=FileFormat.MT940,
        file_sha256=sha256_hex(data),
        account_id=account_id,
        lines_read=len(tag61_line_nos),
        statements=tuple(statements),
    )


def _parse_blocks(text: str) -> list[Transactions]:
    try:
        # A StringIO, never the text itself: the library treats a str that names an existing
        # file as a path and reads that file, which an uploaded "statement" must not trigger.
        return mt940.parse_statements(
            io.StringIO(text), processors=_PROCESSORS, tags={61: _STATEMENT_TAG}, options=_OPTIONS
        )
    except Exception as exc:
        raise ImportRefused(
            RefusalReason.MALFORMED, f"not a readable MT940 file: {str(exc)[:200]}"
        ) from None


def _block_account(block: Transactions, known: str | None, index: int) -> str:
    account = str(block.data.get("account_identification") or "").strip()
    if not account:
        raise ImportRefused(
            RefusalReason.ACCOUNT_MISSING,
            f"statement #{index + 1} has no account (:25:)",
            subject=f"statement #{index + 1}",
        )
    if known is not None and account != known:
        raise ImportRefused(
            RefusalReason.ACCOUNT_MISMATCH,
            f"statement #{index + 1} is for account {account}, the file started with {known}",
            expected=known,
            found=account,
        )
    return account


def _statement_number(block: Transactions, index: int) -> tuple[int, int | None]:
    number = block.data.get("statement_number")
    if not number:
        raise ImportRefused(
            RefusalReason.STATEMENT_NUMBER_MISSING,
            f"statement #{index + 1} has no statement number (:28C:)",
            subject=f"statement #{index + 1}",
        )
    sequence = block.data.get("sequence_number")
    return int(number), int(sequence) if sequence else None


def _balance(
    block: Transactions, keys: tuple[str, ...], what: str, subject: str
) -> tuple[int, date, str]:
    for key in keys:
        balance = block.data.get(key)
        if isinstance(balance, Balance):
            amount = balance.amount
            if not isinstance(amount, mt940.models.Amount) or balance.date is None:
                break
            if amount.currency != "IDR":
                raise ImportRefused(
                    RefusalReason.CURRENCY,
                    f"{subject}: {what} is in {amount.currency}; only IDR statements are imported",
                    expected="IDR",
                    found=str(amount.currency),
                    subject=subject,
                )
            value = balance_idr(amount.amount, what=f"{subject} {what}", subject=subject)
            return value, date(balance.date.year, balance.date.month, balance.date.day), key
    raise ImportRefused(
        RefusalReason.BALANCE_MISSING,
        f"{subject} has no {what} ({' or '.join(':' + _TAG_OF[k] + ':' for k in keys)})",
        subject=subject,
    )


_TAG_OF: Final = {
    "final_opening_balance": "60F",
    "intermediate_opening_balance": "60M",
    "opening_balance": "60",
    "final_closing_balance": "62F",
    "intermediate_closing_balance": "62M",
    "closing_balance": "62",
}
_OPENING_KEYS: Final = ("final_opening_balance", "intermediate_opening_balance", "opening_balance")
_CLOSING_KEYS: Final = ("final_closing_balance", "intermediate_closing_balance", "closing_balance")


def _read_statement(
    block: Transactions,
    index: int,
    sink: LineSink,
    line_nos: Iterator[int],
    limits: Limits,
) -> StatementSummary:
    number, sequence = _statement_number(block, index)
    subject = f"statement {number}" + (f"/{sequence}" if sequence is not None else "")
    opening_idr, opening_date, _ = _balance(block, _OPENING_KEYS, "opening balance", subject)
    closing_idr, closing_date, closing_key = _balance(
        block, _CLOSING_KEYS, "closing balance", subject
    )
    booked = [_read_line(transaction, next(line_nos), index, sink, limits) for transaction in block]
    credit_idr, debit_idr = prove_balance(
        subject=subject, opening_idr=opening_idr, closing_idr=closing_idr, booked=booked
    )
    reference = str(block.data.get("transaction_reference") or "").strip() or None
    return StatementSummary(
        index=index,
        statement_id=reference,
        number=number,
        sequence=sequence,
        opening_date=opening_date,
        closing_date=closing_date,
        opening_balance_idr=opening_idr,
        closing_balance_idr=closing_idr,
        credit_total_idr=credit_idr,
        debit_total_idr=debit_idr,
        line_count=len(booked),
        closing_is_final=closing_key != "intermediate_closing_balance",
    )


def _swift_decimal(raw: object) -> Decimal | None:
    if not isinstance(raw, str) or not _SWIFT_AMOUNT_RE.fullmatch(raw):
        return None
    try:
        return Decimal(raw.replace(",", ".").rstrip("."))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return None


def _details(transaction: Transaction) -> str:
    raw = transaction.data.get("transaction_details")
    parts: list[str] = []
    if isinstance(raw, str):
        text = ""
        before = ""
        for line in (line.rstrip() for line in raw.split("\n")):
            if not line.strip():
                continue
            # A line of the full 65 characters was cut mid-word by the bank: no space.
            glue = "" if not text or len(before) >= _DETAILS_LINE_CHARS else " "
            text += glue + line.strip()
            before = line
        parts.append(text)
    extra = transaction.data.get("extra_details")
    if isinstance(extra, str) and extra.strip():
        parts.append(extra.strip())
    return " ".join(parts)


def _reference(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return None if text.upper() in _EMPTY_REFERENCES else text


def _read_line(
    transaction: Transaction, line_no: int, index: int, sink: LineSink, limits: Limits
) -> BookedAmount:
    data = transaction.data
    description = _details(transaction)
    raw = f":61:{data.get('_raw') or ''}" + (f"\n:86:{description}" if description else "")
    status = str(data.get("_raw_status") or "").upper()
    amount = _swift_decimal(data.get("_raw_amount"))
    if "_error" in data or amount is None or status not in {"C", "D", "RC", "RD"}:
        sink.reject(
            line_no=line_no,
            field_name="61",
            reason=LineReason.LINE_UNPARSEABLE,
            message="statement line :61: cannot be read",
            raw=raw,
        )
        return BookedAmount(line_no, None, LineReason.LINE_UNPARSEABLE)
    # C = credit, D = debit, RC = reversal of a credit (money out), RD = reversal of a debit.
    direction = Direction.CREDIT if status in {"C", "RD"} else Direction.DEBIT
    booked = BookedAmount(line_no, amount * direction.sign)
    if "_date_error" in data:
        sink.reject(
            line_no=line_no,
            field_name="61.date",
            reason=LineReason.DATE_INVALID,
            message=f"impossible date in :61: ({data['_date_error']})",
            raw=raw,
        )
        return booked
    amount_idr, problem = line_amount_idr(amount)
    if amount_idr is None:
        sink.reject(
            line_no=line_no,
            field_name="61.amount",
            reason=problem or LineReason.AMOUNT_INVALID,
            message=f"amount {data.get('_raw_amount')} is not a whole, non-zero rupiah amount",
            raw=raw,
        )
        return booked
    if len(description) > limits.max_field_chars:
        sink.reject(
            line_no=line_no,
            field_name="86",
            reason=LineReason.FIELD_TOO_LONG,
            message=f":86: has {len(description)} characters (limit {limits.max_field_chars})",
            raw=raw,
        )
        return booked
    value_date = _as_date(data.get("date"))
    if value_date is None:  # pragma: no cover - the tag always builds the value date
        sink.reject(
            line_no=line_no,
            field_name="61.date",
            reason=LineReason.DATE_MISSING,
            message=":61: has no value date",
            raw=raw,
        )
        return booked
    booking_date = _as_date(data.get("entry_date")) or value_date
    sink.accept(
        LineDraft(
            line_no=line_no,
            booking_date=booking_date,
            value_date=value_date,
            amount_idr=amount_idr,
            direction=direction,
            description=description,
            bank_reference=_reference(data.get("bank_reference")),
            customer_reference=_reference(data.get("customer_reference")),
            is_reversal=status.startswith("R"),
            statement_index=index,
        )
    )
    return booked


def _as_date(value: object) -> date | None:
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    return None
