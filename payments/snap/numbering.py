"""Virtual-account numbers: the SNAP identity triple and our customer numbers.

SNAP identifies a VA by three strings (ASPI; snap-va.md §1.2)::

    partnerServiceId   "   12345"                 the bank's company code, 8 chars, space-padded
    customerNo                 "0000012340"       ours: vendor sequence + Damm check digit
    virtualAccountNo   "   123450000012340"       partnerServiceId + customerNo, spaces inside

The payer types the digits only (``123450000012340``).

**customerNo.** ``width - 1`` digits of zero-padded vendor sequence, then one Damm check digit
(default width 10: nine sequence digits, up to 999 999 999 vendors, and a 15-digit VA behind a
5-digit BCA company code). The width is fixed per bank profile; changing it renumbers every VA.

**Why Damm.** The check digit guards the payer's typing: a wrong VA that still validates pays the
wrong vendor. Luhn misses the adjacent transposition 09↔90; ISO 7064 MOD 97-10 catches it but
costs two digits; Damm costs one decimal digit (no ``X`` as in MOD 11-2) and detects every
single-digit substitution and every adjacent transposition (its table is a totally
anti-symmetric quasigroup of order 10, Damm 2004). Both properties are proven in the tests.

**Lookups.** Banks pad the prefix with spaces, zeros or not at all, and may send ``customerNo``
as a bare JSON number. :func:`normalize_va` matches on digits and returns the canonical
:class:`VaKey`; the caller keeps the received strings to echo back byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from payments.snap.codes import Case, SnapError

#: ASPI lengths of the triple.
PARTNER_SERVICE_ID_CHARS: Final = 8
CUSTOMER_NO_MAX_CHARS: Final = 20
VIRTUAL_ACCOUNT_NO_MAX_CHARS: Final = 28
#: Our customerNo width unless a bank profile says otherwise (see the module docstring).
DEFAULT_CUSTOMER_NO_WIDTH: Final = 10
#: A sequence digit plus the check digit at the least; ASPI's 20 at the most.
MIN_CUSTOMER_NO_WIDTH: Final = 2

# The Damm operation table (Damm 2004; the one on Wikipedia): row = interim, column = digit.
_DAMM_TABLE: Final = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

_DIGITS_RE: Final = re.compile(r"[0-9]+", re.ASCII)
# Prefix padding seen in the field: spaces ("   12345"), zeros ("00012345") or none ("12345").
_PADDED_RE: Final = re.compile(r" *[0-9]+", re.ASCII)


class VaErrorKind(StrEnum):
    """Why a VA number was refused; each kind maps to one SNAP case."""

    MISSING = "missing"  # 400xx02 Invalid Mandatory Field {field}
    FORMAT = "format"  # 400xx01 Invalid Field Format {field}: non-digits, too long
    INCONSISTENT = "inconsistent"  # 400xx01: customerNo disagrees with virtualAccountNo
    NOT_OURS = "not_ours"  # 404xx12 Invalid Bill/Virtual Account [Not Found]


_KIND_CASE: Final = {
    VaErrorKind.MISSING: Case.INVALID_MANDATORY_FIELD,
    VaErrorKind.FORMAT: Case.INVALID_FIELD_FORMAT,
    VaErrorKind.INCONSISTENT: Case.INVALID_FIELD_FORMAT,
    VaErrorKind.NOT_OURS: Case.INVALID_BILL,
}


class VaNumberError(SnapError):
    """A VA number or part of one that is malformed or cannot be one of ours.

    ``field`` is the SNAP field at fault (``partnerServiceId``, ``customerNo``,
    ``virtualAccountNo``) or ``None`` for arguments of our own API.
    """

    def __init__(self, kind: VaErrorKind, message: str, *, field: str | None = None) -> None:
        detail = "Not Found" if kind is VaErrorKind.NOT_OURS else field
        super().__init__(_KIND_CASE[kind], detail, message)
        self.kind = kind
        self.field = field


@dataclass(frozen=True)
class VaKey:
    """The canonical identity of one of our VAs under one bank profile.

    ``customer_no`` is unique within the bank profile and is the lookup key; ``sequence`` is the
    vendor sequence it encodes.
    """

    company_code: str
    customer_no: str
    sequence: int

    @property
    def partner_service_id(self) -> str:
        return make_partner_service_id(self.company_code)

    @property
    def virtual_account_no(self) -> str:
        """The canonical SNAP ``virtualAccountNo`` (space-padded prefix)."""
        return self.partner_service_id + self.customer_no

    @property
    def payable_digits(self) -> str:
        """What the payer types at the ATM or in mobile banking."""
        return self.company_code + self.customer_no


# --------------------------------------------------------------------------------------- Damm


def damm_check_digit(digits: str) -> str:
    """The Damm check digit of a non-empty string of ASCII digits (``"572"`` → ``"4"``)."""
    if not _DIGITS_RE.fullmatch(digits):
        raise ValueError(f"Damm needs ASCII digits, got {digits[:32]!r}")
    interim = 0
    for char in digits:
        interim = _DAMM_TABLE[interim][ord(char) - ord("0")]
    return str(interim)


def damm_is_valid(digits: str) -> bool:
    """True if the last digit is the Damm check digit of the others. Never raises."""
    return (
        len(digits) >= MIN_CUSTOMER_NO_WIDTH
        and _DIGITS_RE.fullmatch(digits) is not None
        and damm_check_digit(digits[:-1]) == digits[-1]
    )


def _check_width(width: int) -> None:
    if not MIN_CUSTOMER_NO_WIDTH <= width <= CUSTOMER_NO_MAX_CHARS:
        raise ValueError(
            f"customerNo width must be {MIN_CUSTOMER_NO_WIDTH}..{CUSTOMER_NO_MAX_CHARS}"
        )


# ------------------------------------------------------------------------------------ compose
# These build numbers from our own configuration and data: a bad argument is our bug or a bad
# bank profile, so they raise ValueError, not a SNAP error.


def make_partner_service_id(company_code: str) -> str:
    """``"12345"`` → ``"   12345"``: the bank's company code left-padded with spaces to 8.

    The company code is 1-8 ASCII digits, kept as given (``"088899"`` keeps its zero), and not
    all zeros. Raises ``ValueError``.
    """
    if (
        not _DIGITS_RE.fullmatch(company_code)
        or len(company_code) > PARTNER_SERVICE_ID_CHARS
        or not company_code.strip("0")
    ):
        raise ValueError(f"company code must be 1..8 digits, not all zero: {company_code!r}")
    return company_code.rjust(PARTNER_SERVICE_ID_CHARS)


def make_customer_no(sequence: int, *, width: int = DEFAULT_CUSTOMER_NO_WIDTH) -> str:
    """Vendor sequence → customerNo: zero-padded to ``width - 1`` digits plus a Damm digit.

    ``make_customer_no(1234)`` → ``"0000012340"``. Raises ``ValueError`` when the sequence is
    < 1 or does not fit the width.
    """
    _check_width(width)
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise TypeError("sequence must be an int")
    if not 1 <= sequence < 10 ** (width - 1):
        raise ValueError(f"sequence {sequence} does not fit 1..{width - 1} digits")
    body = str(sequence).zfill(width - 1)
    return body + damm_check_digit(body)


def compose_virtual_account_no(company_code: str, customer_no: str) -> str:
    """partnerServiceId + customerNo: ``("12345", "0000012340")`` → ``"   123450000012340"``."""
    if not _DIGITS_RE.fullmatch(customer_no) or len(customer_no) > CUSTOMER_NO_MAX_CHARS:
        raise ValueError(f"customerNo must be 1..20 ASCII digits, got {customer_no[:32]!r}")
    return make_partner_service_id(company_code) + customer_no


def validate_customer_no(customer_no: str, *, width: int = DEFAULT_CUSTOMER_NO_WIDTH) -> int:
    """Check a received customerNo as one of ours and return the vendor sequence it encodes.

    Raises :class:`VaNumberError`: ``FORMAT`` for non-digits or more than 20 characters,
    ``NOT_OURS`` for another width, a bad check digit or sequence 0.
    """
    _check_width(width)
    if len(customer_no) > CUSTOMER_NO_MAX_CHARS or not _DIGITS_RE.fullmatch(customer_no):
        raise VaNumberError(
            VaErrorKind.FORMAT, "customerNo must be 1..20 ASCII digits", field="customerNo"
        )
    if len(customer_no) != width or not damm_is_valid(customer_no):
        raise VaNumberError(
            VaErrorKind.NOT_OURS,
            f"{customer_no!r} is not a {width}-digit customerNo with a valid check digit",
            field="customerNo",
        )
    sequence = int(customer_no[:-1])
    if sequence == 0:
        raise VaNumberError(VaErrorKind.NOT_OURS, "sequence 0 is never issued", field="customerNo")
    return sequence


# ------------------------------------------------------------------------ received and lookup


@dataclass(frozen=True)
class ReceivedTriple:
    """The triple as the bank sent it, format-checked, kept verbatim for the echo.

    A ``customerNo`` sent as a bare JSON number is kept as its decimal string (the response
    field is a String) and flagged, since its leading zeros are gone.
    """

    partner_service_id: str
    customer_no: str
    virtual_account_no: str
    customer_no_was_number: bool = False


def _padded_digits(value: object, field: str, max_chars: int) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise VaNumberError(VaErrorKind.MISSING, f"{field} is missing", field=field)
    if not isinstance(value, str) or len(value) > max_chars or not _PADDED_RE.fullmatch(value):
        raise VaNumberError(
            VaErrorKind.FORMAT,
            f"{field} must be at most {max_chars} characters: left space padding, then digits",
            field=field,
        )
    return value


def _customer_no_text(value: object) -> tuple[str, bool]:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise VaNumberError(VaErrorKind.MISSING, "customerNo is missing", field="customerNo")
    was_number = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, int) and was_number:
        # ASPI samples send it as a bare JSON number in the status request. Range first:
        # str() of a huge int is slow and, past 4300 digits, raises.
        value = str(value) if 0 <= value < 10**CUSTOMER_NO_MAX_CHARS else "-"
    if (
        not isinstance(value, str)
        or len(value) > CUSTOMER_NO_MAX_CHARS
        or not _DIGITS_RE.fullmatch(value)
    ):
        raise VaNumberError(
            VaErrorKind.FORMAT, "customerNo must be 1..20 ASCII digits", field="customerNo"
        )
    return value, was_number


def check_received_triple(
    partner_service_id: object, customer_no: object, virtual_account_no: object
) -> ReceivedTriple:
    """Format-check the three values of a decoded request (any JSON type may arrive).

    ``partnerServiceId`` ≤ 8 and ``virtualAccountNo`` ≤ 28 characters, each left space padding
    then ASCII digits; ``customerNo`` 1-20 ASCII digits, as a string or a non-negative JSON
    number. Raises :class:`VaNumberError` (``MISSING`` → 400xx02, ``FORMAT`` → 400xx01).
    """
    psi = _padded_digits(partner_service_id, "partnerServiceId", PARTNER_SERVICE_ID_CHARS)
    customer, was_number = _customer_no_text(customer_no)
    va = _padded_digits(virtual_account_no, "virtualAccountNo", VIRTUAL_ACCOUNT_NO_MAX_CHARS)
    return ReceivedTriple(psi, customer, va, was_number)


def normalize_va(
    triple: ReceivedTriple, *, company_code: str, width: int = DEFAULT_CUSTOMER_NO_WIDTH
) -> VaKey:
    """Turn a received triple into our canonical key, whatever padding the bank used.

    * ``partnerServiceId`` may be space-padded, zero-padded or bare; its digits without leading
      zeros must equal the bank profile's ``company_code`` without leading zeros.
    * ``virtualAccountNo`` is that prefix (padded any of those ways) followed by the customer
      number: the customer digits are whatever follows the prefix.
    * ``customerNo`` must have the same numeric value as those customer digits; the canonical
      customerNo is taken from ``virtualAccountNo``, which keeps the leading zeros that a bare
      JSON number loses.

    Raises :class:`VaNumberError`: ``INCONSISTENT`` (400xx01) when the three disagree,
    ``NOT_OURS`` (404xx12) for a well-formed VA this profile never issued.
    """
    ours = make_partner_service_id(company_code).strip().lstrip("0")
    if triple.partner_service_id.strip().lstrip("0") != ours:
        raise VaNumberError(
            VaErrorKind.NOT_OURS,
            f"partnerServiceId {triple.partner_service_id!r} is not company code {company_code}",
            field="partnerServiceId",
        )
    va_digits = triple.virtual_account_no.strip().lstrip("0")
    if not va_digits.startswith(ours):
        raise VaNumberError(
            VaErrorKind.INCONSISTENT,
            "virtualAccountNo does not start with partnerServiceId",
            field="virtualAccountNo",
        )
    va_customer = va_digits[len(ours) :]
    if not va_customer or int(va_customer) != int(triple.customer_no):
        raise VaNumberError(
            VaErrorKind.INCONSISTENT,
            "virtualAccountNo does not end with customerNo",
            field="virtualAccountNo",
        )
    # A bank that zero-pads to a longer length of its own: the values matched above and
    # customerNo has at most 20 digits, so any extra leading digits are zeros.
    if len(va_customer) > width and not va_customer[: len(va_customer) - width].strip("0"):
        va_customer = va_customer[len(va_customer) - width :]
    sequence = validate_customer_no(va_customer, width=width)
    return VaKey(company_code=company_code, customer_no=va_customer, sequence=sequence)
