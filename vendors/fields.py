"""The registry's field rules, shared by forms, the API and the bulk import.

Each parser takes what a person or a spreadsheet gives (text, or a number or date from an XLSX
cell) and returns the stored form, or raises :class:`~vendors.problems.FieldError` naming the rule.
Nothing here touches the database.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from retribusi.money import MoneyError, parse_idr
from retribusi.phone import PhoneError, normalise_phone
from vendors.models import MarketClass, StallType
from vendors.problems import N_, FieldError

# What an import cell may hold: text from CSV; text, a number or a date from XLSX.
Cell = str | int | Decimal | date | None

MARKET_CODE_RE = re.compile(r"[A-Z][A-Z0-9_]{1,31}")
BLOCK_CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,19}")
STALL_NUMBER_RE = re.compile(r"[A-Z0-9][A-Z0-9./-]{0,19}")
SHP_NUMBER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9./_-]{0,39}")
ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DIGITS_RE = re.compile(r"[0-9]{1,15}")
MAX_NAME_LEN = 200
# A trading place larger than this is a typing error (an extra zero), and the database agrees.
MAX_AREA_M2 = Decimal(1000)
MAX_TNTD_IDR_PER_M2 = 100_000_000
MAX_TEXT_CELL = 300
EARLIEST_SHP = date(1990, 1, 1)
# "oprokan" is the local word for a pelataran place (goods laid out on the ground).
STALL_TYPE_WORDS = {
    "kios": StallType.KIOS,
    "los": StallType.LOS,
    "pelataran": StallType.PELATARAN,
    "oprokan": StallType.PELATARAN,
}


def _text(raw: Cell, *, upper: bool = False) -> str:
    if isinstance(raw, bool):
        raise FieldError(N_("expected text, found %(value)s"), value=str(raw))
    if raw is None:
        return ""
    if isinstance(raw, date):
        raise FieldError(N_("expected text, found a date"))
    if isinstance(raw, Decimal) and raw.is_finite() and raw == raw.to_integral_value():
        raw = int(raw)
    text = str(raw).strip()
    if len(text) > MAX_TEXT_CELL:
        raise FieldError(N_("too long (%(count)s characters)"), count=len(text))
    return text.upper() if upper else text


def required(raw: Cell) -> str:
    text = _text(raw)
    if not text:
        raise FieldError(N_("required"))
    return text


def parse_market_code(raw: Cell) -> str:
    code = _text(raw, upper=True)
    if not code:
        raise FieldError(N_("required"))
    if not MARKET_CODE_RE.fullmatch(code):
        raise FieldError(N_("%(value)s is not a market code (e.g. KLEWER)"), value=code)
    return code


def parse_block_code(raw: Cell) -> str:
    code = _text(raw, upper=True)
    if not code:
        raise FieldError(N_("required"))
    if not BLOCK_CODE_RE.fullmatch(code):
        raise FieldError(
            N_("%(value)s is not a block code: up to 20 letters, digits and -"), value=code
        )
    return code


def parse_stall_number(raw: Cell) -> str:
    number = _text(raw, upper=True)
    if not number:
        raise FieldError(N_("required"))
    if not STALL_NUMBER_RE.fullmatch(number):
        raise FieldError(
            N_("%(value)s is not a stall number: up to 20 letters, digits and . / -"),
            value=number,
        )
    return number


def parse_stall_type(raw: Cell) -> StallType:
    word = _text(raw).lower()
    if not word:
        raise FieldError(N_("required"))
    try:
        return STALL_TYPE_WORDS[word]
    except KeyError:
        raise FieldError(
            N_("%(value)s is not a stall type: kios, los, pelataran or oprokan"), value=word
        ) from None


def parse_market_class(raw: Cell) -> MarketClass:
    word = _text(raw, upper=True)
    try:
        return MarketClass(word)
    except ValueError:
        raise FieldError(
            N_("%(value)s is not a market class: IA, IB, IIA, IIB, IIIA or IIIB"), value=word
        ) from None


def parse_area(raw: Cell) -> Decimal:
    """Square metres, up to 2 decimals, with a decimal point (``1.5``, not ``1,5``)."""
    if isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        area = Decimal(raw)
    else:
        text = _text(raw)
        if not text:
            raise FieldError(N_("required"))
        if "," in text:
            raise FieldError(N_("%(value)s: write decimals with a point, e.g. 1.5"), value=text)
        try:
            area = Decimal(text)
        except InvalidOperation:
            raise FieldError(N_("%(value)s is not a number of m²"), value=text) from None
    if not area.is_finite():
        raise FieldError(N_("%(value)s is not a number of m²"), value=str(raw))
    if area <= 0 or area > MAX_AREA_M2:
        raise FieldError(
            N_("area %(value)s m² is outside 0.01 to %(max)s m²"),
            value=_plain(area),
            max=_plain(MAX_AREA_M2),
        )
    if area != area.quantize(Decimal("0.01")):
        raise FieldError(N_("area %(value)s m² has more than 2 decimals"), value=_plain(area))
    return area.quantize(Decimal("0.01"))


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def parse_tntd(raw: Cell) -> int | None:
    """TNTD in whole rupiah per m², or nothing when it has not been assessed.

    Text must be plain digits: ``950.000`` is how Indonesians write nine hundred and fifty
    thousand, and reading it as 950 would be a costly mistake.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool | date):
        raise FieldError(N_("expected a whole rupiah amount"))
    if isinstance(raw, Decimal):
        if not raw.is_finite() or raw != raw.to_integral_value():
            raise _not_rupiah(str(raw))
        raw = int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if not DIGITS_RE.fullmatch(text):
            raise _not_rupiah(text)
        raw = int(text)
    try:
        return parse_idr(raw, max_idr=MAX_TNTD_IDR_PER_M2)
    except MoneyError:
        raise _not_rupiah(str(raw)) from None


def _not_rupiah(text: str) -> FieldError:
    return FieldError(
        N_("%(value)s is not a whole rupiah amount from 1 to %(max)s (digits only)"),
        value=text[:40],
        max=MAX_TNTD_IDR_PER_M2,
    )


def parse_name(raw: Cell) -> str:
    """A person's name in any script; NFC-normalised, inner spaces collapsed."""
    text = unicodedata.normalize("NFC", " ".join(_text(raw).split()))
    if not text:
        raise FieldError(N_("required"))
    if len(text) > MAX_NAME_LEN:
        raise FieldError(N_("a name has at most %(max)s characters"), max=MAX_NAME_LEN)
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise FieldError(N_("the name contains a control character"))
    return text


def parse_place_name(raw: Cell, *, max_len: int) -> str:
    """A market's or a kecamatan's name: checked as a person's name, at most ``max_len``."""
    text = parse_name(raw)
    if len(text) > max_len:
        raise FieldError(N_("at most %(max)s characters"), max=max_len)
    return text


def parse_phone(raw: Cell) -> str:
    text = _text(raw)
    if not text:
        raise FieldError(N_("required"))
    try:
        return normalise_phone(text)
    except PhoneError:
        raise FieldError(
            N_("%(value)s is not an Indonesian phone number (e.g. 0812-3456-7890)"),
            value=text[:32],
        ) from None


def parse_optional_phone(raw: Cell) -> str | None:
    return parse_phone(raw) if _text(raw) else None


def parse_optional_name(raw: Cell) -> str | None:
    return parse_name(raw) if _text(raw) else None


def parse_shp_number(raw: Cell) -> str:
    number = _text(raw)
    if not number:
        raise FieldError(N_("required"))
    if not SHP_NUMBER_RE.fullmatch(number):
        raise FieldError(
            N_("%(value)s is not an SHP number: up to 40 letters, digits and . / _ -"),
            value=number[:40],
        )
    return number


def parse_date(raw: Cell, *, today: date) -> date:
    """A date written ``2024-01-15`` (or an XLSX date cell), from 1990 to a year ahead."""
    if isinstance(raw, datetime):
        if raw.time() != datetime.min.time():
            raise FieldError(N_("expected a date without a time"))
        day = raw.date()
    elif isinstance(raw, date):
        day = raw
    else:
        text = _text(raw)
        if not text:
            raise FieldError(N_("required"))
        if not ISO_DATE_RE.fullmatch(text):
            raise FieldError(N_("%(value)s is not a date like 2024-01-15"), value=text[:40])
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise FieldError(N_("%(value)s is not a date like 2024-01-15"), value=text) from None
    latest = date(today.year + 1, today.month, min(today.day, 28))
    if not EARLIEST_SHP <= day <= latest:
        raise FieldError(
            N_("%(value)s is outside %(first)s to %(last)s"),
            value=day.isoformat(),
            first=EARLIEST_SHP.isoformat(),
            last=latest.isoformat(),
        )
    return day
