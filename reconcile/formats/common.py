"""What every statement and settlement importer returns, and the rules they share.

An importer turns the bytes of one file into a :class:`ParsedFile`: the accepted
:class:`StatementLine` objects, the :class:`RejectedLine` objects quarantined with a reason, and
the statement balances or settlement batches the file declares. Problems that make the *whole*
file untrustworthy (balances that do not add up, a statement gap, a wrong encoding, an XML
attack, a file over the size bound) raise :class:`ImportRefused` instead, and nothing of the file
may be stored. Importers are pure: bytes in, values out, no database.

Invariant ("nothing lost", reconcile.md §5.1): every line an importer reads ends up either
accepted or rejected; ``ParsedFile`` refuses to exist otherwise. Each importer counts the lines
it reads independently of the code that classifies them, so a line dropped by a bug breaks
the invariant instead of vanishing.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Final, NamedTuple

from retribusi.money import MAX_AMOUNT_IDR, MoneyError, parse_idr

#: 50 MiB. A day at the design target (50 000 lines) is 5–15 MB in any of our formats, so this
#: leaves room for a month-end file while keeping one import's memory (the parsed objects take
#: roughly ten times the file) well inside a web worker. Hyperswitch caps uploads at 25 MB.
MAX_FILE_BYTES: Final = 50 * 1024 * 1024

#: Physical lines (CSV/MT940) or rows (XLSX) per file: twenty days at the design target. It also
#: bounds the work an XLSX file can demand, whose compressed size says little about its rows.
MAX_LINES: Final = 1_000_000

#: Characters in one text field (description, reference, cell). MT940 allows 6 × 65 = 390 in
#: ``:86:``; banks exceed it, but a longer field is not a payment description.
MAX_FIELD_CHARS: Final = 2_000

#: Uncompressed bytes an XLSX archive may expand to (zip-bomb guard, checked before openpyxl).
MAX_UNCOMPRESSED_BYTES: Final = 256 * 1024 * 1024

#: Balances may exceed the per-payment bound (a city account holds more than one payment), but
#: stay below 2^53 so JSON consumers that use doubles read them exactly.
MAX_BALANCE_IDR: Final = 10**15

#: Characters of the source kept on a rejected line, so a human can see what was refused.
MAX_RAW_CHARS: Final = 500

UTF8_BOM: Final = b"\xef\xbb\xbf"
_UTF16_BOMS: Final = (b"\xff\xfe", b"\xfe\xff")


class FileFormat(StrEnum):
    """The formats an importer reads."""

    MT940 = "mt940"
    CAMT053 = "camt053"
    BANK_CSV = "bank_csv"
    BANK_XLSX = "bank_xlsx"
    QRIS_SETTLEMENT = "qris_settlement"


class Direction(StrEnum):
    """Money into the account (credit) or out of it (debit), seen from the account holder."""

    CREDIT = "credit"
    DEBIT = "debit"

    @property
    def sign(self) -> int:
        """+1 for a credit, -1 for a debit."""
        return 1 if self is Direction.CREDIT else -1


class KeyKind(StrEnum):
    """Kinds of matching key found in a line's text or columns."""

    VA_NUMBER = "va_number"
    BILL_NUMBER = "bill_number"
    QRIS_REFERENCE = "qris_reference"
    NMID = "nmid"


class RefusalReason(StrEnum):
    """Why a whole file was refused. Stable codes: callers map them to messages."""

    TOO_LARGE = "too_large"
    TOO_MANY_LINES = "too_many_lines"
    EMPTY = "empty"
    ENCODING = "encoding"
    DELIMITER = "delimiter"
    HEADER = "header"
    MALFORMED = "malformed"
    XML_FORBIDDEN = "xml_forbidden"
    XML_MALFORMED = "xml_malformed"
    XML_NAMESPACE = "xml_namespace"
    XLSX_INVALID = "xlsx_invalid"
    SHEET = "sheet"
    CURRENCY = "currency"
    ACCOUNT_MISSING = "account_missing"
    ACCOUNT_MISMATCH = "account_mismatch"
    BALANCE_MISSING = "balance_missing"
    BALANCE_MISMATCH = "balance_mismatch"
    BALANCE_DISCONTINUITY = "balance_discontinuity"
    AMOUNT_FRACTION = "amount_fraction"
    LINE_AMOUNT_UNREADABLE = "line_amount_unreadable"
    STATEMENT_NUMBER_MISSING = "statement_number_missing"
    STATEMENT_GAP = "statement_gap"
    STATEMENT_ORDER = "statement_order"
    STATEMENT_CONFLICT = "statement_conflict"  # stored already, under the same number, otherwise
    PERIOD_UNKNOWN = "period_unknown"
    BATCH_MISMATCH = "batch_mismatch"
    BATCH_MISSING = "batch_missing"
    BATCH_DUPLICATE = "batch_duplicate"
    BATCH_UNVERIFIABLE = "batch_unverifiable"
    BATCH_CONFLICT = "batch_conflict"  # stored already, under the same id, with other totals
    PROFILE_INVALID = "profile_invalid"
    PROFILE_UNKNOWN = "profile_unknown"
    FORMAT_MISMATCH = "format_mismatch"


class LineReason(StrEnum):
    """Why one line was quarantined while the rest of the file was accepted."""

    DATE_MISSING = "date_missing"
    DATE_INVALID = "date_invalid"
    DATE_OUTSIDE_PERIOD = "date_outside_period"
    AMOUNT_MISSING = "amount_missing"
    AMOUNT_INVALID = "amount_invalid"
    AMOUNT_FRACTION = "amount_fraction"
    AMOUNT_ZERO = "amount_zero"
    AMOUNT_RANGE = "amount_range"
    DIRECTION_INVALID = "direction_invalid"
    PENDING = "pending"
    FORMULA = "formula"
    FIELD_MISSING = "field_missing"
    FIELD_INVALID = "field_invalid"
    FIELD_TOO_LONG = "field_too_long"
    COLUMNS = "columns"
    ORPHAN_CONTINUATION = "orphan_continuation"
    LINE_UNPARSEABLE = "line_unparseable"
    FEE_EXCEEDS_GROSS = "fee_exceeds_gross"
    NET_MISMATCH = "net_mismatch"


class ImportRefused(Exception):
    """The whole file is refused; nothing of it may be stored.

    ``reason`` is a stable code; ``expected``/``found`` say what the importer wanted and what
    it saw (e.g. the header names); ``line_no`` is 1-based where one line is to blame;
    ``subject`` names the statement, batch or column concerned.
    """

    def __init__(
        self,
        reason: RefusalReason,
        message: str,
        *,
        line_no: int | None = None,
        expected: str | None = None,
        found: str | None = None,
        subject: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.line_no = line_no
        self.expected = expected
        self.found = found
        self.subject = subject

    def __repr__(self) -> str:
        return f"ImportRefused({self.reason.value!r}, {self.message!r})"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied to one file; the defaults are the module constants above."""

    max_bytes: int = MAX_FILE_BYTES
    max_lines: int = MAX_LINES
    max_field_chars: int = MAX_FIELD_CHARS
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES


class ExtractedKey(NamedTuple):
    """A matching key (VA number, bill number, QRIS reference, NMID) found for a line.

    A named tuple rather than a dataclass: keys are hashed and sorted for every line, and
    tuples do that in C.
    """

    kind: KeyKind
    value: str


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One accepted line: a bank-statement entry or a QRIS settlement transaction.

    ``amount_idr`` is positive; ``direction`` gives the sign. For settlement lines
    ``amount_idr`` is the gross, ``fee_idr`` the MDR and ``net_idr`` what reached the bank.
    ``identity`` is stable across re-imports (see :func:`line_identities`).
    """

    seq: int
    line_no: int
    identity: str
    booking_date: date
    value_date: date
    amount_idr: int
    direction: Direction
    bank_reference: str | None
    customer_reference: str | None
    description: str
    keys: tuple[ExtractedKey, ...]
    is_reversal: bool = False
    statement_index: int | None = None
    fee_idr: int | None = None
    batch_id: str | None = None
    transaction_time: datetime | None = None

    @property
    def signed_amount_idr(self) -> int:
        """The amount with the sign of its direction (debits negative)."""
        return self.direction.sign * self.amount_idr

    @property
    def net_idr(self) -> int:
        """Amount less fee (equal to ``amount_idr`` for bank-statement lines)."""
        return self.amount_idr - (self.fee_idr or 0)

    def keys_of(self, kind: KeyKind) -> tuple[str, ...]:
        """The values of the extracted keys of one kind."""
        return tuple(key.value for key in self.keys if key.kind is kind)


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """One quarantined line: kept with where it was, which field failed and why."""

    seq: int
    line_no: int
    field: str
    reason: LineReason
    message: str
    raw: str


@dataclass(frozen=True, slots=True)
class StatementSummary:
    """One statement in the file (MT940 ``:20:``…``:62F:`` block, camt ``Stmt``, CSV footer).

    ``number``/``sequence`` are MT940 ``:28C:`` or camt ``ElctrncSeqNb`` (sequence is the MT940
    page). Balances are signed whole rupiah; ``line_count`` counts booked lines, accepted or not.
    """

    index: int
    statement_id: str | None
    number: int | None
    sequence: int | None
    opening_date: date | None
    closing_date: date | None
    opening_balance_idr: int
    closing_balance_idr: int
    credit_total_idr: int
    debit_total_idr: int
    line_count: int
    closing_is_final: bool = True


@dataclass(frozen=True, slots=True)
class PreviousStatement:
    """The last statement already imported for the account, for the continuity check."""

    number: int | None
    sequence: int | None = None
    closing_date: date | None = None
    closing_balance_idr: int | None = None
    closing_is_final: bool = True

    @classmethod
    def of(cls, summary: StatementSummary) -> PreviousStatement:
        """The continuity facts of a statement parsed earlier."""
        return cls(
            number=summary.number,
            sequence=summary.sequence,
            closing_date=summary.closing_date,
            closing_balance_idr=summary.closing_balance_idr,
            closing_is_final=summary.closing_is_final,
        )


@dataclass(frozen=True, slots=True)
class SettlementBatch:
    """One settlement batch of a QRIS acquirer report, already checked to add up."""

    batch_id: str
    settlement_date: date
    nmid: str
    transaction_count: int
    gross_idr: int
    fee_idr: int
    net_idr: int


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """The result of importing one file. Construction checks read = accepted + rejected."""

    format: FileFormat
    file_sha256: str
    account_id: str
    currency: str
    lines: tuple[StatementLine, ...]
    rejected: tuple[RejectedLine, ...]
    lines_read: int
    statements: tuple[StatementSummary, ...] = ()
    batches: tuple[SettlementBatch, ...] = ()
    profile_id: str | None = None

    def __post_init__(self) -> None:
        # Programmer-error guard, deliberately not an ``assert`` (which ``python -O`` drops):
        # a parser that loses a line must fail loudly, never hand back a short file.
        if self.lines_read != len(self.lines) + len(self.rejected):
            raise AssertionError(
                f"lines read ({self.lines_read}) != accepted ({len(self.lines)})"
                f" + rejected ({len(self.rejected)})"
            )

    @property
    def opening_balance_idr(self) -> int | None:
        """Opening balance of the first statement, if the format carries balances."""
        return self.statements[0].opening_balance_idr if self.statements else None

    @property
    def closing_balance_idr(self) -> int | None:
        """Closing balance of the last statement, if the format carries balances."""
        return self.statements[-1].closing_balance_idr if self.statements else None

    @property
    def statement_numbers(self) -> tuple[int | None, ...]:
        """The statement numbers in file order."""
        return tuple(statement.number for statement in self.statements)

    @property
    def credit_total_idr(self) -> int:
        """Σ accepted credits."""
        return sum(ln.amount_idr for ln in self.lines if ln.direction is Direction.CREDIT)

    @property
    def debit_total_idr(self) -> int:
        """Σ accepted debits."""
        return sum(ln.amount_idr for ln in self.lines if ln.direction is Direction.DEBIT)


# --- keys -------------------------------------------------------------------------------------

#: Our bill numbers: SKRD (bill) or STRD (sanction notice) / year / month / market code / serial.
DEFAULT_BILL_PATTERN: Final = (
    r"\b(?:SKRD|STRD)/(?:19|20)\d\d/(?:0[1-9]|1[0-2])/[A-Z0-9]{1,20}/\d{1,10}\b"
)
#: A VA number announced by the word "VA" (optionally "VA NO"), as banks write VA credits.
DEFAULT_VA_MARKER_PATTERN: Final = r"\bVA\b(?:\s*NO\b\.?)?[\s:#.\-]{0,3}(\d{10,28})(?!\d)"
#: A QRIS reference: after the word QRIS, a token labelled REF, RRN, BATCH or TRX.
DEFAULT_QRIS_PATTERN: Final = (
    r"\bQRIS\b[^\n]{0,40}?\b(?:REF|RRN|BATCH|TRX)\b[\s:#.\-]{0,3}([A-Z0-9][A-Z0-9\-]{4,24})\b"
)
#: QRIS National Merchant ID: "ID" + 13 digits.
NMID_PATTERN: Final = r"\bID\d{13}\b"
_DIGIT_RUN_PATTERN: Final = r"(?<!\d)\d{10,28}(?!\d)"


@dataclass(frozen=True, slots=True)
class KeyRules:
    """How to find matching keys in free text; patterns run on the upper-cased text.

    ``va_prefixes`` are the digits our VA numbers start with (partnerServiceId / company code,
    leading zeros and padding stripped, reference snap-va.md §1.2): any 10–28-digit run that
    starts with one of them is a VA number even without the word "VA" before it. A pattern's
    key is its first capturing group, or the whole match if it has none.
    """

    va_prefixes: tuple[str, ...] = ()
    bill_pattern: str = DEFAULT_BILL_PATTERN
    va_marker_pattern: str = DEFAULT_VA_MARKER_PATTERN
    qris_pattern: str = DEFAULT_QRIS_PATTERN


#: Joins the texts of one line for a single scan per pattern. A newline stops ``[^\n]`` gaps
#: and NUL is neither space nor punctuation, so no default pattern matches across two texts.
_TEXT_SEPARATOR: Final = "\n\x00"

_Scanner = tuple[KeyKind, re.Pattern[str], bool, tuple[str, ...], tuple[str, ...]]

#: Words a default pattern cannot match without: a text holding none of them is not scanned
#: with that pattern at all (a substring test costs a fraction of a regular-expression scan).
_NEEDLES: Final = {
    DEFAULT_BILL_PATTERN: ("SKRD/", "STRD/"),
    DEFAULT_VA_MARKER_PATTERN: ("VA",),
    DEFAULT_QRIS_PATTERN: ("QRIS",),
    NMID_PATTERN: ("ID",),
}


@lru_cache(maxsize=32)
def _scanners(rules: KeyRules) -> tuple[_Scanner, ...]:
    """Compiled patterns of ``rules``: (kind, pattern, has a group, required prefixes, needles).

    ``needles``: substrings the pattern needs (empty for a pattern the caller replaced: it is
    always run)."""
    specs: list[tuple[KeyKind, str, tuple[str, ...]]] = [
        (KeyKind.BILL_NUMBER, rules.bill_pattern, ()),
        (KeyKind.VA_NUMBER, rules.va_marker_pattern, ()),
        (KeyKind.QRIS_REFERENCE, rules.qris_pattern, ()),
        (KeyKind.NMID, NMID_PATTERN, ()),
    ]
    if rules.va_prefixes:
        specs.append((KeyKind.VA_NUMBER, _DIGIT_RUN_PATTERN, rules.va_prefixes))
    scanners: list[_Scanner] = []
    for kind, pattern, prefixes in specs:
        compiled = re.compile(pattern)
        needles = prefixes or _NEEDLES.get(pattern, ())
        scanners.append((kind, compiled, compiled.groups > 0, prefixes, needles))
    return tuple(scanners)


def extract_keys(texts: Iterable[str | None], rules: KeyRules) -> tuple[ExtractedKey, ...]:
    """Keys found in ``texts``, deduplicated and sorted (deterministic output).

    A pattern's key is its first capturing group, or the whole match if it has none.
    """
    return _extract(texts, _scanners(rules))


def _extract(
    texts: Iterable[str | None], scanners: tuple[_Scanner, ...]
) -> tuple[ExtractedKey, ...]:
    upper = _TEXT_SEPARATOR.join([text for text in texts if text]).upper()
    found: set[ExtractedKey] = set()
    for kind, pattern, grouped, prefixes, needles in scanners:
        if needles:
            for needle in needles:
                if needle in upper:
                    break
            else:
                continue
        if grouped:
            for match in pattern.finditer(upper):
                value = match.group(1)
                if not prefixes or value.startswith(prefixes):
                    found.add(ExtractedKey(kind, value))
        else:
            for value in pattern.findall(upper):
                if not prefixes or value.startswith(prefixes):
                    found.add(ExtractedKey(kind, value))
    return tuple(sorted(found)) if found else ()


# --- identity ---------------------------------------------------------------------------------


def normalise_text(text: str) -> str:
    """NFKC, upper case, whitespace runs collapsed: the form hashed into line identities."""
    return " ".join(unicodedata.normalize("NFKC", text).upper().split())


@dataclass(slots=True)
class LineDraft:
    """An accepted line before it gets its sequence number, identity and keys.

    Not frozen, unlike the results: it lives only inside one import, and a frozen dataclass
    costs three times as much to build, once per line of a 50 000-line file.
    """

    line_no: int
    booking_date: date
    value_date: date
    amount_idr: int
    direction: Direction
    description: str
    bank_reference: str | None = None
    customer_reference: str | None = None
    is_reversal: bool = False
    statement_index: int | None = None
    fee_idr: int | None = None
    batch_id: str | None = None
    transaction_time: datetime | None = None
    column_keys: tuple[ExtractedKey, ...] = ()


def _field(text: str) -> str:
    """One length-prefixed field of an identity's basis: unambiguous whatever it holds."""
    return f"{len(text)}:{text};"


def line_identities(account_id: str, drafts: Sequence[LineDraft]) -> list[str]:
    """Stable identities ``<kind>:<sha256 hex>#<occurrence>`` for lines in file order.

    Kind ``ref`` hashes the bank reference (plus account, booking date, direction and amount):
    the bank's reference identifies the line; account, booking date, direction and amount are
    hashed with it because banks reuse a reference for a transfer and its fee line, and some
    reuse references across days. Wrongly merging two lines loses money silently; wrongly
    keeping two apart only shows up as a duplicate exception. Kind ``content`` hashes the
    normalised content (account, booking and value dates, direction, amount, customer reference
    and description). The hashed text is the kind and the fields in that order, each written
    ``<length>:<text>;``. The occurrence counter numbers lines with the same basis in file order,
    so two genuinely identical lines stay distinct while an overlapping file, which repeats the
    same lines in the same order, gets the same identities.
    """
    seen: dict[str, int] = {}
    identities: list[str] = []
    sha256 = hashlib.sha256
    account = _field(account_id)
    directions = {direction: _field(direction.value) for direction in Direction}
    days: dict[date, str] = {}  # a file has a few dates
    amounts: dict[int, str] = {}  # and a few hundred amounts
    for draft in drafts:
        booked = days.get(draft.booking_date)
        if booked is None:
            booked = days[draft.booking_date] = _field(draft.booking_date.isoformat())
        amount = amounts.get(draft.amount_idr)
        if amount is None:
            amount = amounts[draft.amount_idr] = _field(str(draft.amount_idr))
        if draft.bank_reference:
            kind = "ref"
            reference = draft.bank_reference.strip()
            encoded = (
                f"3:ref;{account}{len(reference)}:{reference};{booked}"
                f"{directions[draft.direction]}{amount}"
            )
        else:
            kind = "content"
            valued = days.get(draft.value_date)
            if valued is None:
                valued = days[draft.value_date] = _field(draft.value_date.isoformat())
            encoded = (
                f"7:content;{account}{booked}{valued}{directions[draft.direction]}{amount}"
                f"{_field(normalise_text(draft.customer_reference or ''))}"
                f"{_field(normalise_text(draft.description))}"
            )
        basis = f"{kind}:{sha256(encoded.encode('utf-8')).hexdigest()}"
        occurrence = seen.get(basis, 0)
        seen[basis] = occurrence + 1
        identities.append(f"{basis}#{occurrence}")
    return identities


# --- collecting lines ------------------------------------------------------------------------


def excerpt(text: str) -> str:
    """The raw text kept on a rejected line, bounded."""
    return text if len(text) <= MAX_RAW_CHARS else text[: MAX_RAW_CHARS - 1] + "…"


@dataclass
class LineSink:
    """Collects accepted and rejected lines in file order and builds the :class:`ParsedFile`."""

    key_rules: KeyRules
    _entries: list[LineDraft | RejectedLine] = field(default_factory=list)

    def accept(self, draft: LineDraft) -> None:
        """Record an accepted line."""
        self._entries.append(draft)

    def reject(
        self, *, line_no: int, field_name: str, reason: LineReason, message: str, raw: str
    ) -> None:
        """Record a quarantined line."""
        self._entries.append(
            RejectedLine(
                seq=0,
                line_no=line_no,
                field=field_name,
                reason=reason,
                message=message,
                raw=excerpt(raw),
            )
        )

    def __len__(self) -> int:
        return len(self._entries)

    def build(
        self,
        *,
        fmt: FileFormat,
        file_sha256: str,
        account_id: str,
        lines_read: int,
        statements: tuple[StatementSummary, ...] = (),
        batches: tuple[SettlementBatch, ...] = (),
        profile_id: str | None = None,
    ) -> ParsedFile:
        """The parsed file; ``lines_read`` must come from the importer's own count."""
        drafts = [entry for entry in self._entries if isinstance(entry, LineDraft)]
        scanners = _scanners(self.key_rules)
        identities = iter(line_identities(account_id, drafts))
        lines: list[StatementLine] = []
        rejected: list[RejectedLine] = []
        for seq, entry in enumerate(self._entries, start=1):
            if isinstance(entry, RejectedLine):
                rejected.append(
                    RejectedLine(
                        seq, entry.line_no, entry.field, entry.reason, entry.message, entry.raw
                    )
                )
                continue
            keys = _extract(
                (entry.description, entry.customer_reference, entry.bank_reference), scanners
            )
            lines.append(
                StatementLine(  # by position: keywords cost a tenth more, once a line
                    seq,
                    entry.line_no,
                    next(identities),
                    entry.booking_date,
                    entry.value_date,
                    entry.amount_idr,
                    entry.direction,
                    entry.bank_reference,
                    entry.customer_reference,
                    entry.description,
                    tuple(sorted({*keys, *entry.column_keys})) if entry.column_keys else keys,
                    entry.is_reversal,
                    entry.statement_index,
                    entry.fee_idr,
                    entry.batch_id,
                    entry.transaction_time,
                )
            )
        return ParsedFile(
            format=fmt,
            file_sha256=file_sha256,
            account_id=account_id,
            currency="IDR",
            lines=tuple(lines),
            rejected=tuple(rejected),
            lines_read=lines_read,
            statements=statements,
            batches=batches,
            profile_id=profile_id,
        )


# --- bytes and text ---------------------------------------------------------------------------


def sha256_hex(data: bytes) -> str:
    """SHA-256 of the file as received (the file-level idempotency key)."""
    return hashlib.sha256(data).hexdigest()


def check_size(data: bytes, limits: Limits) -> None:
    """Refuse empty, over-sized and over-long files before any parsing."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError("importers take the file content as bytes")
    if len(data) > limits.max_bytes:
        raise ImportRefused(
            RefusalReason.TOO_LARGE,
            f"file is {len(data)} bytes; the limit is {limits.max_bytes}",
            expected=f"<= {limits.max_bytes} bytes",
            found=f"{len(data)} bytes",
        )
    if not data.strip():
        raise ImportRefused(RefusalReason.EMPTY, "file is empty")
    lines = data.count(b"\n") + 1
    if lines > limits.max_lines:
        raise ImportRefused(
            RefusalReason.TOO_MANY_LINES,
            f"file has {lines} lines; the limit is {limits.max_lines}",
            expected=f"<= {limits.max_lines} lines",
            found=f"{lines} lines",
        )


class TextEncoding(StrEnum):
    """Encodings a text import may declare. UTF-8 accepts and drops a byte-order mark."""

    UTF8 = "utf-8"
    WINDOWS_1252 = "windows-1252"


def decode_text(data: bytes, encoding: TextEncoding) -> str:
    """Decode strictly, refusing a file whose bytes betray another encoding."""
    if data.startswith(_UTF16_BOMS) or b"\x00" in data:
        raise ImportRefused(
            RefusalReason.ENCODING,
            f"file is not text in {encoding.value}: it contains NUL bytes (UTF-16 or binary)",
            expected=encoding.value,
            found="UTF-16 or binary",
        )
    if encoding is TextEncoding.UTF8:
        try:
            return data.removeprefix(UTF8_BOM).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportRefused(
                RefusalReason.ENCODING,
                f"file is not valid UTF-8: byte 0x{data[exc.start]:02X} at offset {exc.start}"
                " (Windows-1252 text?)",
                expected="utf-8",
                found=f"invalid UTF-8 byte 0x{data[exc.start]:02X} at offset {exc.start}",
            ) from None
    if data.startswith(UTF8_BOM):
        raise ImportRefused(
            RefusalReason.ENCODING,
            "file starts with a UTF-8 byte-order mark but the profile says windows-1252",
            expected="windows-1252",
            found="utf-8 (byte-order mark)",
        )
    if not data.isascii() and _is_utf8(data):
        # Windows-1252 decodes almost any bytes, so a UTF-8 file would be read as mojibake
        # ("Ã©" for "é") without an error. Text that is valid UTF-8 and not plain ASCII is, in
        # practice, never Windows-1252.
        raise ImportRefused(
            RefusalReason.ENCODING,
            "file is UTF-8 but the profile says windows-1252",
            expected="windows-1252",
            found="utf-8",
        )
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            RefusalReason.ENCODING,
            f"byte 0x{data[exc.start]:02X} at offset {exc.start} is not defined in windows-1252",
            expected="windows-1252",
            found=f"undefined byte 0x{data[exc.start]:02X}",
        ) from None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- money ------------------------------------------------------------------------------------

_MONEY_REASONS: Final = {
    "fraction": LineReason.AMOUNT_FRACTION,
    "zero": LineReason.AMOUNT_ZERO,
    "range": LineReason.AMOUNT_RANGE,
}


@lru_cache(maxsize=8192)  # amounts repeat (tariffs); Decimal is hashable and immutable
def line_amount_idr(amount: Decimal) -> tuple[int | None, LineReason | None]:
    """A positive line amount as whole rupiah, or the reason it is not one."""
    try:
        return parse_idr(format(amount, "f"), max_idr=MAX_AMOUNT_IDR), None
    except MoneyError as exc:
        return None, _MONEY_REASONS.get(exc.reason, LineReason.AMOUNT_INVALID)


def balance_idr(amount: Decimal, *, what: str, subject: str | None = None) -> int:
    """A signed statement balance as whole rupiah; a fraction refuses the file."""
    try:
        return parse_idr(
            format(amount, "f"), allow_zero=True, allow_negative=True, max_idr=MAX_BALANCE_IDR
        )
    except MoneyError as exc:
        reason = (
            RefusalReason.AMOUNT_FRACTION if exc.reason == "fraction" else RefusalReason.MALFORMED
        )
        raise ImportRefused(
            reason, f"{what} {amount} is not a whole-rupiah balance: {exc}", subject=subject
        ) from None


# --- statements -------------------------------------------------------------------------------


class BookedAmount(NamedTuple):
    """A booked line's exact amount for the balance proof, accepted or quarantined."""

    line_no: int
    signed_amount: Decimal | None
    problem: LineReason | None = None


def prove_balance(
    *,
    subject: str,
    opening_idr: int,
    closing_idr: int,
    booked: Sequence[BookedAmount],
) -> tuple[int, int]:
    """Refuse unless opening + Σ booked lines = closing, exactly; return (Σ credits, Σ debits).

    Every booked line counts, quarantined ones included (a line with an impossible date still
    moved money). A line whose amount cannot be read, or has a fraction of a rupiah, makes the
    proof impossible in whole rupiah, so the file is refused and names that line.
    """
    credit = debit = 0
    for line in booked:
        if line.signed_amount is None:
            raise ImportRefused(
                RefusalReason.LINE_AMOUNT_UNREADABLE,
                f"{subject}: the amount of line {line.line_no} cannot be read"
                f" ({(line.problem or LineReason.AMOUNT_INVALID).value}), so the balance"
                " cannot be proven",
                line_no=line.line_no,
                subject=subject,
            )
        if line.signed_amount != line.signed_amount.to_integral_value():
            raise ImportRefused(
                RefusalReason.AMOUNT_FRACTION,
                f"{subject}: line {line.line_no} has a fraction of a rupiah"
                f" ({line.signed_amount}); statements are imported in whole rupiah",
                line_no=line.line_no,
                subject=subject,
            )
        value = int(line.signed_amount)
        if value >= 0:
            credit += value
        else:
            debit -= value
    computed = opening_idr + credit - debit
    if computed != closing_idr:
        raise ImportRefused(
            RefusalReason.BALANCE_MISMATCH,
            f"{subject}: opening {opening_idr} + credits {credit} - debits {debit} = {computed},"
            f" but the closing balance is {closing_idr}",
            expected=str(computed),
            found=str(closing_idr),
            subject=subject,
        )
    return credit, debit


def check_statement_sequence(previous: PreviousStatement, current: StatementSummary) -> None:
    """Refuse unless ``current`` directly follows ``previous``.

    Numbers run on: (n, page p) is followed by (n, p+1) after an intermediate closing balance,
    otherwise by (n+1, first page). Number 1 may follow any number when the new statement
    starts in a later year (Bank Mandiri resets ``:28C:`` each 1 January). The opening balance
    must equal the previous closing balance.
    """
    subject = _statement_subject(current)
    if previous.number is not None:
        if current.number is None:
            raise ImportRefused(
                RefusalReason.STATEMENT_NUMBER_MISSING,
                f"{subject} has no statement number, so continuity with statement"
                f" {previous.number} cannot be checked",
                subject=subject,
            )
        if not _follows(previous, current.number, current):
            expected = _expected_successor(previous.number, previous)
            ahead = (current.number, current.sequence or 1) > (
                previous.number,
                previous.sequence or 1,
            )
            raise ImportRefused(
                RefusalReason.STATEMENT_GAP if ahead else RefusalReason.STATEMENT_ORDER,
                f"statement {_number_text(current.number, current.sequence)} does not follow"
                f" statement {_number_text(previous.number, previous.sequence)}; expected"
                f" {expected}",
                expected=expected,
                found=_number_text(current.number, current.sequence),
                subject=subject,
            )
    if (
        previous.closing_balance_idr is not None
        and previous.closing_balance_idr != current.opening_balance_idr
    ):
        raise ImportRefused(
            RefusalReason.BALANCE_DISCONTINUITY,
            f"{subject} opens at {current.opening_balance_idr} but the previous statement closed"
            f" at {previous.closing_balance_idr}",
            expected=str(previous.closing_balance_idr),
            found=str(current.opening_balance_idr),
            subject=subject,
        )


def check_statement_chain(
    previous: PreviousStatement | None, statements: Sequence[StatementSummary]
) -> None:
    """Check each statement against the one before it (the first against ``previous``)."""
    before = previous
    for statement in statements:
        if before is not None:
            check_statement_sequence(before, statement)
        before = PreviousStatement.of(statement)


def _follows(previous: PreviousStatement, number: int, current: StatementSummary) -> bool:
    first_page = current.sequence in (None, 1)
    if not previous.closing_is_final and previous.sequence is not None:
        return number == previous.number and current.sequence == previous.sequence + 1
    if previous.number is not None and number == previous.number + 1 and first_page:
        return True
    return (
        number == 1
        and first_page
        and previous.closing_date is not None
        and current.opening_date is not None
        and current.opening_date.year > previous.closing_date.year
    )


def _expected_successor(number: int, previous: PreviousStatement) -> str:
    if not previous.closing_is_final and previous.sequence is not None:
        return _number_text(number, previous.sequence + 1)
    return _number_text(number + 1, None)


def _number_text(number: int | None, sequence: int | None) -> str:
    return f"{number}" if sequence is None else f"{number}/{sequence}"


def _statement_subject(statement: StatementSummary) -> str:
    if statement.number is None:
        return f"statement #{statement.index + 1}"
    return f"statement {_number_text(statement.number, statement.sequence)}"
