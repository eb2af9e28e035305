"""SNAP BI response codes, status values and bilingual reasons for the VA biller.

A SNAP ``responseCode`` is seven characters: HTTP status (3) + service code (2) + case code (2),
e.g. ``"2002400"`` (inquiry OK) or ``"4042512"`` (payment to an unknown VA). The same failure has a
different code per service, so codes are only ever built from a :class:`Service` and a
:class:`Case`, never written as literals (snap-va.md §1.9, pitfall 10).

``responseMessage`` is the English ASPI wording (banks such as BCA match it literally, e.g.
``"Unauthorized. [Signature]"``); the Indonesian text is ours and feeds the bilingual
``inquiryReason`` / ``paymentFlagReason`` objects that the bank shows to the payer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final

#: ASPI: responseMessage is String(150).
RESPONSE_MESSAGE_MAX_CHARS: Final = 150
#: ASPI/BCA: inquiryReason.english / .indonesia are String(64). paymentFlagReason allows 200,
#: but one limit for both keeps every reason we build valid in either place.
REASON_MAX_CHARS: Final = 64


class Service(StrEnum):
    """SNAP service codes of the endpoints we serve (ASPI catalogue, snap-va.md §1.1).

    A bank profile may override these (Paylabs numbers its VA services differently); pass the
    profile's value where it differs.
    """

    ACCESS_TOKEN_B2B = "73"  # noqa: S105 - a service code, not a secret
    VA_INQUIRY = "24"
    VA_PAYMENT = "25"
    VA_STATUS = "26"
    QR_MPM_NOTIFY = "52"


class Slot(StrEnum):
    """What a case's message carries after its fixed text."""

    NONE = "none"
    FIELD = "field"  # "Invalid Field Format {partnerServiceId}"
    REASON = "reason"  # "Unauthorized. [Signature]"


class Case(Enum):
    """HTTP status + case code of the ASPI table, with English (ASPI) and Indonesian text.

    Only the rows a VA/QR biller can emit are listed; the card, OTP and merchant rows
    (403 07-17, 403 19-23) and the customer-token rows (401 02-04) are left out on purpose.
    """

    http_status: int
    case_code: str
    message_en: str
    message_id: str
    slot: Slot

    SUCCESSFUL = (200, "00", "Successful", "Berhasil", Slot.NONE)
    IN_PROGRESS = (202, "00", "Request In Progress", "Permintaan sedang diproses", Slot.NONE)
    BAD_REQUEST = (400, "00", "Bad Request", "Permintaan tidak valid", Slot.NONE)
    INVALID_FIELD_FORMAT = (
        400,
        "01",
        "Invalid Field Format",
        "Format isian tidak valid",
        Slot.FIELD,
    )
    INVALID_MANDATORY_FIELD = (
        400,
        "02",
        "Invalid Mandatory Field",
        "Isian wajib tidak ada atau tidak valid",
        Slot.FIELD,
    )
    UNAUTHORIZED = (401, "00", "Unauthorized.", "Tidak berwenang.", Slot.REASON)
    INVALID_TOKEN = (401, "01", "Invalid Token (B2B)", "Token tidak valid (B2B)", Slot.NONE)
    TRANSACTION_EXPIRED = (403, "00", "Transaction Expired", "Transaksi kedaluwarsa", Slot.NONE)
    FEATURE_NOT_ALLOWED = (
        403,
        "01",
        "Feature Not Allowed",
        "Fitur tidak diizinkan",
        Slot.REASON,
    )
    EXCEEDS_AMOUNT_LIMIT = (
        403,
        "02",
        "Exceeds Transaction Amount Limit",
        "Melebihi batas nominal transaksi",
        Slot.NONE,
    )
    SUSPECTED_FRAUD = (403, "03", "Suspected Fraud", "Diduga penipuan", Slot.NONE)
    ACTIVITY_COUNT_LIMIT = (
        403,
        "04",
        "Activity Count Limit Exceeded",
        "Melebihi batas jumlah aktivitas",
        Slot.NONE,
    )
    DO_NOT_HONOR = (403, "05", "Do Not Honor", "Transaksi ditolak", Slot.NONE)
    FEATURE_NOT_ALLOWED_NOW = (
        403,
        "06",
        "Feature Not Allowed At This Time.",
        "Fitur tidak diizinkan saat ini.",
        Slot.REASON,
    )
    INACTIVE_ACCOUNT = (
        403,
        "18",
        "Inactive Card/Account/Customer",
        "Kartu/rekening/pelanggan tidak aktif",
        Slot.NONE,
    )
    INVALID_TRANSACTION_STATUS = (
        404,
        "00",
        "Invalid Transaction Status",
        "Status transaksi tidak valid",
        Slot.NONE,
    )
    TRANSACTION_NOT_FOUND = (
        404,
        "01",
        "Transaction Not Found",
        "Transaksi tidak ditemukan",
        Slot.NONE,
    )
    INVALID_ACCOUNT = (
        404,
        "11",
        "Invalid Card/Account/Customer/Virtual Account",
        "Kartu/rekening/pelanggan/virtual account tidak valid",
        Slot.NONE,
    )
    INVALID_BILL = (
        404,
        "12",
        "Invalid Bill/Virtual Account",
        "Tagihan/virtual account tidak valid",
        Slot.REASON,
    )
    INVALID_AMOUNT = (404, "13", "Invalid Amount", "Jumlah tidak sesuai", Slot.NONE)
    PAID_BILL = (404, "14", "Paid Bill", "Tagihan sudah dibayar", Slot.NONE)
    INCONSISTENT_REQUEST = (
        404,
        "18",
        "Inconsistent Request",
        "Permintaan tidak konsisten",
        Slot.NONE,
    )
    BILL_EXPIRED = (
        404,
        "19",
        "Invalid Bill/Virtual Account [Expired]",
        "Tagihan/virtual account kedaluwarsa",
        Slot.NONE,
    )
    FUNCTION_NOT_SUPPORTED = (
        405,
        "00",
        "Requested Function Is Not Supported",
        "Fungsi tidak didukung",
        Slot.NONE,
    )
    OPERATION_NOT_ALLOWED = (
        405,
        "01",
        "Requested Operation Is Not Allowed",
        "Operasi tidak diizinkan",
        Slot.NONE,
    )
    CONFLICT = (
        409,
        "00",
        "Conflict",
        "X-EXTERNAL-ID sudah dipakai hari ini",
        Slot.NONE,
    )
    DUPLICATE_PARTNER_REFERENCE = (
        409,
        "01",
        "Duplicate partnerReferenceNo",
        "partnerReferenceNo ganda",
        Slot.NONE,
    )
    TOO_MANY_REQUESTS = (429, "00", "Too Many Requests", "Terlalu banyak permintaan", Slot.NONE)
    GENERAL_ERROR = (500, "00", "General Error", "Kesalahan umum", Slot.NONE)
    INTERNAL_SERVER_ERROR = (
        500,
        "01",
        "Internal Server Error",
        "Kesalahan internal server, silakan ulangi",
        Slot.NONE,
    )
    EXTERNAL_SERVER_ERROR = (
        500,
        "02",
        "External Server Error",
        "Kesalahan server eksternal",
        Slot.NONE,
    )
    TIMEOUT = (504, "00", "Timeout", "Waktu habis", Slot.NONE)

    def __init__(
        self, http_status: int, case_code: str, message_en: str, message_id: str, slot: Slot
    ) -> None:
        self.http_status = http_status
        self.case_code = case_code
        self.message_en = message_en
        self.message_id = message_id
        self.slot = slot


class InquiryStatus(StrEnum):
    """``virtualAccountData.inquiryStatus`` (BCA: mandatory; an empty value is rejected)."""

    SUCCESS = "00"  # bill returned
    FAILED = "01"  # inquiryReason mandatory


class PaymentFlagStatus(StrEnum):
    """``virtualAccountData.paymentFlagStatus`` (BCA; any other value is treated as ``01``)."""

    SUCCESS = "00"
    REJECTED = "01"  # rejected by the biller; paymentFlagReason mandatory in both languages
    TIMEOUT = "02"  # switcher-to-biller timeout; settles as success under reversal/force-settle


@dataclass(frozen=True)
class Reason:
    """A bilingual reason object: ``{"english": ..., "indonesia": ...}``."""

    english: str
    indonesia: str

    def as_json(self) -> dict[str, str]:
        return {"english": self.english, "indonesia": self.indonesia}


#: Reason for a successful inquiry or flag.
REASON_SUCCESS: Final = Reason("Success", "Sukses")

#: Human-readable meaning of each status value, for logs, docs and the bank simulator.
INQUIRY_STATUS_MEANING: Final[dict[InquiryStatus, Reason]] = {
    InquiryStatus.SUCCESS: Reason("Success, bill returned", "Sukses, tagihan ditampilkan"),
    InquiryStatus.FAILED: Reason("Failed, see inquiryReason", "Gagal, lihat inquiryReason"),
}
PAYMENT_FLAG_STATUS_MEANING: Final[dict[PaymentFlagStatus, Reason]] = {
    PaymentFlagStatus.SUCCESS: Reason("Success", "Sukses"),
    PaymentFlagStatus.REJECTED: Reason("Rejected by biller", "Ditolak oleh biller"),
    PaymentFlagStatus.TIMEOUT: Reason("Timeout", "Waktu habis"),
}


class UnknownResponseCode(ValueError):
    """A string that is not a responseCode of our table."""


def response_code(service: Service, case: Case) -> str:
    """``(VA_INQUIRY, SUCCESSFUL)`` → ``"2002400"``."""
    return f"{case.http_status}{service.value}{case.case_code}"


def http_status(case: Case) -> int:
    """The HTTP status to answer with: the first three digits of the responseCode."""
    return case.http_status


_BY_STATUS_AND_CODE: Final = {(c.http_status, c.case_code): c for c in Case}


def decode_response_code(code: str) -> tuple[Service, Case]:
    """``"4042512"`` → ``(Service.VA_PAYMENT, Case.INVALID_BILL)``; for the bank simulator."""
    if len(code) != 7 or not code.isascii() or not code.isdigit():
        raise UnknownResponseCode(f"not a 7-digit responseCode: {code[:16]!r}")
    try:
        service = Service(code[3:5])
        case = _BY_STATUS_AND_CODE[(int(code[:3]), code[5:])]
    except (ValueError, KeyError) as exc:
        raise UnknownResponseCode(f"responseCode not in our table: {code!r}") from exc
    return service, case


def _with_detail(text: str, slot: Slot, detail: str | None) -> str:
    if not detail or slot is Slot.NONE:
        return text
    # ASPI writes the field slot as "{field name}" and the reason slot as "[reason]".
    return f"{text} {{{detail}}}" if slot is Slot.FIELD else f"{text} [{detail}]"


def _clip(text: str, max_chars: int) -> str:
    # Plain truncation keeps the message ASCII when its parts are; banks log it as is.
    return text[:max_chars]


def response_message(case: Case, detail: str | None = None) -> str:
    """The English ``responseMessage``, e.g. ``"Invalid Mandatory Field {paidAmount}"``.

    ``detail`` fills the field or reason slot; it is ignored for cases without one and the
    result is clipped to 150 characters.
    """
    return _clip(_with_detail(case.message_en, case.slot, detail), RESPONSE_MESSAGE_MAX_CHARS)


def reason_for(case: Case, detail: str | None = None, detail_id: str | None = None) -> Reason:
    """Default bilingual reason for a case (each side ≤ 64 characters).

    ``detail`` fills the slot in English and, unless ``detail_id`` is given, in Indonesian too
    (field names and header names read the same in both).
    """
    if case is Case.SUCCESSFUL:
        return REASON_SUCCESS
    english = _with_detail(case.message_en, case.slot, detail)
    indonesia = _with_detail(case.message_id, case.slot, detail_id or detail)
    return Reason(_clip(english, REASON_MAX_CHARS), _clip(indonesia, REASON_MAX_CHARS))


class SnapError(Exception):
    """Base of every typed error this package raises for untrusted input.

    It carries the SNAP case and the slot detail, so one handler can answer any of them:
    ``err.response_code(service)``, ``err.http_status``, ``err.response_message``,
    ``err.reason``.
    """

    def __init__(self, case: Case, detail: str | None, message: str) -> None:
        super().__init__(message)
        self.case = case
        self.detail = detail

    @property
    def http_status(self) -> int:
        return self.case.http_status

    @property
    def response_message(self) -> str:
        return response_message(self.case, self.detail)

    @property
    def reason(self) -> Reason:
        return reason_for(self.case, self.detail)

    def response_code(self, service: Service) -> str:
        return response_code(service, self.case)
