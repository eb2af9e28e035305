"""Build the two QRIS payloads the platform emits: a static code per stall, a dynamic code per bill.

Both carry the same merchant (the retribusi account of the regional government at its acquiring
bank), described once by a validated :class:`MerchantIdentity`. The identity pre-encodes every
fixed fragment when it is created, so a build is string concatenation plus one CRC (< 50 µs).

Layouts (all tags ascending, as every QRIS generator emits them; docs/qris.md has the table):

* static:  00 01=11 26 51 52 53 58 59 60 61 62{07 stall} [64] 63
* dynamic: 00 01=12 26 51 52 53 54 58 59 60 61 62{01 bill, 05 reference} [64] 63

No tip or convenience fee (55-57) is ever emitted: Bank Indonesia forbids passing the MDR on to
the payer, and a retribusi payer owes exactly the billed amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from payments.qris.codec import (
    CURRENCY_IDR,
    NMID_RE,
    QRIS_MAX_TRANSACTION_IDR,
    QRIS_MERCHANT_CRITERIA,
    MerchantCriteria,
    QrisError,
    luhn_check_digit,
    luhn_ok,
    with_crc,
)

#: ISO 18245 "Government Services (not elsewhere classified)". Market retribution is a payment to
#: local government; the acquirer fixes the MCC at registration, so take the real one from it.
MCC_GOVERNMENT_SERVICES: Final = "9399"

# EMV "ans" without "|" (QRIS excludes the pipe from names, cities, IDs) and without surrounding
# spaces, which bank systems trim and so would break the match with what we stored.
_ANS_TEXT_RE: Final = re.compile(r"[\x21-\x7b\x7d\x7e](?:[\x20-\x7b\x7d\x7e]*[\x21-\x7b\x7d\x7e])?")
# References we put in tag 62 (stall, bill, payment reference): a conservative alphabet that
# survives acquirer reports, CSV settlement files and bank statements unchanged.
_REFERENCE_RE: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z./_-]{0,24}")
_GUID_RE: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z.-]{0,31}")
_PAN_RE: Final = re.compile(r"9360[0-9]{6,15}")
_MCC_RE: Final = re.compile(r"[0-9]{4}")
_POSTAL_CODE_RE: Final = re.compile(r"[0-9]{5}")
_LANGUAGE_RE: Final = re.compile(r"[a-z]{2}")
# Tag 64 is format "S" (any precomposed Unicode) but still no control characters or surrogates.
_ALT_TEXT_BAD_RE: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class QrisBuildError(QrisError):
    """A value that cannot go into a payload; ``field`` names the argument or identity field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__("build.invalid_field", f"{field_name}: {message}")
        self.field = field_name


def compose_merchant_pan(nns: str, merchant_number: str) -> str:
    """``nns`` (8 digits, ``9360xxxx``) + ``merchant_number`` + Luhn check digit (10-19 digits)."""
    if not isinstance(nns, str) or not re.fullmatch(r"9360[0-9]{4}", nns):
        raise QrisBuildError("nns", "must be 8 digits starting with 9360")
    if not isinstance(merchant_number, str) or not re.fullmatch(r"[0-9]{1,10}", merchant_number):
        raise QrisBuildError("merchant_number", "must be 1-10 digits")
    body = nns + merchant_number
    return body + luhn_check_digit(body)


def _tlv(tag: str, value: str) -> str:
    # Lengths are guaranteed by validation; this is the hot path, so no checks here.
    return f"{tag}{len(value):02d}{value}"


@dataclass(frozen=True, slots=True)
class _Fragments:
    static_head: str  # 00 .. 53 with 01=11
    dynamic_head: str  # 00 .. 53 with 01=12
    merchant: str  # 58 .. 61
    language: str  # 64 or ""


@dataclass(frozen=True)
class MerchantIdentity:
    """The merchant account the codes pay into, as registered with the acquirer.

    Every field is validated on construction; a bad one raises :class:`QrisBuildError` naming it.
    ``merchant_name`` and ``merchant_city`` must be printable ASCII (tags 59/60 are ``ans``); give
    a name with other characters in ``name_alt`` (tag 64, with ``language``).
    """

    acquirer_guid: str  # 26.00, reverse domain of the acquirer, e.g. "ID.CO.BANKJATENG.WWW"
    merchant_pan: str  # 26.01, NNS 9360xxxx + merchant number + Luhn digit
    merchant_id: str  # 26.02, assigned by the acquirer, ≤ 15
    merchant_criteria: MerchantCriteria  # 26.03 and 51.03
    nmid: str  # 51.02, "ID" + 12-13 digits, issued by PTEN
    merchant_name: str  # 59, ≤ 25
    merchant_city: str  # 60, ≤ 15
    postal_code: str  # 61, 5 digits
    mcc: str = MCC_GOVERNMENT_SERVICES  # 52
    language: str | None = None  # 64.00, ISO 639-1 lower case
    name_alt: str | None = None  # 64.01, ≤ 25, any script
    city_alt: str | None = None  # 64.02, ≤ 15, any script
    _fragments: _Fragments = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate_identity(self)
        # Frozen dataclass: the per-identity cache is set once, here, and never changes.
        object.__setattr__(self, "_fragments", _encode_fragments(self))


def _require(ok: bool, field_name: str, message: str) -> None:
    if not ok:
        raise QrisBuildError(field_name, message)


def _check_text(value: object, field_name: str, max_chars: int) -> None:
    _require(
        isinstance(value, str) and len(value) <= max_chars and bool(_ANS_TEXT_RE.fullmatch(value)),
        field_name,
        f"must be 1-{max_chars} printable ASCII characters, no '|', no surrounding spaces",
    )


def _check_pattern(value: object, field_name: str, pattern: re.Pattern[str], rule: str) -> None:
    _require(isinstance(value, str) and bool(pattern.fullmatch(value)), field_name, rule)


def _check_alt_text(value: object, field_name: str, max_chars: int) -> None:
    _require(
        isinstance(value, str)
        and 1 <= len(value) <= max_chars
        and value == value.strip()
        and not _ALT_TEXT_BAD_RE.search(value),
        field_name,
        f"must be 1-{max_chars} characters without control characters or surrounding spaces",
    )


def _validate_identity(identity: MerchantIdentity) -> None:
    _check_pattern(
        identity.acquirer_guid, "acquirer_guid", _GUID_RE, "must be a reverse domain, ≤ 32"
    )
    _check_pattern(
        identity.merchant_pan,
        "merchant_pan",
        _PAN_RE,
        "must be 10-19 digits starting with an NNS 9360xxxx",
    )
    _require(luhn_ok(identity.merchant_pan), "merchant_pan", "Luhn check digit is wrong")
    _check_text(identity.merchant_id, "merchant_id", 15)
    _require(
        isinstance(identity.merchant_criteria, str)
        and identity.merchant_criteria in QRIS_MERCHANT_CRITERIA,
        "merchant_criteria",
        f"must be one of {', '.join(sorted(QRIS_MERCHANT_CRITERIA))}",
    )
    _check_pattern(identity.nmid, "nmid", NMID_RE, "must be 'ID' followed by 12-13 digits")
    _check_pattern(identity.mcc, "mcc", _MCC_RE, "must be 4 digits (ISO 18245)")
    _check_text(identity.merchant_name, "merchant_name", 25)
    _check_text(identity.merchant_city, "merchant_city", 15)
    _check_pattern(identity.postal_code, "postal_code", _POSTAL_CODE_RE, "must be 5 digits")
    _validate_language(identity)


def _validate_language(identity: MerchantIdentity) -> None:
    if identity.language is None and identity.name_alt is None and identity.city_alt is None:
        return
    _check_pattern(identity.language, "language", _LANGUAGE_RE, "must be ISO 639-1, e.g. 'id'")
    # 64.01 is mandatory whenever template 64 is present.
    _check_alt_text(identity.name_alt, "name_alt", 25)
    if identity.city_alt is not None:
        _check_alt_text(identity.city_alt, "city_alt", 15)


def _encode_fragments(identity: MerchantIdentity) -> _Fragments:
    criteria = str(identity.merchant_criteria)
    acquirer = _tlv(
        "26",
        _tlv("00", identity.acquirer_guid)
        + _tlv("01", identity.merchant_pan)
        + _tlv("02", identity.merchant_id)
        + _tlv("03", criteria),
    )
    national = _tlv(
        "51", _tlv("00", "ID.CO.QRIS.WWW") + _tlv("02", identity.nmid) + _tlv("03", criteria)
    )
    accounts = acquirer + national + _tlv("52", identity.mcc) + _tlv("53", CURRENCY_IDR)
    merchant = (
        "5802ID"
        + _tlv("59", identity.merchant_name)
        + _tlv("60", identity.merchant_city)
        + _tlv("61", identity.postal_code)
    )
    language = ""
    if identity.language is not None and identity.name_alt is not None:
        alt = _tlv("00", identity.language) + _tlv("01", identity.name_alt)
        if identity.city_alt is not None:
            alt += _tlv("02", identity.city_alt)
        language = _tlv("64", alt)
    return _Fragments(
        static_head="000201010211" + accounts,
        dynamic_head="000201010212" + accounts,
        merchant=merchant,
        language=language,
    )


def _check_reference(value: object, field_name: str) -> str:
    if isinstance(value, str) and _REFERENCE_RE.fullmatch(value):
        return value
    raise QrisBuildError(
        field_name,
        "must be 1-25 characters of A-Z a-z 0-9 . / _ - starting with a letter or digit",
    )


def build_static(identity: MerchantIdentity, *, stall_reference: str) -> str:
    """Static code (01=11, no amount) for one stall; the payer types the amount.

    ``stall_reference`` goes in 62.07 (Terminal Label): acquirers use that field to tell apart the
    stickers of one merchant and report it back as the terminal id, which is how an open-amount
    payment is attributed to the stall.
    """
    reference = _check_reference(stall_reference, "stall_reference")
    parts = identity._fragments
    body = parts.static_head + parts.merchant + _tlv("62", _tlv("07", reference)) + parts.language
    return with_crc(body)


def build_dynamic(
    identity: MerchantIdentity, *, amount_idr: int, bill_number: str, reference: str
) -> str:
    """Dynamic code (01=12) for one bill: amount in 54, bill in 62.01, ``reference`` in 62.05.

    ``amount_idr`` is whole rupiah, 1 to Rp10.000.000 (the QRIS per-transaction limit), written
    without decimals. ``reference`` must be unique to this code; the caller guarantees that.
    """
    _require(
        isinstance(amount_idr, int)
        and not isinstance(amount_idr, bool)
        and 1 <= amount_idr <= QRIS_MAX_TRANSACTION_IDR,
        "amount_idr",
        f"must be whole rupiah from 1 to {QRIS_MAX_TRANSACTION_IDR}",
    )
    bill = _check_reference(bill_number, "bill_number")
    ref = _check_reference(reference, "reference")
    parts = identity._fragments
    body = (
        parts.dynamic_head
        + _tlv("54", str(amount_idr))
        + parts.merchant
        + _tlv("62", _tlv("01", bill) + _tlv("05", ref))
        + parts.language
    )
    return with_crc(body)
