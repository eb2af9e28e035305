"""Bank statement exports (CSV or XLSX) read through per-bank column profiles.

No Indonesian bank publishes a formal CSV specification (reconcile.md §3.2), so each layout is a
TOML profile in ``reconcile/profiles/<id>.toml``: encoding, delimiter, header names, date format,
amount convention, pending-row markers, footer and continuation rows. The profiles shipped are
EXAMPLES to adapt; see docs/import-formats.md for the schema.

Refused whole (:class:`ImportRefused`): wrong encoding, wrong delimiter, header not found, a data
row after the footer, a workbook with several sheets the profile does not choose between, an
XLSX that expands beyond the bound, footer balances that do not add up. Quarantined per line:
pending rows, impossible or out-of-period dates, unreadable or fractional amounts, formulas,
rows with more cells than the header, over-long fields.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, Final, NamedTuple, cast

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

PROFILE_DIR: Final = Path(__file__).resolve().parent.parent / "profiles"
_PROFILE_ID_RE: Final = re.compile(r"[a-z0-9_]{1,40}")
#: Bytes of a profile file: a profile is a page of settings, never more.
_MAX_PROFILE_BYTES: Final = 64 * 1024
#: Cells per row; a statement has about ten columns, a row wider than this is not a statement.
_MAX_CELLS: Final = 1_000
_XLSX_MAGIC: Final = b"PK\x03\x04"
_ALT_DELIMITERS: Final = (",", ";", "\t", "|")
_MAX_AMOUNT_CHARS: Final = 40

Cell = str | int | float | date | bool | None


class AmountMode(StrEnum):
    """How a profile says which way money moved."""

    SIGNED = "signed"  # one column; "-1.500,00", "1.500,00-" or "(1.500,00)" is a debit
    SUFFIX = "suffix"  # one column; "1,500,000.00 CR" / "1,500,000.00 DB"
    SPLIT = "split"  # a debit column and a credit column, one of them filled
    DIRECTION_COLUMN = "direction_column"  # unsigned amount + a column holding CR/DB


class ProfileStatus(StrEnum):
    """Whether a profile's layout was checked against real exports."""

    EXAMPLE = "example"
    CONFIRMED = "confirmed"


@dataclass(frozen=True, slots=True)
class Columns:
    """Header names of the columns a profile reads (``None`` = not present)."""

    booking_date: str
    description: tuple[str, ...]
    value_date: str | None = None
    reference: str | None = None
    customer_reference: str | None = None
    amount: str | None = None
    debit: str | None = None
    credit: str | None = None
    direction: str | None = None

    def names(self) -> tuple[str, ...]:
        """Every header name the file must carry."""
        single = (
            self.booking_date,
            self.value_date,
            self.reference,
            self.customer_reference,
            self.amount,
            self.debit,
            self.credit,
            self.direction,
        )
        return tuple(name for name in (*single, *self.description) if name)


@dataclass(frozen=True, slots=True)
class BankProfile:
    """A bank export layout, loaded from TOML by :func:`load_profile`."""

    profile_id: str
    bank: str
    status: ProfileStatus
    columns: Columns
    date_format: str
    amount_mode: AmountMode
    csv_encoding: TextEncoding | None = None
    csv_delimiter: str | None = None
    xlsx: bool = False
    xlsx_sheet: str | None = None
    header_search_rows: int = 20
    strip_apostrophe: bool = False
    continuation_rows: bool = False
    period_label: str | None = None
    account_label: str | None = None
    footer_markers: tuple[str, ...] = ()
    opening_balance_label: str | None = None
    closing_balance_label: str | None = None
    thousands: str = ""
    decimal: str = "."
    credit_markers: tuple[str, ...] = ("CR",)
    debit_markers: tuple[str, ...] = ("DB",)
    pending_field: str | None = None
    pending_markers: tuple[str, ...] = field(default=())


# --- profiles ---------------------------------------------------------------------------------


def available_profiles() -> tuple[str, ...]:
    """Ids of the profiles shipped in ``reconcile/profiles``."""
    return tuple(sorted(path.stem for path in PROFILE_DIR.glob("*.toml")))


def load_profile(profile: str | Path) -> BankProfile:
    """Load a shipped profile by id (``"bca"``) or any profile file by path."""
    if isinstance(profile, str) and _PROFILE_ID_RE.fullmatch(profile):
        path = PROFILE_DIR / f"{profile}.toml"
        if not path.is_file():
            raise ImportRefused(
                RefusalReason.PROFILE_UNKNOWN,
                f"no bank profile {profile!r}; known: {', '.join(available_profiles())}",
                found=profile,
            )
    elif isinstance(profile, Path):
        path = profile
    else:
        raise ImportRefused(
            RefusalReason.PROFILE_UNKNOWN, f"not a profile id: {str(profile)[:60]!r}"
        )
    content = path.read_bytes()
    if len(content) > _MAX_PROFILE_BYTES:
        raise ImportRefused(RefusalReason.PROFILE_INVALID, f"profile {path.name} is too large")
    return parse_profile(content.decode("utf-8"), source=path.name)


def parse_profile(text: str, *, source: str = "profile") -> BankProfile:
    """Build a :class:`BankProfile` from TOML text, checking every setting."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(source, f"not valid TOML: {exc}") from None
    reader = _TomlReader(raw, source)
    try:
        return _build_profile(reader)
    except (KeyError, ValueError, TypeError) as exc:
        raise _bad(source, str(exc)) from None


def _bad(source: str, message: str) -> ImportRefused:
    return ImportRefused(RefusalReason.PROFILE_INVALID, f"{source}: {message}", subject=source)


@dataclass(frozen=True, slots=True)
class _TomlReader:
    raw: dict[str, Any]
    source: str

    def table(self, name: str) -> dict[str, Any] | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise TypeError(f"[{name}] must be a table")
        return value

    def text(self, table: dict[str, Any] | None, key: str) -> str | None:
        value = (table or {}).get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > 200:
            raise TypeError(f"{key} must be a string of at most 200 characters")
        return value

    def required(self, table: dict[str, Any] | None, key: str) -> str:
        value = self.text(table, key)
        if value is None:
            raise KeyError(f"{key} is required")
        return value

    def texts(self, table: dict[str, Any] | None, key: str) -> tuple[str, ...]:
        value = (table or {}).get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(
            isinstance(item, str) and 0 < len(item) <= 200 for item in value
        ):
            raise TypeError(f"{key} must be a list of non-empty strings")
        return tuple(value)

    def flag(self, table: dict[str, Any] | None, key: str) -> bool:
        value = (table or {}).get(key, False)
        if not isinstance(value, bool):
            raise TypeError(f"{key} must be true or false")
        return value


def _build_profile(reader: _TomlReader) -> BankProfile:
    top = reader.raw
    profile_id = reader.required(top, "id")
    if not _PROFILE_ID_RE.fullmatch(profile_id):
        raise ValueError("id must be 1-40 characters a-z, 0-9 or _")
    csv_table = reader.table("csv")
    xlsx_table = reader.table("xlsx")
    if csv_table is None and xlsx_table is None:
        raise ValueError("a profile needs a [csv] or an [xlsx] table (or both)")
    layout = reader.table("layout")
    columns_table = reader.table("columns")
    amounts = reader.table("amounts")
    pending = reader.table("pending")
    profile = BankProfile(
        profile_id=profile_id,
        bank=reader.required(top, "bank"),
        status=ProfileStatus(reader.required(top, "status")),
        columns=Columns(
            booking_date=reader.required(columns_table, "booking_date"),
            description=reader.texts(columns_table, "description"),
            value_date=reader.text(columns_table, "value_date"),
            reference=reader.text(columns_table, "reference"),
            customer_reference=reader.text(columns_table, "customer_reference"),
            amount=reader.text(columns_table, "amount"),
            debit=reader.text(columns_table, "debit"),
            credit=reader.text(columns_table, "credit"),
            direction=reader.text(columns_table, "direction"),
        ),
        date_format=reader.required(reader.table("dates"), "format"),
        amount_mode=AmountMode(reader.required(amounts, "mode")),
        csv_encoding=TextEncoding(reader.required(csv_table, "encoding"))
        if csv_table is not None
        else None,
        csv_delimiter=reader.required(csv_table, "delimiter") if csv_table is not None else None,
        xlsx=xlsx_table is not None,
        xlsx_sheet=reader.text(xlsx_table, "sheet"),
        header_search_rows=_int_setting(layout, "header_search_rows", 20, 1, 200),
        strip_apostrophe=reader.flag(layout, "strip_apostrophe"),
        continuation_rows=reader.flag(layout, "continuation_rows"),
        period_label=reader.text(layout, "period_label"),
        account_label=reader.text(layout, "account_label"),
        footer_markers=reader.texts(layout, "footer_markers"),
        opening_balance_label=reader.text(layout, "opening_balance_label"),
        closing_balance_label=reader.text(layout, "closing_balance_label"),
        thousands=reader.text(amounts, "thousands") or "",
        decimal=reader.required(amounts, "decimal"),
        credit_markers=reader.texts(amounts, "credit_markers") or ("CR",),
        debit_markers=reader.texts(amounts, "debit_markers") or ("DB",),
        pending_field=reader.text(pending, "field"),
        pending_markers=reader.texts(pending, "markers"),
    )
    _check_profile(profile)
    return profile


def _int_setting(table: dict[str, Any] | None, key: str, default: int, low: int, high: int) -> int:
    value = (table or {}).get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key} must be an integer from {low} to {high}")
    return value


def _check_profile(profile: BankProfile) -> None:
    columns = profile.columns
    if profile.csv_delimiter is not None and (
        len(profile.csv_delimiter) != 1 or profile.csv_delimiter in "\"'\r\n"
    ):
        raise ValueError("delimiter must be one character other than a quote or newline")
    if profile.date_format not in _DATE_FORMATS:
        raise ValueError(f"dates.format must be one of {', '.join(_DATE_FORMATS)}")
    if profile.decimal not in {".", ","} or profile.thousands not in {"", ".", ",", " ", "'"}:
        raise ValueError("decimal must be '.' or ','; thousands '', '.', ',', ' ' or \"'\"")
    if profile.thousands == profile.decimal:
        raise ValueError("thousands and decimal separators must differ")
    needs: dict[AmountMode, tuple[str | None, ...]] = {
        AmountMode.SIGNED: (columns.amount,),
        AmountMode.SUFFIX: (columns.amount,),
        AmountMode.SPLIT: (columns.debit, columns.credit),
        AmountMode.DIRECTION_COLUMN: (columns.amount, columns.direction),
    }
    if not all(needs[profile.amount_mode]):
        raise ValueError(f"amounts.mode {profile.amount_mode.value} needs its amount columns")
    if profile.pending_markers and profile.pending_field not in _FIELDS:
        raise ValueError(f"pending.field must be one of {', '.join(_FIELDS)}")
    if (profile.opening_balance_label is None) != (profile.closing_balance_label is None):
        raise ValueError("set both opening_balance_label and closing_balance_label, or neither")
    names = [name.casefold() for name in columns.names()]
    if len(names) != len(set(names)):
        raise ValueError("two fields use the same column name")


_FIELDS: Final = (
    "booking_date",
    "value_date",
    "reference",
    "customer_reference",
    "amount",
    "debit",
    "credit",
    "direction",
)

# --- dates ------------------------------------------------------------------------------------

_MONTHS: Final = {
    **dict.fromkeys(("JAN", "JANUARI", "JANUARY"), 1),
    **dict.fromkeys(("FEB", "PEB", "FEBRUARI", "FEBRUARY"), 2),
    **dict.fromkeys(("MAR", "MARET", "MARCH"), 3),
    **dict.fromkeys(("APR", "APRIL"), 4),
    **dict.fromkeys(("MEI", "MAY"), 5),
    **dict.fromkeys(("JUN", "JUNI", "JUNE"), 6),
    **dict.fromkeys(("JUL", "JULI", "JULY"), 7),
    **dict.fromkeys(("AGU", "AGS", "AUG", "AGUSTUS", "AUGUST"), 8),
    **dict.fromkeys(("SEP", "SEPT", "SEPTEMBER"), 9),
    **dict.fromkeys(("OKT", "OCT", "OKTOBER", "OCTOBER"), 10),
    **dict.fromkeys(("NOV", "NOP", "NOVEMBER", "NOPEMBER"), 11),
    **dict.fromkeys(("DES", "DEC", "DESEMBER", "DECEMBER"), 12),
}
# A time after the date ("01/12/2026 08:15:22") is allowed and ignored: lines are dated.
_TIME: Final = r"(?:[ T]\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)?"
_DATE_FORMATS: Final = {
    "DD/MM/YYYY": r"(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})",
    "DD-MM-YYYY": r"(?P<d>\d{1,2})-(?P<m>\d{1,2})-(?P<y>\d{4})",
    "DD.MM.YYYY": r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})",
    "YYYY-MM-DD": r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})",
    "DD/MM/YY": r"(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<yy>\d{2})",
    "DD/MM": r"(?P<d>\d{1,2})/(?P<m>\d{1,2})",
    "DD MMM YYYY": r"(?P<d>\d{1,2})[ -](?P<mon>[A-Za-z]{3,9})[ -](?P<y>\d{4})",
}
_PERIOD_DATE_RE: Final = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


@lru_cache(maxsize=16)
def _date_re(fmt: str) -> re.Pattern[str]:
    return re.compile(_DATE_FORMATS[fmt] + _TIME)


@dataclass(frozen=True, slots=True)
class _Period:
    start: date
    end: date

    def year_for(self, month: int, day: int) -> date | LineReason:
        """Resolve a DD/MM date to the year that puts it inside the statement period."""
        valid: list[date] = []
        for year in sorted({self.start.year, self.end.year}):
            try:
                candidate = date(year, month, day)
            except ValueError:
                continue
            valid.append(candidate)
            if self.start <= candidate <= self.end:
                return candidate
        return LineReason.DATE_OUTSIDE_PERIOD if valid else LineReason.DATE_INVALID


def _parse_date(value: Cell, fmt: str, period: _Period | None) -> date | LineReason:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = value.strip() if isinstance(value, str) else ""
    return _parse_date_text(text, fmt, period) if text else LineReason.DATE_MISSING


@lru_cache(maxsize=4096)  # a statement repeats a few dates thousands of times
def _parse_date_text(text: str, fmt: str, period: _Period | None) -> date | LineReason:
    match = _date_re(fmt).fullmatch(text)
    if match is None:
        return LineReason.DATE_INVALID
    parts = match.groupdict()
    day = int(parts["d"])
    month = _MONTHS.get(parts["mon"].upper(), 0) if parts.get("mon") else int(parts["m"])
    if parts.get("yy") is not None:
        year = 2000 + int(parts["yy"])
    elif parts.get("y") is not None:
        year = int(parts["y"])
    else:
        # DD/MM: parse_bank_statement refuses such a file without a period.
        return period.year_for(month, day) if period else LineReason.DATE_INVALID
    try:
        return date(year, month, day)
    except ValueError:
        return LineReason.DATE_INVALID


# --- amounts ----------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _number_re(thousands: str, decimal: str) -> re.Pattern[str]:
    fraction = rf"(?:{re.escape(decimal)}\d{{1,5}})?"
    if not thousands:
        return re.compile(rf"\d{{1,18}}{fraction}")
    grouped = rf"\d{{1,3}}(?:{re.escape(thousands)}\d{{3}}){{1,5}}"
    return re.compile(rf"(?:{grouped}|\d{{1,18}}){fraction}")


def _number(text: str, profile: BankProfile) -> Decimal | None:
    """An unsigned number in the profile's convention; grouping must be exact.

    ``"1500000.00"`` under a dots-for-thousands profile is refused rather than read as
    150 000 000: a wrong separator must never multiply an amount by a hundred.
    """
    return _number_text(text, profile.thousands, profile.decimal)


@lru_cache(maxsize=8192)  # tariffs repeat: a day's file holds a few hundred distinct amounts
def _number_text(text: str, thousands: str, decimal: str) -> Decimal | None:
    if not _number_re(thousands, decimal).fullmatch(text):
        return None
    plain = text.replace(thousands, "") if thousands else text
    try:
        return Decimal(plain.replace(decimal, "."))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid numbers
        return None


def _cell_number(value: Cell) -> Decimal | None:
    """An XLSX numeric cell as an exact Decimal (via its shortest repr, never float maths)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        try:
            number = Decimal(repr(value))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _marker(text: str, markers: tuple[str, ...]) -> str | None:
    upper = text.upper()
    for marker in markers:
        if upper.endswith(marker.upper()):
            return text[: len(text) - len(marker)].strip()
    return None


def _signed(value: Cell, profile: BankProfile) -> Decimal | None:
    """A signed amount: leading/trailing minus or parentheses, or CR/DB markers."""
    number = _cell_number(value)
    if number is not None:
        return number
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > _MAX_AMOUNT_CHARS:
        return None
    body = _marker(text, profile.credit_markers)
    if body is not None:
        return _number(body, profile)
    body = _marker(text, profile.debit_markers)
    if body is not None:
        magnitude = _number(body, profile)
        return None if magnitude is None else -magnitude
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    elif text.startswith("-") or text.endswith("-"):
        negative, text = True, text.strip("-").strip()
    elif text.startswith("+"):
        text = text[1:].strip()
    magnitude = _number(text, profile)
    if magnitude is None:
        return None
    return -magnitude if negative else magnitude


class _Amount(NamedTuple):
    signed: Decimal | None
    problem: LineReason | None = None
    field_name: str = "amount"


def _read_amount(cells: dict[str, Cell], profile: BankProfile) -> _Amount:
    mode = profile.amount_mode
    if mode is AmountMode.SPLIT:
        return _split_amount(cells.get("debit"), cells.get("credit"), profile)
    raw = cells.get("amount")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return _Amount(None, LineReason.AMOUNT_MISSING)
    if mode is AmountMode.SIGNED:
        number = _signed_plain(raw, profile)
    elif mode is AmountMode.SUFFIX:
        number = _suffixed(raw, profile)
        if number is None and _signed_plain(raw, profile) is not None:
            return _Amount(None, LineReason.DIRECTION_INVALID)
    else:
        number = _cell_number(raw) if not isinstance(raw, str) else _number(raw.strip(), profile)
        direction = _direction(cells.get("direction"), profile)
        if number is not None and direction is None:
            return _Amount(None, LineReason.DIRECTION_INVALID, "direction")
        if number is not None and direction is not None:
            number = number * direction.sign
    if number is None:
        return _Amount(None, LineReason.AMOUNT_INVALID)
    return _Amount(number)


def _signed_plain(value: Cell, profile: BankProfile) -> Decimal | None:
    text = value.strip() if isinstance(value, str) else None
    if text is not None and (
        _marker(text, profile.credit_markers) is not None
        or _marker(text, profile.debit_markers) is not None
    ):
        return None
    return _signed(value, profile)


def _suffixed(value: Cell, profile: BankProfile) -> Decimal | None:
    text = value.strip() if isinstance(value, str) else ""
    if (
        _marker(text, profile.credit_markers) is None
        and _marker(text, profile.debit_markers) is None
    ):
        return None
    return _signed(text, profile)


def _direction(value: Cell, profile: BankProfile) -> Direction | None:
    text = value.strip().upper() if isinstance(value, str) else ""
    if text in {marker.upper() for marker in profile.credit_markers}:
        return Direction.CREDIT
    if text in {marker.upper() for marker in profile.debit_markers}:
        return Direction.DEBIT
    return None


def _split_amount(debit: Cell, credit: Cell, profile: BankProfile) -> _Amount:
    debit_value = _split_value(debit, profile)
    credit_value = _split_value(credit, profile)
    if debit_value is None and credit_value is None:
        return _Amount(None, LineReason.AMOUNT_MISSING)
    if debit_value is not None and credit_value is not None:
        return _Amount(None, LineReason.DIRECTION_INVALID, "debit/credit")
    if isinstance(debit_value, LineReason) or isinstance(credit_value, LineReason):
        field_name = "debit" if isinstance(debit_value, LineReason) else "credit"
        return _Amount(None, LineReason.AMOUNT_INVALID, field_name)
    if debit_value is not None:
        return _Amount(-debit_value)
    return _Amount(credit_value)


def _split_value(value: Cell, profile: BankProfile) -> Decimal | LineReason | None:
    """A debit or credit cell: ``None`` if blank ("", "-", zero), the amount, or unreadable."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text in {"", "-"}:
            return None
        number = _number(text, profile)
    else:
        number = _cell_number(value)
        if number is not None and number < 0:
            return LineReason.AMOUNT_INVALID
    if number is None:
        return LineReason.AMOUNT_INVALID
    return None if number == 0 else number


# --- rows -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    row_no: int
    cells: list[Cell]
    formula: bool = False


@dataclass(slots=True)
class _Record:
    row: _Row
    continuations: list[str] = field(default_factory=list)
    orphan: bool = False


def _clean(value: Cell) -> Cell:
    """Drop the leading ' that makes Excel keep a cell as text (BCA writes '01/12)."""
    if isinstance(value, str):
        text = value.strip()
        return text[1:].strip() if text.startswith("'") else text
    return value


def _as_text(value: Cell) -> str:
    if isinstance(value, str):  # the common case first: every CSV cell
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        number = _cell_number(value)
        return format(number, "f") if number is not None else ""
    return str(value)


def _header_key(value: Cell) -> str:
    return " ".join(_as_text(value).split()).casefold()


def _csv_rows(text: str, delimiter: str) -> list[_Row]:
    rows: list[_Row] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    try:
        for cells in reader:
            if len(cells) > _MAX_CELLS:
                raise ImportRefused(
                    RefusalReason.MALFORMED,
                    f"row at line {start} has {len(cells)} cells",
                    line_no=start,
                )
            # The reader makes a new list per row: the row can keep it (no copy).
            rows.append(_Row(start, cast(list[Cell], cells)))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportRefused(
            RefusalReason.MALFORMED,
            f"CSV cannot be read near line {reader.line_num}: {exc}",
            line_no=reader.line_num,
        ) from None
    return rows


def _xlsx_rows(data: bytes, profile: BankProfile, limits: Limits) -> list[_Row]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        expanded = sum(info.file_size for info in archive.infolist())
    # NotImplementedError: a member header claiming a ZIP version or method zipfile lacks.
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise ImportRefused(RefusalReason.XLSX_INVALID, f"not an XLSX workbook: {exc}") from None
    if expanded > limits.max_uncompressed_bytes:
        raise ImportRefused(
            RefusalReason.TOO_LARGE,
            f"workbook expands to {expanded} bytes; the limit is {limits.max_uncompressed_bytes}",
            expected=f"<= {limits.max_uncompressed_bytes} bytes uncompressed",
            found=f"{expanded} bytes uncompressed",
        )
    try:
        return _read_workbook(data, profile, limits)
    except ImportRefused:
        raise
    except Exception as exc:
        raise ImportRefused(
            RefusalReason.XLSX_INVALID, f"workbook cannot be read: {str(exc)[:200]}"
        ) from None


def _read_workbook(data: bytes, profile: BankProfile, limits: Limits) -> list[_Row]:
    from openpyxl import load_workbook

    # openpyxl warns about harmless things in files written by other tools ("no default
    # style"); the warnings are not about the data and must not abort an import.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        try:
            names = workbook.sheetnames
            if profile.xlsx_sheet is None and len(names) != 1:
                raise ImportRefused(
                    RefusalReason.SHEET,
                    f"workbook has {len(names)} sheets ({', '.join(names)[:200]}); the profile"
                    " must name the sheet to read",
                    found=", ".join(names)[:200],
                )
            sheet_name = profile.xlsx_sheet or names[0]
            if sheet_name not in names:
                raise ImportRefused(
                    RefusalReason.SHEET,
                    f"workbook has no sheet {sheet_name!r} (has {', '.join(names)[:200]})",
                    expected=sheet_name,
                    found=", ".join(names)[:200],
                )
            sheet = workbook[sheet_name]
            sheet.reset_dimensions()
            rows: list[_Row] = []
            for row_no, cells in enumerate(sheet.iter_rows(), start=1):
                if row_no > limits.max_lines or len(cells) > _MAX_CELLS:
                    raise ImportRefused(
                        RefusalReason.TOO_MANY_LINES,
                        f"sheet exceeds {limits.max_lines} rows or {_MAX_CELLS} columns",
                    )
                rows.append(
                    _Row(
                        row_no,
                        [_xlsx_value(cell.value) for cell in cells],
                        formula=any(getattr(cell, "data_type", None) == "f" for cell in cells),
                    )
                )
            return rows
        finally:
            workbook.close()


def _xlsx_value(value: object) -> Cell:
    """openpyxl's cell value as one of the kinds the importer reads; anything else as text."""
    if value is None or isinstance(value, str | int | float | date):
        return value
    return str(value)


# --- the import -------------------------------------------------------------------------------


@dataclass
class _Layout:
    """Where things are once the header is found."""

    header_index: int
    index_of: dict[str, int]
    description_indexes: list[int]
    width: int


def parse_bank_statement(
    data: bytes,
    profile: BankProfile,
    *,
    account_id: str | None = None,
    period: tuple[date, date] | None = None,
    previous: PreviousStatement | None = None,
    key_rules: KeyRules | None = None,
    limits: Limits | None = None,
) -> ParsedFile:
    """Parse a bank CSV or XLSX export with ``profile``.

    The file kind is recognised from its bytes (XLSX is a ZIP archive). ``account_id`` is
    required unless the profile finds it in the preamble (``account_label``); ``period`` is
    required for ``DD/MM`` dates unless the profile finds it (``period_label``). ``previous`` is
    checked only when the profile reads opening/closing balances from the footer.
    """
    limits = limits or Limits()
    check_size(data, limits)
    is_xlsx = data.startswith(_XLSX_MAGIC)
    if is_xlsx and not profile.xlsx:
        raise ImportRefused(
            RefusalReason.FORMAT_MISMATCH,
            f"file is an XLSX workbook but profile {profile.profile_id} reads CSV only",
            expected="csv",
            found="xlsx",
        )
    if not is_xlsx and profile.csv_encoding is None:
        raise ImportRefused(
            RefusalReason.FORMAT_MISMATCH,
            f"profile {profile.profile_id} reads XLSX only and this file is not a workbook",
            expected="xlsx",
            found="not a ZIP/XLSX file",
        )
    text: str | None = None
    if is_xlsx:
        rows = _xlsx_rows(data, profile, limits)
    else:
        text = decode_text(data, profile.csv_encoding or TextEncoding.UTF8)
        rows = _csv_rows(text, profile.csv_delimiter or ",")
    if profile.strip_apostrophe:  # otherwise every reader strips the cells it looks at
        rows = [_Row(row.row_no, [_clean(cell) for cell in row.cells], row.formula) for row in rows]
    layout = _find_layout(rows, profile)
    if layout is None:
        raise _header_refusal(rows, text, profile)
    preamble = rows[: layout.header_index]
    account = _resolve_account(account_id, preamble, profile)
    statement_period = _resolve_period(period, preamble, profile)
    records, footer = _group(rows[layout.header_index + 1 :], layout, profile)
    sink = LineSink(key_rules or KeyRules())
    if is_xlsx or profile.pending_field:
        booked = [
            _read_record(record, layout, profile, statement_period, sink, limits)
            for record in records
        ]
    else:
        booked = _PlainRows(layout, profile, statement_period, limits).read(records, sink)
    statements = _footer_statement(
        footer, [b for b in booked if b is not None], profile, statement_period
    )
    if statements:
        check_statement_chain(previous, statements)
    return sink.build(
        fmt=FileFormat.BANK_XLSX if is_xlsx else FileFormat.BANK_CSV,
        file_sha256=sha256_hex(data),
        account_id=account,
        lines_read=len(records),
        statements=statements,
        profile_id=profile.profile_id,
    )


def _find_layout(rows: list[_Row], profile: BankProfile) -> _Layout | None:
    wanted = {_header_key(name): name for name in profile.columns.names()}
    for index, row in enumerate(rows[: profile.header_search_rows]):
        keys = [_header_key(cell) for cell in row.cells]
        if not all(name in keys for name in wanted):
            continue
        duplicates = [name for name in wanted if keys.count(name) > 1]
        if duplicates:
            raise ImportRefused(
                RefusalReason.HEADER,
                f"header at line {row.row_no} has column {wanted[duplicates[0]]!r} twice",
                line_no=row.row_no,
                found=" | ".join(_as_text(cell) for cell in row.cells)[:300],
            )
        index_of = {
            field_name: keys.index(_header_key(name))
            for field_name in _FIELDS
            if (name := getattr(profile.columns, field_name))
        }
        return _Layout(
            header_index=index,
            index_of=index_of,
            description_indexes=[keys.index(_header_key(n)) for n in profile.columns.description],
            width=max(i for i, key in enumerate(keys) if key) + 1,
        )
    return None


def _header_refusal(rows: list[_Row], text: str | None, profile: BankProfile) -> ImportRefused:
    expected = " | ".join(profile.columns.names())
    if text is not None:
        head = "\n".join(text.splitlines()[: profile.header_search_rows])
        for delimiter in _ALT_DELIMITERS:
            if delimiter == profile.csv_delimiter:
                continue
            try:
                candidate = [
                    _Row(0, [_clean(cell) if profile.strip_apostrophe else cell for cell in cells])
                    for cells in csv.reader(io.StringIO(head), delimiter=delimiter)
                ]
            except csv.Error:
                continue
            if _find_layout(candidate, profile) is not None:
                return ImportRefused(
                    RefusalReason.DELIMITER,
                    f"profile {profile.profile_id} expects {profile.csv_delimiter!r} between"
                    f" columns but the file uses {delimiter!r}",
                    expected=repr(profile.csv_delimiter),
                    found=repr(delimiter),
                )
    first = next((row for row in rows if any(_as_text(cell) for cell in row.cells)), None)
    found = " | ".join(_as_text(cell) for cell in first.cells)[:300] if first else "(no rows)"
    return ImportRefused(
        RefusalReason.HEADER,
        f"no header with the columns of profile {profile.profile_id} in the first"
        f" {profile.header_search_rows} rows; expected {expected}; first row: {found}",
        expected=expected,
        found=found,
    )


def _preamble_text(row: _Row) -> str:
    return " ".join(_as_text(cell) for cell in row.cells if _as_text(cell))


def _resolve_account(given: str | None, preamble: list[_Row], profile: BankProfile) -> str:
    found: str | None = None
    if profile.account_label:
        label = profile.account_label.casefold()
        for row in preamble:
            text = _preamble_text(row)
            if text.casefold().startswith(label):
                found = text[len(label) :].strip(" :=\t'") or None
                break
    if given and found and given.strip() != found:
        raise ImportRefused(
            RefusalReason.ACCOUNT_MISMATCH,
            f"file is for account {found}, the import was for {given}",
            expected=given,
            found=found,
        )
    account = (given or found or "").strip()
    if not account or len(account) > 64:
        raise ImportRefused(
            RefusalReason.ACCOUNT_MISSING,
            "the account is not in the file; pass account_id",
        )
    return account


def _resolve_period(
    given: tuple[date, date] | None, preamble: list[_Row], profile: BankProfile
) -> _Period | None:
    period: _Period | None = None
    if given is not None:
        period = _Period(*given)
    elif profile.period_label:
        label = profile.period_label.casefold()
        for row in preamble:
            text = _preamble_text(row)
            if not text.casefold().startswith(label):
                continue
            dates = _PERIOD_DATE_RE.findall(text)
            try:
                if len(dates) >= 2:
                    (d1, m1, y1), (d2, m2, y2) = dates[:2]
                    period = _Period(
                        date(int(y1), int(m1), int(d1)), date(int(y2), int(m2), int(d2))
                    )
            except ValueError:
                period = None
            break
    needs_year = "Y" not in profile.date_format
    if period is not None and not (0 <= (period.end - period.start).days < 366):
        raise ImportRefused(
            RefusalReason.PERIOD_UNKNOWN,
            f"statement period {period.start} – {period.end} is not a span of under a year",
        )
    if needs_year and period is None:
        raise ImportRefused(
            RefusalReason.PERIOD_UNKNOWN,
            f"dates are {profile.date_format} without a year and the statement period is unknown"
            f" (no '{profile.period_label or 'period'}' row; pass period)",
        )
    return period


def _first_text(row: _Row) -> str:
    for cell in row.cells:
        text = _as_text(cell)
        if text:
            return text
    return ""


def _group(
    rows: list[_Row], layout: _Layout, profile: BankProfile
) -> tuple[list[_Record], list[_Row]]:
    """Split data rows into records (continuations folded in) and footer rows."""
    records: list[_Record] = []
    footer: list[_Row] = []
    markers = tuple(marker.casefold() for marker in profile.footer_markers)
    for row in rows:
        first = _first_text(row)
        if not first:
            continue  # blank row: no content, not a line
        if markers and first.casefold().startswith(markers):
            footer.append(row)
            continue
        if footer:
            raise ImportRefused(
                RefusalReason.MALFORMED,
                f"row at line {row.row_no} follows the footer; it would be lost",
                line_no=row.row_no,
            )
        if profile.continuation_rows and _is_continuation(row, layout):
            text = _description(row, layout)
            if records and not records[-1].orphan:
                records[-1].continuations.append(text)
            else:
                records.append(_Record(row, orphan=True))
            continue
        records.append(_Record(row))
    return records, footer


def _cell(row: _Row, index: int | None) -> Cell:
    if index is None or index >= len(row.cells):
        return None
    return row.cells[index]


def _is_continuation(row: _Row, layout: _Layout) -> bool:
    money = [layout.index_of.get(name) for name in ("amount", "debit", "credit")]
    blank = [layout.index_of.get("booking_date"), *money]
    return all(not _as_text(_cell(row, index)) for index in blank if index is not None)


def _description(row: _Row, layout: _Layout) -> str:
    parts = [_as_text(_cell(row, index)) for index in layout.description_indexes]
    return " ".join(" ".join(part for part in parts if part).split())


@dataclass(frozen=True, slots=True)
class _Problem:
    field_name: str
    reason: LineReason
    message: str


def _structural_problems(
    record: _Record, layout: _Layout, profile: BankProfile, cells: dict[str, Cell]
) -> Iterator[_Problem]:
    """Problems that make a row unreadable as a line, before its fields are looked at."""
    row = record.row
    if record.orphan:
        yield _Problem("description", LineReason.ORPHAN_CONTINUATION, "continuation row alone")
    if row.formula:
        yield _Problem("row", LineReason.FORMULA, "row holds a formula; export values instead")
    if any(_as_text(cell) for cell in row.cells[layout.width :]):
        yield _Problem(
            "row",
            LineReason.COLUMNS,
            f"row has more cells than the header ({len(row.cells)} > {layout.width}):"
            " an unquoted delimiter in a text?",
        )
    if profile.pending_field:
        pending = _as_text(cells.get(profile.pending_field)).upper()
        if pending and pending in {marker.upper() for marker in profile.pending_markers}:
            yield _Problem(profile.pending_field, LineReason.PENDING, f"pending row ({pending})")


#: Rows that are not booked money movements: left out of the footer balance proof.
_NOT_BOOKED: Final = frozenset({LineReason.ORPHAN_CONTINUATION, LineReason.PENDING})


def _raw(record: _Record) -> str:
    return " | ".join([*(_as_text(cell) for cell in record.row.cells), *record.continuations])


def _read_record(
    record: _Record,
    layout: _Layout,
    profile: BankProfile,
    period: _Period | None,
    sink: LineSink,
    limits: Limits,
) -> BookedAmount | None:
    """Accept or reject one record; return its amount for the balance proof if booked."""
    row = record.row
    cells = {name: _cell(row, index) for name, index in layout.index_of.items()}
    problem = next(_structural_problems(record, layout, profile, cells), None)
    amount = _read_amount(cells, profile) if problem is None else _Amount(None)
    if problem is None and amount.signed is None:
        reason = amount.problem or LineReason.AMOUNT_INVALID
        problem = _Problem(amount.field_name, reason, f"amount cannot be read ({reason.value})")
    if problem is not None:
        sink.reject(
            line_no=row.row_no,
            field_name=problem.field_name,
            reason=problem.reason,
            message=problem.message,
            raw=_raw(record),
        )
        if problem.reason in _NOT_BOOKED:
            return None
        return BookedAmount(row.row_no, None, problem.reason)
    result = _line(record, layout, profile, period, limits, cells, amount)
    if isinstance(result, _Problem):
        sink.reject(
            line_no=row.row_no,
            field_name=result.field_name,
            reason=result.reason,
            message=result.message,
            raw=_raw(record),
        )
    else:
        sink.accept(result)
    return BookedAmount(row.row_no, amount.signed)


class _PlainRows:
    """The common record read quickly: text cells, no continuation, formula, extra or missing
    cell or pending marker, readable dates and a whole-rupiah amount within bounds. Dates and
    amounts repeat (a day's file has a few dates and a few hundred amounts), so each distinct
    cell text is read once by the general functions. Anything else goes to the general path
    (:func:`_read_record`), which reads the record with the same result."""

    __slots__ = (
        "amount_at",
        "amounts",
        "dates",
        "layout",
        "limits",
        "needed",
        "period",
        "profile",
        "text_at",
    )

    def __init__(
        self, layout: _Layout, profile: BankProfile, period: _Period | None, limits: Limits
    ) -> None:
        self.layout, self.profile, self.period, self.limits = layout, profile, period, limits
        index_of = layout.index_of
        #: Columns the amount is read from, in the order of _read_amount's cells.
        self.amount_at = tuple(
            (name, index_of[name])
            for name in ("amount", "debit", "credit", "direction")
            if name in index_of
        )
        #: booking date, value date, reference, customer reference (None: no column).
        self.text_at = tuple(
            index_of.get(name)
            for name in ("booking_date", "value_date", "reference", "customer_reference")
        )
        #: Cells a row needs for every column to be there (fewer: the general path).
        self.needed = max([*index_of.values(), *layout.description_indexes]) + 1
        self.dates: dict[str, date | None] = {}
        self.amounts: dict[tuple[str, ...], tuple[Decimal, int, Direction] | None] = {}

    def _date(self, raw: str) -> date | None:
        """The date in a cell's text (None: blank or unreadable), read once per distinct text."""
        if raw in self.dates:
            return self.dates[raw]
        text = raw.strip()
        parsed = _parse_date(text, self.profile.date_format, self.period) if text else None
        found = self.dates[raw] = parsed if isinstance(parsed, date) else None
        return found

    def _amount(self, raw: tuple[str, ...]) -> tuple[Decimal, int, Direction] | None:
        """(signed, whole rupiah, direction) of the amount cells' texts, read once per texts."""
        if raw in self.amounts:
            return self.amounts[raw]
        cells: dict[str, Cell] = {
            name: text.strip() for (name, _i), text in zip(self.amount_at, raw, strict=True)
        }
        signed = _read_amount(cells, self.profile).signed
        found = None
        if signed is not None:
            amount_idr, _problem = line_amount_idr(abs(signed))
            if amount_idr is not None:
                direction = Direction.CREDIT if signed >= 0 else Direction.DEBIT
                found = (signed, amount_idr, direction)
        self.amounts[raw] = found
        return found

    def read(self, records: list[_Record], sink: LineSink) -> list[BookedAmount | None]:
        """Every record, in order, into ``sink``; its booked amount, or None (not booked)."""
        layout, profile, period, limits = self.layout, self.profile, self.period, self.limits
        limit, width, needed = limits.max_field_chars, layout.width, self.needed
        amount_of, date_of = self._amount, self._date
        amounts, dates = self.amounts, self.dates
        amount_indexes = [i for _name, i in self.amount_at]
        amount_cells = itemgetter(*amount_indexes)
        single = amount_indexes[0] if len(amount_indexes) == 1 else None
        booking_at, value_at, reference_at, customer_at = self.text_at
        assert booking_at is not None  # a profile always names the booking date column
        described = layout.description_indexes
        description_at = described[0] if len(described) == 1 else None
        statement_index = 0 if profile.opening_balance_label else None
        accept = sink.accept
        booked: list[BookedAmount | None] = []
        for record in records:
            row = record.row
            cells = cast(list[str], row.cells)  # CSV cells: every one is text
            count = len(cells)
            if record.orphan or record.continuations or row.formula or not needed <= count <= width:
                booked.append(_read_record(record, layout, profile, period, sink, limits))
                continue
            raw = (cells[single],) if single is not None else amount_cells(cells)
            amount = amounts.get(raw) or amount_of(raw)
            booking = dates.get(cells[booking_at]) or date_of(cells[booking_at])
            value = booking
            if value_at is not None:
                value_raw = cells[value_at]
                value = dates.get(value_raw) or date_of(value_raw)
                if value is None and not value_raw.strip():
                    value = booking
            if description_at is not None:
                description = " ".join(cells[description_at].split())
            else:
                description = " ".join(" ".join([cells[i] for i in described]).split())
            reference = cells[reference_at].strip() if reference_at is not None else ""
            customer = cells[customer_at].strip() if customer_at is not None else ""
            if (
                amount is None
                or booking is None
                or value is None
                or len(description) > limit
                or len(reference) > limit
                or len(customer) > limit
            ):
                booked.append(_read_record(record, layout, profile, period, sink, limits))
                continue
            signed, amount_idr, direction = amount
            accept(
                LineDraft(
                    row.row_no,
                    booking,
                    value,
                    amount_idr,
                    direction,
                    description,
                    reference or None,
                    customer or None,
                    False,
                    statement_index,
                )
            )
            booked.append(BookedAmount(row.row_no, signed))
        return booked


def _line(
    record: _Record,
    layout: _Layout,
    profile: BankProfile,
    period: _Period | None,
    limits: Limits,
    cells: dict[str, Cell],
    amount: _Amount,
) -> LineDraft | _Problem:
    signed = amount.signed if amount.signed is not None else Decimal(0)
    booking = _parse_date(cells.get("booking_date"), profile.date_format, period)
    if not isinstance(booking, date):
        shown = _as_text(cells.get("booking_date"))[:40]
        return _Problem("booking_date", booking, f"booking date {shown!r}: {booking.value}")
    value_cell = cells.get("value_date")
    value = (
        _parse_date(value_cell, profile.date_format, period) if _as_text(value_cell) else booking
    )
    if not isinstance(value, date):
        shown = _as_text(value_cell)[:40]
        return _Problem("value_date", value, f"value date {shown!r}: {value.value}")
    amount_idr, problem = line_amount_idr(abs(signed))
    if amount_idr is None:
        reason = problem or LineReason.AMOUNT_INVALID
        return _Problem(amount.field_name, reason, f"amount {signed} is not whole, non-zero rupiah")
    description = " ".join([_description(record.row, layout), *record.continuations]).strip()
    reference = _as_text(cells.get("reference"))
    customer_reference = _as_text(cells.get("customer_reference"))
    if max(len(description), len(reference), len(customer_reference)) > limits.max_field_chars:
        limit = limits.max_field_chars
        return _Problem("description", LineReason.FIELD_TOO_LONG, f"a text exceeds {limit} chars")
    return LineDraft(
        line_no=record.row.row_no,
        booking_date=booking,
        value_date=value,
        amount_idr=amount_idr,
        direction=Direction.CREDIT if signed >= 0 else Direction.DEBIT,
        description=description,
        bank_reference=reference or None,
        customer_reference=customer_reference or None,
        statement_index=0 if profile.opening_balance_label else None,
    )


def _footer_statement(
    footer: list[_Row],
    booked: list[BookedAmount],
    profile: BankProfile,
    period: _Period | None,
) -> tuple[StatementSummary, ...]:
    if profile.opening_balance_label is None or profile.closing_balance_label is None:
        return ()
    opening = _footer_balance(footer, profile.opening_balance_label, profile)
    closing = _footer_balance(footer, profile.closing_balance_label, profile)
    credit_idr, debit_idr = prove_balance(
        subject="statement", opening_idr=opening, closing_idr=closing, booked=booked
    )
    return (
        StatementSummary(
            index=0,
            statement_id=None,
            number=None,
            sequence=None,
            opening_date=period.start if period else None,
            closing_date=period.end if period else None,
            opening_balance_idr=opening,
            closing_balance_idr=closing,
            credit_total_idr=credit_idr,
            debit_total_idr=debit_idr,
            line_count=len(booked),
        ),
    )


def _footer_balance(footer: list[_Row], label: str, profile: BankProfile) -> int:
    for row in footer:
        values = [cell for cell in row.cells if _as_text(cell) not in {"", "=", ":"}]
        if not values or not _as_text(values[0]).casefold().startswith(label.casefold()):
            continue
        # "Saldo Awal : 1.000.000,00" in one cell, or the label and the amount in two cells.
        rest = _as_text(values[0])[len(label) :].strip(" :=")
        candidate: Cell = rest or (values[1] if len(values) > 1 else None)
        amount = _signed(candidate, profile) if candidate is not None else None
        if amount is None:
            raise ImportRefused(
                RefusalReason.MALFORMED,
                f"footer {label!r} at line {row.row_no} has no readable amount",
                line_no=row.row_no,
            )
        return balance_idr(amount, what=label, subject="statement")
    raise ImportRefused(
        RefusalReason.BALANCE_MISSING,
        f"footer row {label!r} not found; the profile reads balances from it",
        expected=label,
    )
