"""NIK (*Nomor Induk Kependudukan*), the 16-digit population number, checked for structure.

Layout: ``PPKKCC DDMMYY SSSS``

* ``PP`` province, ``KK`` regency or city, ``CC`` district (*kecamatan*): where the number was
  issued. Surakarta is ``3372``; its districts are ``01`` Laweyan … ``05`` Banjarsari.
* ``DDMMYY`` birth date; **women add 40 to the day** (a woman born on the 7th has ``47``).
* ``SSSS`` sequence number, from ``0001``.

There is no check digit, so a structurally valid NIK may still belong to nobody: this catches
typing errors (a digit too many, a swapped date, a zero region), not fraud.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from vendors.problems import N_, FieldError

NIK_RE = re.compile(r"[0-9]{16}")
_SPACES = re.compile(r"[\s.]")
MAX_RAW_LEN = 40
FEMALE_DAY_OFFSET = 40

# Province codes of Kemendagri (Dukcapil). The Papua codes changed with the 2022 split and the
# statistics office numbers them differently, so 91–96 are all accepted.
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15", "16", "17", "18", "19", "21",
        "31", "32", "33", "34", "35", "36",
        "51", "52", "53",
        "61", "62", "63", "64", "65",
        "71", "72", "73", "74", "75", "76",
        "81", "82",
        "91", "92", "93", "94", "95", "96",
    }
)  # fmt: skip


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


class NikError(FieldError):
    """A NIK that breaks its structure."""


@dataclass(frozen=True)
class Nik:
    value: str
    region_code: str  # province + regency + district, 6 digits
    birth_date: date
    sex: Sex
    sequence: int


def _birth_date(day: int, month: int, yy: int, today: date) -> date | None:
    """The birth date in this or the previous century, whichever is a real day not in the
    future. 29 February of ``00`` exists in 2000 but not in 1900."""
    for century in (2000, 1900):
        year = century + yy
        try:
            born = date(year, month, day)
        except ValueError:
            continue
        if born <= today:
            return born
    return None


def parse_nik(raw: str, *, today: date) -> Nik:
    """Check a NIK typed any common way (``3372 0147 0380 0001``) and return its parts."""
    if not isinstance(raw, str) or len(raw) > MAX_RAW_LEN:
        raise NikError(N_("NIK must be 16 digits"))
    value = _SPACES.sub("", raw)
    if not NIK_RE.fullmatch(value):
        if value.isascii() and value.isdigit():
            raise NikError(N_("NIK must be 16 digits, not %(count)s"), count=len(value))
        raise NikError(N_("NIK must be 16 digits"))
    province, regency, district = value[0:2], value[2:4], value[4:6]
    if province not in PROVINCE_CODES:
        raise NikError(N_("NIK starts with %(code)s, which is not a province code"), code=province)
    if regency == "00" or district == "00":
        raise NikError(
            N_("NIK region %(code)s has no regency or district"),
            code=province + regency + district,
        )
    day, month, yy = int(value[6:8]), int(value[8:10]), int(value[10:12])
    sex = Sex.FEMALE if day > FEMALE_DAY_OFFSET else Sex.MALE
    if sex is Sex.FEMALE:
        day -= FEMALE_DAY_OFFSET
    born = _birth_date(day, month, yy, today) if 1 <= day <= 31 and 1 <= month <= 12 else None
    if born is None:
        raise NikError(
            N_("NIK birth date %(digits)s is not a date (women add 40 to the day)"),
            digits=value[6:12],
        )
    sequence = int(value[12:16])
    if sequence == 0:
        raise NikError(N_("NIK sequence number 0000 is never issued"))
    return Nik(value, value[0:6], born, sex, sequence)


def make_nik(region_code: str, birth_date: date, sex: Sex, sequence: int) -> str:
    """Compose a NIK (for demo data and tests)."""
    if not re.fullmatch(r"[0-9]{6}", region_code) or not 1 <= sequence <= 9999:
        raise ValueError("region code is 6 digits and sequence 1..9999")
    day = birth_date.day + (FEMALE_DAY_OFFSET if sex is Sex.FEMALE else 0)
    return f"{region_code}{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}{sequence:04d}"
