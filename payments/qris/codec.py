"""QRIS payload codec: nested TLV over characters, CRC-16/CCITT-FALSE, validation with severities.

A QRIS payload is an EMVCo Merchant-Presented Mode string: data objects ``ID(2) LEN(2) VALUE``
where LEN counts *characters* (code points), not bytes (EMVCo §4.4.1.1), and the CRC is computed
over the UTF-8 bytes of everything up to and including ``"6304"`` (EMVCo §4.7.3).

Three layers, from strict to forgiving:

* :func:`parse` turns text into a :class:`Payload` tree and raises :class:`QrisParseError` only
  when the root TLV structure is broken. It keeps order, duplicates and unknown tags, so
  ``parse(s).encode() == s`` for every string it accepts.
* :func:`decode` never raises: it bounds the input, strips pasted whitespace, parses as far as it
  can, checks the CRC and validates against EMVCo and the QRIS profile, returning a
  :class:`Decoded` with typed :class:`Issue` objects (stable ``code``, ``severity``).
* :func:`decode_report` turns a :class:`Decoded` into the JSON-ready dict that
  ``retribusi qris decode`` prints, one per line.

Money stays whole rupiah: tag 54 is read with :func:`retribusi.money.parse_idr`, and a fraction of a
rupiah is reported as an error issue, never rounded.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final, NamedTuple

from retribusi.money import MAX_AMOUNT_IDR, MoneyError, parse_idr

#: EMVCo §4.1 and QRIS 4.1: a payload "should not exceed 512 characters"; SNAP ``qrContent`` is
#: String(512). Longer payloads are still parsed (to explain them) but carry an error.
MAX_PAYLOAD_CHARS: Final = 512
#: Hard bound on what :func:`decode` even looks at: four times the legal size is plenty to
#: diagnose a broken payload, and keeps a pasted megabyte from costing anything.
MAX_INPUT_CHARS: Final = 2048
#: Bank Indonesia's per-transaction QRIS limit since 1 March 2022 (BI Bicara 131 KA-01080).
QRIS_MAX_TRANSACTION_IDR: Final = 10_000_000
#: ISO 4217 numeric code of the rupiah; mandatory in tag 53 when the country (58) is ``ID``.
CURRENCY_IDR: Final = "360"
#: GUID of the national repository template (tag 51). The two older ones still appear on stickers.
QRIS_NATIONAL_GUIDS: Final = frozenset({"ID.CO.QRIS.WWW", "ID.OR.GPNQR.WWW", "ID.OR.QRNPG.WWW"})

# Pasted payloads often end with a newline (qriskit regression #6); only ASCII whitespace is
# stripped, because str.strip() would also eat Unicode separators that belong to no payload.
_ASCII_WHITESPACE: Final = " \t\r\n\f\v"
# Two ASCII digits -> int. A dict rather than int(): int() accepts "+1", " 1" and Unicode digits.
_TWO_DIGITS: Final = {f"{i:02d}": i for i in range(100)}
_HEX4_RE: Final = re.compile(r"[0-9A-Fa-f]{4}")
_DIGITS_RE: Final = re.compile(r"[0-9]+")
# EMVCo §4.7.4: digits with at most one ".", e.g. "98", "98.", "98.73"; no sign, no separators.
_AMOUNT_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]*)?")
# EMVCo §4.7.6: "00.01" to "99.99" without "%"; seen in the wild as "0.7" and "05.00".
_PERCENT_RE: Final = re.compile(r"[0-9]{1,2}(?:\.[0-9]{1,2})?")
# Control characters and lone surrogates are not text: no QR reader or bank system handles them.
_INVALID_CHAR_RE: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: National Merchant ID as issued by PTEN: "ID" + 12-13 digits (qris.md §1.6 lists the outliers).
NMID_RE: Final = re.compile(r"ID[0-9]{12,13}")
_COUNTRY_RE: Final = re.compile(r"[A-Z]{2}")
_LANGUAGE_RE: Final = re.compile(r"[A-Za-z]{2}")

# Root tags whose value is a TLV list (qris.md §6): merchant account templates 26-51 (40 is QRIS
# Transfer), 62 additional data, 64 language template, 80-99 unreserved templates.
_ROOT_TEMPLATES: Final = frozenset(
    [f"{i:02d}" for i in range(26, 52)] + ["62", "64"] + [f"{i:02d}" for i in range(80, 100)]
)
# Inside 62, sub-tags 50-99 are payment-system templates; real payloads put non-TLV data there
# (qris.md §1.7, vector Q-AP39), so a failure there is only a warning.
_ADF_TEMPLATES: Final = frozenset(f"{i:02d}" for i in range(50, 100))
_MAI_TAGS: Final = frozenset(f"{i:02d}" for i in range(2, 52))
# Domestic acquirer templates with the QRIS Tabel 4.3 layout (00 GUID, 01 PAN, 02 MID, 03
# criteria). 40 is excluded: QRIS Transfer and ShopeePay give it a different layout.
_QRIS_ACQUIRER_TAGS: Final = frozenset(f"{i:02d}" for i in range(26, 46) if i != 40)


class MerchantCriteria(StrEnum):
    """QRIS Tabel 4.6 merchant criteria (tags 26-45.03 and 51.03); the acquirer assigns it."""

    UMI = "UMI"  # usaha mikro
    UKE = "UKE"  # usaha kecil
    UME = "UME"  # usaha menengah
    UBE = "UBE"  # usaha besar
    URE = "URE"  # usaha reguler (the default an issuer assumes when 03 is absent)
    PSO = "PSO"  # public service obligation
    BLU = "BLU"  # badan layanan umum


QRIS_MERCHANT_CRITERIA: Final = frozenset(str(c) for c in MerchantCriteria)


class Severity(StrEnum):
    """An error makes the payload unusable for payment; a warning is worth a look."""

    ERROR = "error"
    WARNING = "warning"


class IssueCode(StrEnum):
    """Stable codes of everything :func:`decode` can report (see docs/qris.md for the table)."""

    # errors
    PAYLOAD_NOT_TEXT = "payload.not_text"
    PAYLOAD_EMPTY = "payload.empty"
    PAYLOAD_TOO_LONG = "payload.too_long"
    TLV_BAD_TAG = "tlv.bad_tag"
    TLV_BAD_LENGTH = "tlv.bad_length"
    TLV_TRUNCATED = "tlv.truncated"
    TLV_ZERO_LENGTH = "tlv.zero_length"
    TLV_DUPLICATE = "tlv.duplicate"
    TEMPLATE_MALFORMED = "template.malformed"
    CRC_MISSING = "crc.missing"
    CRC_NOT_LAST = "crc.not_last"
    CRC_FORMAT = "crc.format"
    CRC_MISMATCH = "crc.mismatch"
    PFI_NOT_FIRST = "pfi.not_first"
    PFI_INVALID = "pfi.invalid"
    POI_INVALID = "poi.invalid"
    TAG_MISSING = "tag.missing"
    MAI_MISSING = "mai.missing"
    FIELD_TOO_LONG = "field.too_long"
    FIELD_BAD_LENGTH = "field.bad_length"
    FIELD_NOT_NUMERIC = "field.not_numeric"
    FIELD_INVALID = "field.invalid"
    CHARSET_INVALID = "charset.invalid"
    CHARSET_PIPE = "charset.pipe"
    CURRENCY_NOT_IDR = "currency.not_idr"
    AMOUNT_INVALID = "amount.invalid"
    AMOUNT_ZERO = "amount.zero"
    AMOUNT_FRACTION = "amount.fraction"
    TIP_INDICATOR_INVALID = "tip.indicator_invalid"
    TIP_FIXED_MISSING = "tip.fixed_missing"
    TIP_FIXED_INVALID = "tip.fixed_invalid"
    TIP_PERCENTAGE_MISSING = "tip.percentage_missing"
    TIP_PERCENTAGE_INVALID = "tip.percentage_invalid"
    TIP_UNEXPECTED_VALUE = "tip.unexpected_value"
    # warnings
    PAYLOAD_WHITESPACE = "payload.whitespace"
    ORDER_TAGS = "order.tags"
    CRC_LOWERCASE = "crc.lowercase"
    POI_MISSING = "poi.missing"
    STATIC_NMID_MISSING = "static.nmid_missing"
    AMOUNT_ON_STATIC = "amount.on_static"
    AMOUNT_MISSING_ON_DYNAMIC = "amount.missing_on_dynamic"
    AMOUNT_OVER_LIMIT = "amount.over_limit"
    POSTAL_CODE_MISSING = "postal_code.missing"
    CHARSET_NOT_ANS = "charset.not_ans"
    CRITERIA_MISSING = "criteria.missing"
    CRITERIA_UNKNOWN = "criteria.unknown"
    PAN_NNS = "pan.nns"
    PAN_CHECK_DIGIT = "pan.check_digit"
    NMID_FORMAT = "nmid.format"
    NMID_GUID_UNKNOWN = "nmid.guid_unknown"
    TEMPLATE_OPAQUE = "template.opaque"


_WARNING_CODES: Final = frozenset(
    {
        IssueCode.PAYLOAD_WHITESPACE,
        IssueCode.ORDER_TAGS,
        IssueCode.CRC_LOWERCASE,
        IssueCode.POI_MISSING,
        IssueCode.STATIC_NMID_MISSING,
        IssueCode.AMOUNT_ON_STATIC,
        IssueCode.AMOUNT_MISSING_ON_DYNAMIC,
        IssueCode.AMOUNT_OVER_LIMIT,
        IssueCode.POSTAL_CODE_MISSING,
        IssueCode.CHARSET_NOT_ANS,
        IssueCode.CRITERIA_MISSING,
        IssueCode.CRITERIA_UNKNOWN,
        IssueCode.PAN_NNS,
        IssueCode.PAN_CHECK_DIGIT,
        IssueCode.NMID_FORMAT,
        IssueCode.NMID_GUID_UNKNOWN,
        IssueCode.TEMPLATE_OPAQUE,
    }
)


def severity_of(code: IssueCode) -> Severity:
    """Each code has one fixed severity, so callers may filter on either."""
    return Severity.WARNING if code in _WARNING_CODES else Severity.ERROR


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding. ``tag`` is a path such as ``"54"`` or ``"62.01"``; ``None`` for the payload."""

    code: IssueCode
    message: str
    tag: str | None = None

    @property
    def severity(self) -> Severity:
        return severity_of(self.code)

    def as_dict(self) -> dict[str, object]:
        """``{code, message[, tag]}`` in that key order, for JSON output."""
        out: dict[str, object] = {"code": str(self.code), "message": self.message}
        if self.tag is not None:
            out["tag"] = self.tag
        return out


class QrisError(ValueError):
    """Base of the typed errors raised by ``payments.qris``; ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class QrisParseError(QrisError):
    """The root TLV structure is broken at character ``position``."""

    def __init__(self, code: IssueCode, message: str, position: int) -> None:
        super().__init__(str(code), message)
        self.issue_code = code
        self.position = position


class Initiation(StrEnum):
    """Point of Initiation Method (tag 01): ``11`` static sticker, ``12`` one code per payment."""

    STATIC = "static"
    DYNAMIC = "dynamic"


_POI_VALUES: Final = {"11": Initiation.STATIC, "12": Initiation.DYNAMIC}


class DataObject(NamedTuple):
    """One TLV data object (immutable).

    ``value`` is always the exact text between the length and the next object, so encoding is
    lossless. ``children`` is the parsed TLV list of a template, or ``None`` for a primitive (and
    for a template whose value is not valid TLV, which is then kept raw).

    A NamedTuple rather than a frozen dataclass: a decode creates ~30 of these, and a frozen
    dataclass takes twice as long to construct, which alone would use a third of the 100 µs
    decode budget.
    """

    tag: str
    value: str
    children: tuple[DataObject, ...] | None = None

    def encode(self) -> str:
        return f"{self.tag}{len(self.value):02d}{self.value}"

    def find(self, tag: str) -> DataObject | None:
        """First child with ``tag`` (``None`` for primitives or when absent)."""
        for child in self.children or ():
            if child.tag == tag:
                return child
        return None


def primitive(tag: str, value: str) -> DataObject:
    """A primitive object; raises :class:`QrisError` unless 1 ≤ ``len(value)`` ≤ 99."""
    _check_tlv(tag, value)
    return DataObject(tag, value)


def template(tag: str, children: Sequence[DataObject]) -> DataObject:
    """A template whose value is the encoding of ``children`` (in the given order)."""
    value = "".join(child.encode() for child in children)
    _check_tlv(tag, value)
    return DataObject(tag, value, tuple(children))


def tlv(tag: str, value: str) -> str:
    """Encode one object as text; raises :class:`QrisError` unless 1 ≤ ``len(value)`` ≤ 99."""
    _check_tlv(tag, value)
    return f"{tag}{len(value):02d}{value}"


def _check_tlv(tag: str, value: str) -> None:
    if tag not in _TWO_DIGITS:
        raise QrisError(str(IssueCode.TLV_BAD_TAG), f"tag must be two ASCII digits: {tag!r}")
    if not value:
        raise QrisError(str(IssueCode.TLV_ZERO_LENGTH), f"tag {tag}: value must not be empty")
    if len(value) > 99:
        raise QrisError(
            str(IssueCode.FIELD_TOO_LONG), f"tag {tag}: {len(value)} characters, the limit is 99"
        )


@dataclass(frozen=True, slots=True)
class Payload:
    """A parsed payload: the root data objects in their original order."""

    objects: tuple[DataObject, ...]

    def encode(self) -> str:
        return "".join(obj.encode() for obj in self.objects)

    def find(self, path: str) -> DataObject | None:
        """Object at ``path``: a root tag (``"59"``) or root.sub (``"62.01"``); first occurrence."""
        root_tag, _, sub_tag = path.partition(".")
        for obj in self.objects:
            if obj.tag == root_tag:
                return obj.find(sub_tag) if sub_tag else obj
        return None

    def value(self, path: str) -> str | None:
        """Raw value at ``path``, or ``None`` when absent."""
        obj = self.find(path)
        return None if obj is None else obj.value


# --------------------------------------------------------------------------------------- CRC


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection): ``b"123456789"`` → 0x29B1.

    ``binascii.crc_hqx`` with initial value 0xFFFF is exactly this algorithm (with 0 it would be
    XMODEM, a different CRC).
    """
    return binascii.crc_hqx(data, 0xFFFF)


def crc_hex(text_through_6304: str) -> str:
    """The CRC value for a payload ending in ``"6304"``: 4 uppercase hex digits over UTF-8."""
    # surrogatepass: a lone surrogate is already an error issue; the CRC must still not raise.
    data = text_through_6304.encode("utf-8", "surrogatepass")
    return f"{crc16_ccitt_false(data):04X}"


def with_crc(body: str) -> str:
    """Append the CRC object to ``body`` (every object except 63): ``body + "6304" + CRC``."""
    head = body + "6304"
    return head + crc_hex(head)


# ------------------------------------------------------------------------------------ parsing


@dataclass(frozen=True, slots=True)
class _Fault:
    code: IssueCode
    message: str
    position: int


def _parse_list(text: str) -> tuple[list[tuple[str, str]], _Fault | None]:
    """``(tag, value)`` pairs of a TLV list, and the first structural fault, if any.

    Plain tuples here, objects later: each object is then built once, with its children.
    """
    pairs: list[tuple[str, str]] = []
    pos = 0
    end = len(text)
    while pos < end:
        if end - pos < 4:
            return pairs, _Fault(
                IssueCode.TLV_TRUNCATED, f"{end - pos} stray character(s) at the end", pos
            )
        tag = text[pos : pos + 2]
        if tag not in _TWO_DIGITS:
            return pairs, _Fault(IssueCode.TLV_BAD_TAG, f"tag {tag!r} is not two digits", pos)
        length = _TWO_DIGITS.get(text[pos + 2 : pos + 4])
        if length is None:
            return pairs, _Fault(
                IssueCode.TLV_BAD_LENGTH,
                f"tag {tag}: length {text[pos + 2 : pos + 4]!r} is not two digits",
                pos,
            )
        value_end = pos + 4 + length
        if value_end > end:
            return pairs, _Fault(
                IssueCode.TLV_TRUNCATED,
                f"tag {tag}: length {length} runs past the end ({end - pos - 4} left)",
                pos,
            )
        pairs.append((tag, text[pos + 4 : value_end]))
        pos = value_end
    return pairs, None


def _object(
    tag: str, value: str, template_tags: frozenset[str]
) -> tuple[DataObject, _Fault | None]:
    """A data object, parsed as a template if ``tag`` is in ``template_tags``.

    A template that is not valid TLV is kept raw (``children=None``) and its fault returned.
    """
    if tag not in template_tags:
        return DataObject(tag, value), None
    pairs, fault = _parse_list(value)
    if fault is not None:
        return DataObject(tag, value), fault
    if tag == "62":
        # 62's own templates (50-99) are parsed one level deeper; a failure there keeps them raw
        # and is reported by validation as template.opaque.
        children = tuple(_object(t, v, _ADF_TEMPLATES)[0] for t, v in pairs)
    else:
        children = tuple(DataObject(t, v) for t, v in pairs)
    return DataObject(tag, value, children), None


def _parse_root(text: str) -> tuple[Payload, _Fault | None, list[Issue]]:
    """Root objects (partial on a fault), the root fault, and malformed-template issues."""
    pairs, fault = _parse_list(text)
    objects: list[DataObject] = []
    issues: list[Issue] = []
    for tag, value in pairs:
        obj, template_fault = _object(tag, value, _ROOT_TEMPLATES)
        if template_fault is not None:
            issues.append(
                Issue(
                    IssueCode.TEMPLATE_MALFORMED,
                    f"template {tag} is not a TLV list at offset "
                    f"{template_fault.position}: {template_fault.message}",
                    tag,
                )
            )
        objects.append(obj)
    return Payload(tuple(objects)), fault, issues


def parse(text: str) -> Payload:
    """Parse ``text`` into a :class:`Payload`, keeping order and unknown tags.

    Raises :class:`QrisParseError` when the root is not a TLV list (bad tag or length digits,
    truncation) or the text is empty or longer than :data:`MAX_INPUT_CHARS`. Templates whose value
    is not TLV are kept raw (``children is None``). No semantic checks: use :func:`decode`.
    """
    if not isinstance(text, str):
        raise QrisParseError(IssueCode.PAYLOAD_NOT_TEXT, "payload must be a string", 0)
    if not text:
        raise QrisParseError(IssueCode.PAYLOAD_EMPTY, "payload is empty", 0)
    if len(text) > MAX_INPUT_CHARS:
        raise QrisParseError(
            IssueCode.PAYLOAD_TOO_LONG,
            f"payload has {len(text)} characters; the limit is {MAX_INPUT_CHARS}",
            MAX_INPUT_CHARS,
        )
    payload, fault, _ = _parse_root(text)
    if fault is not None:
        raise QrisParseError(
            fault.code, f"at offset {fault.position}: {fault.message}", fault.position
        )
    return payload


def encode(objects: Payload | Iterable[DataObject]) -> str:
    """Serialise objects in order; ``encode(parse(s)) == s``. Does not add or fix the CRC."""
    if isinstance(objects, Payload):
        return objects.encode()
    return "".join(obj.encode() for obj in objects)


# ---------------------------------------------------------------------------------- decoding


@dataclass(frozen=True, slots=True)
class Decoded:
    """Outcome of :func:`decode`. ``payload`` holds what could be parsed (partial on a fault).

    ``amount_idr`` is tag 54 as whole rupiah when the currency is IDR and the amount is valid.
    """

    payload: Payload
    issues: tuple[Issue, ...]
    crc_ok: bool
    amount_idr: int | None

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.WARNING)

    @property
    def valid(self) -> bool:
        """No error issue (warnings allowed)."""
        return not self.errors

    @property
    def initiation(self) -> Initiation | None:
        return _POI_VALUES.get(self.payload.value("01") or "")

    def value(self, path: str) -> str | None:
        return self.payload.value(path)


_EMPTY: Final = Payload(())


def decode(text: str) -> Decoded:
    """Parse, check the CRC and validate ``text``. Never raises; every problem is an :class:`Issue`.

    Surrounding ASCII whitespace is stripped (warning ``payload.whitespace``); inputs longer than
    :data:`MAX_INPUT_CHARS` are not parsed at all.
    """
    if not isinstance(text, str):
        issue = Issue(
            IssueCode.PAYLOAD_NOT_TEXT, f"payload must be a string, not {type(text).__name__}"
        )
        return Decoded(_EMPTY, (issue,), False, None)
    if len(text) > MAX_INPUT_CHARS:
        issue = Issue(
            IssueCode.PAYLOAD_TOO_LONG,
            f"input has {len(text)} characters; not parsed beyond the limit of {MAX_INPUT_CHARS}",
        )
        return Decoded(_EMPTY, (issue,), False, None)
    issues: list[Issue] = []
    stripped = text.strip(_ASCII_WHITESPACE)
    if len(stripped) != len(text):
        issues.append(Issue(IssueCode.PAYLOAD_WHITESPACE, "surrounding whitespace was ignored"))
    if not stripped:
        issues.append(Issue(IssueCode.PAYLOAD_EMPTY, "payload is empty"))
        return Decoded(_EMPTY, tuple(issues), False, None)
    if len(stripped) > MAX_PAYLOAD_CHARS:
        issues.append(
            Issue(
                IssueCode.PAYLOAD_TOO_LONG,
                f"payload has {len(stripped)} characters; QRIS allows {MAX_PAYLOAD_CHARS}",
            )
        )
    payload, fault, template_issues = _parse_root(stripped)
    if fault is not None:
        issues.append(Issue(fault.code, f"at offset {fault.position}: {fault.message}"))
    issues.extend(template_issues)
    crc_ok = _check_crc(stripped, payload, structure_ok=fault is None, issues=issues)
    validator = _Validator(payload, issues)
    validator.run()
    return Decoded(payload, tuple(issues), crc_ok, validator.amount_idr)


def _check_crc(text: str, payload: Payload, *, structure_ok: bool, issues: list[Issue]) -> bool:
    # The CRC is checked on the text itself, so a broken structure with a correct CRC (a buggy
    # generator) is told apart from a damaged transmission (wrong CRC).
    stored = text[-4:]
    textual = len(text) >= 8 and text[-8:-4] == "6304" and bool(_HEX4_RE.fullmatch(stored))
    crc_ok = textual and int(stored, 16) == int(crc_hex(text[:-4]), 16)
    crc_objects = [obj for obj in payload.objects if obj.tag == "63"]
    if structure_ok:
        if not crc_objects:
            issues.append(Issue(IssueCode.CRC_MISSING, "no CRC object (63)", "63"))
            return False
        if payload.objects[-1].tag != "63":
            issues.append(Issue(IssueCode.CRC_NOT_LAST, "the CRC object (63) must be last", "63"))
            return False
        if not textual:
            issues.append(
                Issue(IssueCode.CRC_FORMAT, "the CRC must be 4 hexadecimal digits (6304XXXX)", "63")
            )
            return False
    if textual and not crc_ok:
        issues.append(
            Issue(
                IssueCode.CRC_MISMATCH,
                f"CRC is {stored}, computed {crc_hex(text[:-4])}",
                "63",
            )
        )
    elif crc_ok and stored != stored.upper():
        issues.append(Issue(IssueCode.CRC_LOWERCASE, f"CRC {stored} should be upper case", "63"))
    return crc_ok


# -------------------------------------------------------------------------------- validation

# (format, min length, max length); format "N" digits, "ans" printable ASCII, "S" any text.
_Spec = tuple[str, int, int]
_ROOT_SPEC: Final[dict[str, _Spec]] = {
    "52": ("N", 4, 4),
    "53": ("N", 3, 3),
    "54": ("ans", 1, 13),
    "55": ("N", 2, 2),
    "56": ("ans", 1, 13),
    "57": ("ans", 1, 5),
    "58": ("ans", 2, 2),
    "59": ("ans", 1, 25),
    "60": ("ans", 1, 15),
    "61": ("ans", 1, 10),
    **{f"{i:02d}": ("ans", 1, 99) for i in range(2, 26)},
}
_GUID_SPEC: Final[dict[str, _Spec]] = {"00": ("ans", 1, 32)}
_ACQUIRER_SPEC: Final[dict[str, _Spec]] = {
    "00": ("ans", 1, 32),
    "01": ("N", 1, 19),
    "02": ("ans", 1, 15),
    "03": ("ans", 3, 3),
}
_NATIONAL_SPEC: Final[dict[str, _Spec]] = {
    "00": ("ans", 1, 32),
    "02": ("ans", 1, 15),
    "03": ("ans", 3, 3),
}
_ADF_SPEC: Final[dict[str, _Spec]] = {
    **{f"{i:02d}": ("ans", 1, 25) for i in range(1, 9)},
    "09": ("ans", 1, 3),
    "10": ("ans", 1, 20),
    "11": ("ans", 3, 3),
    "99": ("S", 1, 95),
}
_LANGUAGE_SPEC: Final[dict[str, _Spec]] = {
    "00": ("ans", 2, 2),
    "01": ("S", 1, 25),
    "02": ("S", 1, 15),
}
_ROOT_MANDATORY: Final = ("52", "53", "58", "59", "60")
# QRIS Tabel 3.6/4.3: these values exclude "|" (it separates fields in switch messages).
# Tuples, not sets: issues must come out in the same order in every process (hash seeds vary).
_PIPE_FREE_ROOT: Final = ("58", "59", "60", "61")
_PIPE_FREE_ACQUIRER: Final = ("02", "03")


def luhn_ok(digits: str) -> bool:
    """Whether an ASCII digit string ends in a valid Luhn (mod 10) check digit."""
    if not _DIGITS_RE.fullmatch(digits) or len(digits) < 2:
        return False
    return luhn_check_digit(digits[:-1]) == digits[-1]


def luhn_check_digit(digits: str) -> str:
    """The Luhn check digit to append to ``digits`` (ASCII digits only, else :class:`QrisError`)."""
    if not _DIGITS_RE.fullmatch(digits):
        raise QrisError("luhn.not_numeric", f"Luhn input must be ASCII digits: {digits[:40]!r}")
    total = 0
    # Double every second digit from the right, starting with the rightmost of the payload
    # (which sits next to the check digit).
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


class _Validator:
    """Collects issues for one parsed payload. Split into small checks; state is the index."""

    def __init__(self, payload: Payload, issues: list[Issue]) -> None:
        self.payload = payload
        self.issues = issues
        self.root: dict[str, DataObject] = {}
        for obj in payload.objects:
            self.root.setdefault(obj.tag, obj)
        self.indonesia = self._value("58") == "ID"
        self.idr = self._value("53") == CURRENCY_IDR
        self.amount_idr: int | None = None

    def _value(self, tag: str) -> str | None:
        obj = self.root.get(tag)
        return None if obj is None else obj.value

    def _add(self, code: IssueCode, message: str, tag: str | None = None) -> None:
        self.issues.append(Issue(code, message, tag))

    def run(self) -> None:
        if not self.payload.objects:
            return
        self._check_level(self.payload.objects, "", _ROOT_SPEC)
        self._check_root_layout()
        for obj in self.payload.objects:
            self._check_template(obj)
        self._check_mandatory()
        self._check_currency_and_country()
        self._check_amount()
        self._check_tip()
        self._check_initiation()

    # generic checks, any level ------------------------------------------------------------

    def _check_level(
        self, objects: Sequence[DataObject], prefix: str, spec: dict[str, _Spec]
    ) -> None:
        seen: set[str] = set()
        for obj in objects:
            path = prefix + obj.tag
            if obj.tag in seen:
                self._add(IssueCode.TLV_DUPLICATE, f"tag {path} occurs more than once", path)
            seen.add(obj.tag)
            if not obj.value:
                self._add(IssueCode.TLV_ZERO_LENGTH, f"tag {path} has length 00", path)
                continue
            if obj.children is None:
                self._check_field(obj, path, spec.get(obj.tag))
        # EMVCo allows any order (only 00 first, 63 last), but every generator we know sorts
        # ascending; disorder usually means hand editing.
        tags = [obj.tag for obj in objects if obj.tag not in {"00", "63"} or prefix]
        if tags != sorted(tags):
            where = f"template {prefix[:-1]}" if prefix else "the root"
            self._add(
                IssueCode.ORDER_TAGS,
                f"tags in {where} are not in ascending order",
                prefix[:-1] or None,
            )

    def _check_field(self, obj: DataObject, path: str, spec: _Spec | None) -> None:
        value = obj.value
        # Fast path: printable ASCII (nearly every value) can fail no character check.
        printable_ascii = value.isascii() and value.isprintable()
        if not printable_ascii and _INVALID_CHAR_RE.search(value):
            self._add(IssueCode.CHARSET_INVALID, f"tag {path} has a control character", path)
        if spec is None:
            return
        fmt, min_len, max_len = spec
        if len(value) > max_len:
            self._add(
                IssueCode.FIELD_TOO_LONG,
                f"tag {path} has {len(value)} characters; the maximum is {max_len}",
                path,
            )
        elif len(value) < min_len:
            self._add(
                IssueCode.FIELD_BAD_LENGTH,
                f"tag {path} has {len(value)} characters; it must have {min_len}",
                path,
            )
        if fmt == "N" and not _DIGITS_RE.fullmatch(value):
            self._add(IssueCode.FIELD_NOT_NUMERIC, f"tag {path} must be digits only", path)
        elif fmt == "ans" and not printable_ascii:
            self._add(
                IssueCode.CHARSET_NOT_ANS,
                f"tag {path} should be printable ASCII; some apps reject other characters",
                path,
            )

    # root layout --------------------------------------------------------------------------

    def _check_root_layout(self) -> None:
        objects = self.payload.objects
        pfi = self.root.get("00")
        if pfi is None:
            self._add(IssueCode.TAG_MISSING, "payload format indicator (00) is missing", "00")
        else:
            if objects[0].tag != "00":
                self._add(IssueCode.PFI_NOT_FIRST, "tag 00 must be the first object", "00")
            if pfi.value != "01":
                self._add(IssueCode.PFI_INVALID, f"tag 00 must be '01', not {pfi.value!r}", "00")
        poi = self._value("01")
        if poi is None:
            self._add(
                IssueCode.POI_MISSING,
                "point of initiation (01) is missing; static or dynamic is unknown",
                "01",
            )
        elif poi not in _POI_VALUES:
            self._add(IssueCode.POI_INVALID, f"tag 01 must be '11' or '12', not {poi!r}", "01")

    def _check_mandatory(self) -> None:
        for tag in _ROOT_MANDATORY:
            if tag not in self.root:
                self._add(IssueCode.TAG_MISSING, f"mandatory tag {tag} is missing", tag)
        if not _MAI_TAGS.intersection(self.root):
            self._add(IssueCode.MAI_MISSING, "no merchant account information (tags 02-51)")
        if self.indonesia and "61" not in self.root:
            self._add(
                IssueCode.POSTAL_CODE_MISSING, "QRIS requires a postal code (61) in Indonesia", "61"
            )
        for tag in _PIPE_FREE_ROOT if self.indonesia else ():
            value = self._value(tag)
            if value is not None and "|" in value:
                self._add(IssueCode.CHARSET_PIPE, f"tag {tag} must not contain '|'", tag)

    # templates ----------------------------------------------------------------------------

    def _check_template(self, obj: DataObject) -> None:
        if obj.children is None or not obj.value:
            return
        tag = obj.tag
        if tag == "62":
            self._check_level(obj.children, "62.", _ADF_SPEC)
            self._check_additional_data(obj)
        elif tag == "64":
            self._check_level(obj.children, "64.", _LANGUAGE_SPEC)
            self._require(obj, ("00", "01"))
            language = obj.find("00")
            if language is not None and not _LANGUAGE_RE.fullmatch(language.value):
                self._add(IssueCode.FIELD_INVALID, "tag 64.00 must be an ISO 639 code", "64.00")
        elif self.indonesia and tag in _QRIS_ACQUIRER_TAGS:
            self._check_level(obj.children, f"{tag}.", _ACQUIRER_SPEC)
            self._check_acquirer(obj)
        elif self.indonesia and tag == "51":
            self._check_level(obj.children, "51.", _NATIONAL_SPEC)
            self._check_national(obj)
        else:
            # Any other merchant account (26-51) or unreserved (80-99) template: EMVCo only
            # fixes sub-tag 00, the globally unique identifier.
            self._check_level(obj.children, f"{tag}.", _GUID_SPEC)
            self._require(obj, ("00",))

    def _require(self, obj: DataObject, sub_tags: Iterable[str]) -> None:
        for sub in sub_tags:
            if obj.find(sub) is None:
                path = f"{obj.tag}.{sub}"
                self._add(IssueCode.TAG_MISSING, f"mandatory tag {path} is missing", path)

    def _check_criteria(self, obj: DataObject) -> None:
        criteria = obj.find("03")
        if criteria is None:
            self._add(
                IssueCode.CRITERIA_MISSING,
                f"merchant criteria ({obj.tag}.03) is missing; issuers assume URE",
                f"{obj.tag}.03",
            )
        elif criteria.value not in QRIS_MERCHANT_CRITERIA:
            self._add(
                IssueCode.CRITERIA_UNKNOWN,
                f"merchant criteria {criteria.value!r} is not one of QRIS Tabel 4.6",
                f"{obj.tag}.03",
            )

    def _check_acquirer(self, obj: DataObject) -> None:
        self._require(obj, ("00", "01", "02"))
        self._check_criteria(obj)
        for sub in _PIPE_FREE_ACQUIRER:
            child = obj.find(sub)
            if child is not None and "|" in child.value:
                path = f"{obj.tag}.{sub}"
                self._add(IssueCode.CHARSET_PIPE, f"tag {path} must not contain '|'", path)
        pan = obj.find("01")
        if pan is None or not _DIGITS_RE.fullmatch(pan.value):
            return
        path = f"{obj.tag}.01"
        if not pan.value.startswith("9360") or len(pan.value) < 10:
            self._add(IssueCode.PAN_NNS, "merchant PAN should start with an NNS 9360xxxx", path)
        # A warning only: published QRIS libraries disagree on the check-digit rule (qris.md §1.6).
        if not luhn_ok(pan.value):
            self._add(IssueCode.PAN_CHECK_DIGIT, "merchant PAN fails the Luhn check", path)

    def _check_national(self, obj: DataObject) -> None:
        self._require(obj, ("00", "02"))
        self._check_criteria(obj)
        guid = obj.find("00")
        if guid is not None and guid.value not in QRIS_NATIONAL_GUIDS:
            self._add(
                IssueCode.NMID_GUID_UNKNOWN,
                f"tag 51.00 is {guid.value!r}, expected ID.CO.QRIS.WWW",
                "51.00",
            )
        nmid = obj.find("02")
        if nmid is not None and not NMID_RE.fullmatch(nmid.value):
            self._add(
                IssueCode.NMID_FORMAT, "NMID should be 'ID' followed by 12-13 digits", "51.02"
            )

    def _check_additional_data(self, obj: DataObject) -> None:
        for child in obj.children or ():
            if child.tag not in _ADF_TEMPLATES or not child.value:
                continue
            path = f"62.{child.tag}"
            if child.children is None:
                self._add(IssueCode.TEMPLATE_OPAQUE, f"tag {path} is not a TLV list", path)
            else:
                self._check_level(child.children, f"{path}.", {})
        request = obj.find("09")
        if request is not None and (
            set(request.value) - set("AME") or len(set(request.value)) != len(request.value)
        ):
            self._add(
                IssueCode.FIELD_INVALID, "tag 62.09 takes A, M and E, each at most once", "62.09"
            )

    # semantics ----------------------------------------------------------------------------

    def _check_currency_and_country(self) -> None:
        country = self._value("58")
        if country is not None and country and not _COUNTRY_RE.fullmatch(country):
            self._add(IssueCode.FIELD_INVALID, "tag 58 must be an ISO 3166 alpha-2 code", "58")
        currency = self._value("53")
        if self.indonesia and currency is not None and currency != CURRENCY_IDR:
            self._add(
                IssueCode.CURRENCY_NOT_IDR,
                f"currency must be 360 (IDR) in Indonesia, not {currency!r}",
                "53",
            )

    def _check_amount(self) -> None:
        raw = self._value("54")
        if not raw:
            return
        if not _AMOUNT_RE.fullmatch(raw):
            self._add(IssueCode.AMOUNT_INVALID, f"amount {raw!r} is not digits with one '.'", "54")
            return
        if not self.idr:
            if Decimal(raw.rstrip(".")) == 0:
                self._add(IssueCode.AMOUNT_ZERO, "amount must not be zero", "54")
            return
        try:
            amount_idr = parse_idr(raw.rstrip("."), max_idr=MAX_AMOUNT_IDR)
        except MoneyError as exc:
            code = {"zero": IssueCode.AMOUNT_ZERO, "fraction": IssueCode.AMOUNT_FRACTION}.get(
                exc.reason, IssueCode.AMOUNT_INVALID
            )
            self._add(code, f"amount {raw!r}: {exc}", "54")
            return
        if amount_idr > QRIS_MAX_TRANSACTION_IDR:
            self._add(
                IssueCode.AMOUNT_OVER_LIMIT,
                f"amount {amount_idr} exceeds the QRIS limit of {QRIS_MAX_TRANSACTION_IDR}",
                "54",
            )
        self.amount_idr = amount_idr

    def _check_tip(self) -> None:
        indicator = self._value("55")
        fixed = self._value("56")
        percent = self._value("57")
        if indicator is not None and indicator not in {"01", "02", "03"}:
            self._add(
                IssueCode.TIP_INDICATOR_INVALID,
                f"tag 55 must be 01, 02 or 03, not {indicator!r}",
                "55",
            )
        if indicator == "02":
            if fixed is None:
                self._add(IssueCode.TIP_FIXED_MISSING, "tag 55=02 needs a fixed fee in 56", "56")
            elif fixed and not self._fee_ok(fixed):
                self._add(
                    IssueCode.TIP_FIXED_INVALID,
                    f"fixed fee {fixed!r} is not a positive amount",
                    "56",
                )
        elif fixed is not None:
            self._add(IssueCode.TIP_UNEXPECTED_VALUE, "tag 56 is only allowed with 55=02", "56")
        if indicator == "03":
            if percent is None:
                self._add(
                    IssueCode.TIP_PERCENTAGE_MISSING, "tag 55=03 needs a percentage in 57", "57"
                )
            elif percent and not self._percent_ok(percent):
                self._add(
                    IssueCode.TIP_PERCENTAGE_INVALID,
                    f"percentage {percent!r} must be 00.01 to 99.99 without '%'",
                    "57",
                )
        elif percent is not None:
            self._add(IssueCode.TIP_UNEXPECTED_VALUE, "tag 57 is only allowed with 55=03", "57")

    def _fee_ok(self, raw: str) -> bool:
        if not _AMOUNT_RE.fullmatch(raw):
            return False
        if not self.idr:
            return Decimal(raw.rstrip(".")) > 0
        try:
            parse_idr(raw.rstrip("."))
        except MoneyError:
            return False
        return True

    @staticmethod
    def _percent_ok(raw: str) -> bool:
        return bool(_PERCENT_RE.fullmatch(raw)) and Decimal(raw) > 0

    def _check_initiation(self) -> None:
        poi = self._value("01")
        has_amount = "54" in self.root
        if poi == "11":
            if has_amount:
                self._add(
                    IssueCode.AMOUNT_ON_STATIC, "a static code normally carries no amount", "54"
                )
            if self.indonesia and "51" not in self.root:
                self._add(
                    IssueCode.STATIC_NMID_MISSING,
                    "a static QRIS must carry tag 51 with the NMID (QRIS 4.7.7)",
                    "51",
                )
        elif poi == "12" and not has_amount:
            self._add(
                IssueCode.AMOUNT_MISSING_ON_DYNAMIC,
                "a dynamic code normally carries an amount",
                "54",
            )


# ------------------------------------------------------------------------------------ report

_TIP_KINDS: Final = {"01": "prompt", "02": "fixed", "03": "percentage"}


def _tree(objects: Iterable[DataObject]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for obj in objects:
        node: dict[str, object] = {"tag": obj.tag, "length": len(obj.value)}
        if obj.children is None:
            node["value"] = obj.value
        else:
            node["children"] = _tree(obj.children)
        out.append(node)
    return out


def _merchant_accounts(payload: Payload) -> list[dict[str, object]]:
    accounts: list[dict[str, object]] = []
    for obj in payload.objects:
        if obj.tag in _QRIS_ACQUIRER_TAGS and obj.children is not None:
            accounts.append(
                {
                    "tag": obj.tag,
                    "guid": _child_value(obj, "00"),
                    "pan": _child_value(obj, "01"),
                    "merchant_id": _child_value(obj, "02"),
                    "criteria": _child_value(obj, "03"),
                }
            )
    return accounts


def _child_value(obj: DataObject, tag: str) -> str | None:
    child = obj.find(tag)
    return None if child is None else child.value


def _tip(decoded: Decoded) -> dict[str, object] | None:
    kind = _TIP_KINDS.get(decoded.value("55") or "")
    if kind is None:
        return None
    fixed_idr: int | None = None
    fixed = decoded.value("56")
    if kind == "fixed" and fixed is not None and decoded.value("53") == CURRENCY_IDR:
        try:
            fixed_idr = parse_idr(fixed.rstrip("."))
        except MoneyError:
            fixed_idr = None
    percentage = decoded.value("57") if kind == "percentage" else None
    return {"indicator": kind, "fixed_idr": fixed_idr, "percentage": percentage}


def decode_report(payload: str) -> dict[str, object]:
    """The JSON-ready report ``retribusi qris decode`` prints: fixed key order, never raises.

    Keys: ``crc_ok``, ``valid``, ``errors``, ``warnings`` (lists of ``{code, message[, tag]}``),
    ``initiation`` (``"static"``/``"dynamic"``/``None``), ``amount`` (whole rupiah or ``None``),
    ``currency``, ``country``, ``merchant_name``, ``merchant_city``, ``postal_code``, ``mcc``,
    ``nmid``, ``merchant_accounts``, ``bill_number`` (62.01), ``reference_label`` (62.05),
    ``terminal_label`` (62.07), ``tip``, ``tags`` (the parsed tree).
    """
    decoded = decode(payload)
    initiation = decoded.initiation
    return {
        "crc_ok": decoded.crc_ok,
        "valid": decoded.valid,
        "errors": [issue.as_dict() for issue in decoded.errors],
        "warnings": [issue.as_dict() for issue in decoded.warnings],
        "initiation": None if initiation is None else str(initiation),
        "amount": decoded.amount_idr,
        "currency": decoded.value("53"),
        "country": decoded.value("58"),
        "merchant_name": decoded.value("59"),
        "merchant_city": decoded.value("60"),
        "postal_code": decoded.value("61"),
        "mcc": decoded.value("52"),
        "nmid": decoded.value("51.02"),
        "merchant_accounts": _merchant_accounts(decoded.payload),
        "bill_number": decoded.value("62.01"),
        "reference_label": decoded.value("62.05"),
        "terminal_label": decoded.value("62.07"),
        "tip": _tip(decoded),
        "tags": _tree(decoded.payload.objects),
    }
