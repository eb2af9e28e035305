"""SNAP VA request parsing and response building (inquiry 24, payment 25, status 26, token 73).

Lenient on input, strict on output (snap-va.md §1.10):

* :func:`decode_json_body` turns the raw body into a dict without floats (``Decimal``), NaN,
  duplicate keys or unbounded size; anything else is ``400xx00 Bad Request``.
* ``parse_*_request`` check each field in the order of the ASPI tables and raise
  :class:`SnapMessageError` for the first bad one: absent or empty mandatory field →
  ``400xx02 Invalid Mandatory Field {field}``; present but wrong type, length or format →
  ``400xx01 Invalid Field Format {field}``. Nested fields are named with dots
  (``paidAmount.value``). Optional fields we do not use are ignored, whatever they hold.
* Amounts are ``{"value": "10000.00", "currency": "IDR"}``; the value must be a string and is
  parsed by :func:`retribusi.money.parse_idr` (``"10000.5"``, ``"-1"``, ``"1e9"`` refused);
  the currency must be ``IDR``.
* ``build_*`` return a :class:`SnapResponse` with exactly ASPI's field names, the received
  triple and request ids echoed byte for byte, amounts as ``"15000.00"``, and the
  ``inquiryStatus`` / ``paymentFlagStatus`` plus bilingual reason that BCA requires.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from payments.snap.codes import (
    REASON_SUCCESS,
    Case,
    InquiryStatus,
    PaymentFlagStatus,
    Reason,
    Service,
    SnapError,
    reason_for,
    response_code,
    response_message,
)
from payments.snap.numbering import (
    ReceivedTriple,
    VaErrorKind,
    VaNumberError,
    check_received_triple,
)
from payments.snap.signature import (
    MAX_ACCESS_TOKEN_CHARS,
    MAX_BODY_BYTES,
    SnapSecurityError,
    format_snap_timestamp,
    parse_snap_timestamp,
)
from retribusi.money import MAX_AMOUNT_IDR, MoneyError, format_idr_plain, parse_idr

#: ASPI lengths.
MAX_REQUEST_ID_CHARS: Final = 128  # inquiryRequestId, paymentRequestId
MAX_TRX_ID_CHARS: Final = 64
MAX_REFERENCE_NO_CHARS: Final = 64
MAX_JOURNAL_NUM_CHARS: Final = 6
MAX_SUB_COMPANY_CHARS: Final = 5
MAX_PAID_BILLS_CHARS: Final = 6
MAX_NAME_CHARS: Final = 255  # virtualAccountName
MAX_LANGUAGE_CHARS: Final = 8  # ISO 639-1 is 2; a region suffix is tolerated
#: ASPI allows 24 bill details (BCA: 5, pass ``max_bill_details=5`` for a BCA profile).
MAX_BILL_DETAILS: Final = 24
#: BCA shows only the first 30 characters of virtualAccountName; we choose which 30.
VA_NAME_SHOWN_CHARS: Final = 30
_BILL_NO_CHARS: Final = 18
_BILL_NAME_CHARS: Final = 20
_BILL_SHORT_NAME_CHARS: Final = 10
_BILL_DESCRIPTION_CHARS: Final = 18
#: ASPI: expiresIn "900" (15 minutes).
DEFAULT_TOKEN_EXPIRES_IN_S: Final = 900
CURRENCY: Final = "IDR"
GRANT_TYPE: Final = "client_credentials"

_PRINTABLE_ASCII_RE: Final = re.compile(r"[\x20-\x7e]+", re.ASCII)
_HEX_RE: Final = re.compile(r"[0-9A-Fa-f]+", re.ASCII)
_DIGITS_RE: Final = re.compile(r"[0-9]+", re.ASCII)
# Control characters and lone surrogates ("\ud800" is valid JSON, but no database stores it).
_UNPRINTABLE_RE: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class MessageErrorKind(StrEnum):
    """Why a request body was refused; each kind maps to one SNAP case."""

    BAD_REQUEST = "bad_request"  # 400xx00 Bad Request: not a JSON object
    MISSING_FIELD = "missing_field"  # 400xx02 Invalid Mandatory Field {field}
    INVALID_FIELD = "invalid_field"  # 400xx01 Invalid Field Format {field}


_KIND_CASE: Final = {
    MessageErrorKind.BAD_REQUEST: Case.BAD_REQUEST,
    MessageErrorKind.MISSING_FIELD: Case.INVALID_MANDATORY_FIELD,
    MessageErrorKind.INVALID_FIELD: Case.INVALID_FIELD_FORMAT,
}


class SnapMessageError(SnapError):
    """A request body that is not a valid SNAP message. ``field`` is the dotted field name."""

    def __init__(self, kind: MessageErrorKind, message: str, *, field: str | None = None) -> None:
        super().__init__(_KIND_CASE[kind], field, message)
        self.kind = kind
        self.field = field


def _missing(name: str) -> SnapMessageError:
    return SnapMessageError(MessageErrorKind.MISSING_FIELD, f"{name} is missing", field=name)


def _invalid(name: str, why: str) -> SnapMessageError:
    return SnapMessageError(MessageErrorKind.INVALID_FIELD, f"{name}: {why}", field=name)


# ------------------------------------------------------------------------------- decode JSON


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in JSON object")
    return result


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def decode_json_body(body: bytes) -> dict[str, object]:
    """Decode a request body into a JSON object, strictly.

    UTF-8 only; numbers with a fraction become ``Decimal`` (never ``float``); ``NaN``,
    ``Infinity``, duplicate keys, more than 64 KiB and non-objects are refused. Verify the
    signature over ``body`` first: this reads the bytes, it does not keep them.
    Raises :class:`SnapMessageError` (``BAD_REQUEST``).
    """
    if len(body) > MAX_BODY_BYTES:
        raise SnapMessageError(
            MessageErrorKind.BAD_REQUEST, f"body longer than {MAX_BODY_BYTES} bytes"
        )
    try:
        decoded: object = json.loads(
            body.decode("utf-8"),
            parse_float=Decimal,
            parse_constant=_no_constants,
            object_pairs_hook=_no_duplicate_keys,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, our hooks and over-long integer literals.
        raise SnapMessageError(MessageErrorKind.BAD_REQUEST, f"body is not JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise SnapMessageError(MessageErrorKind.BAD_REQUEST, "body is not a JSON object")
    return decoded


# ------------------------------------------------------------------------------ field readers


def _present(payload: dict[str, object], name: str) -> object:
    value = payload.get(name)
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _ascii_field(payload: dict[str, object], name: str, max_chars: int) -> str | None:
    """Identifiers: printable ASCII, 1..max_chars; ``None`` when absent or empty."""
    value = _present(payload, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(name, "must be a string")
    if len(value) > max_chars or not _PRINTABLE_ASCII_RE.fullmatch(value):
        raise _invalid(name, f"must be 1..{max_chars} printable ASCII characters")
    return value


def _required_ascii_field(payload: dict[str, object], name: str, max_chars: int) -> str:
    value = _ascii_field(payload, name, max_chars)
    if value is None:
        raise _missing(name)
    return value


def _text_field(payload: dict[str, object], name: str, max_chars: int) -> str | None:
    """Names: any printable Unicode (Indonesian names, en dashes, accents), 1..max_chars."""
    value = _present(payload, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(name, "must be a string")
    if len(value) > max_chars or _UNPRINTABLE_RE.search(value):
        raise _invalid(name, f"must be 1..{max_chars} printable characters")
    return value


def _short_code_field(payload: dict[str, object], name: str, max_chars: int) -> str | None:
    """Small codes some banks send as bare numbers (paymentType 1, channelCode 6011)."""
    value = _present(payload, name)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**max_chars:
        return str(value)
    return _ascii_field(payload, name, max_chars)


def _amount_field(payload: dict[str, object], name: str, *, allow_zero: bool) -> int | None:
    """``{"value": "10000.00", "currency": "IDR"}`` → 10000; ``None`` when absent."""
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(name, 'must be {"value": "…", "currency": "IDR"}')
    amount = value.get("value")
    if amount is None or amount == "":
        raise _missing(f"{name}.value")
    if not isinstance(amount, str):
        # A JSON number may have passed through a float on the way; SNAP says String.
        raise _invalid(f"{name}.value", 'must be a string such as "10000.00"')
    try:
        amount_idr = parse_idr(amount, allow_zero=allow_zero)
    except MoneyError as exc:
        raise _invalid(f"{name}.value", str(exc)) from exc
    currency = value.get("currency")
    if currency is None or currency == "":
        raise _missing(f"{name}.currency")
    if currency != CURRENCY:
        raise _invalid(f"{name}.currency", "must be IDR")
    return amount_idr


def _timestamp_field(payload: dict[str, object], name: str) -> tuple[str, datetime] | None:
    value = _present(payload, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(name, "must be an ISO-8601 string")
    try:
        return value, parse_snap_timestamp(value, field=name)
    except SnapSecurityError as exc:
        raise _invalid(name, "must be ISO-8601 with an offset") from exc


def _object_field(payload: dict[str, object], name: str) -> dict[str, object]:
    value = payload.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(name, "must be a JSON object")
    return value


def _object_list_field(
    payload: dict[str, object], name: str, max_items: int
) -> tuple[dict[str, object], ...]:
    value = payload.get(name)
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > max_items
        or not all(isinstance(item, dict) for item in value)
    ):
        raise _invalid(name, f"must be a list of at most {max_items} objects")
    return tuple(value)


def _triple(payload: dict[str, object]) -> ReceivedTriple:
    try:
        return check_received_triple(
            payload.get("partnerServiceId"),
            payload.get("customerNo"),
            payload.get("virtualAccountNo"),
        )
    except VaNumberError as exc:
        kind = (
            MessageErrorKind.MISSING_FIELD
            if exc.kind is VaErrorKind.MISSING
            else MessageErrorKind.INVALID_FIELD
        )
        raise SnapMessageError(kind, str(exc), field=exc.field) from exc


# ---------------------------------------------------------------------------------- requests


class FlagAdvise(StrEnum):
    """``flagAdvise``: ``Y`` marks a retry (advice) of an earlier flag (BCA; default N)."""

    NEW = "N"
    RETRY = "Y"


@dataclass(frozen=True)
class AccessTokenRequest:
    """Body of ``POST …/access-token/b2b``."""

    grant_type: str
    additional_info: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class InquiryRequest:
    """``POST …/transfer-va/inquiry`` (service 24). Timestamps are kept verbatim and parsed."""

    triple: ReceivedTriple
    inquiry_request_id: str
    trx_date_init: str | None = None
    trx_date_init_at: datetime | None = None
    channel_code: int | None = None
    language: str | None = None
    amount_idr: int | None = None  # open-amount VAs: what the payer typed
    additional_info: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentRequest:
    """``POST …/transfer-va/payment`` (service 25), the payment flag."""

    triple: ReceivedTriple
    payment_request_id: str  # equals the inquiryRequestId when the payment follows an inquiry
    paid_amount_idr: int
    virtual_account_name: str | None = None
    trx_id: str | None = None
    total_amount_idr: int | None = None
    cumulative_payment_amount_idr: int | None = None
    paid_bills: str | None = None
    trx_date_time: str | None = None
    trx_date_time_at: datetime | None = None
    reference_no: str | None = None
    journal_num: str | None = None
    payment_type: str | None = None
    flag_advise: FlagAdvise = FlagAdvise.NEW
    sub_company: str | None = None
    bill_details: tuple[dict[str, object], ...] = ()
    additional_info: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusRequest:
    """``POST …/transfer-va/status`` (service 26). Both ids optional: BCA looks up by
    ``paymentRequestId``, else returns the VA's latest transaction."""

    triple: ReceivedTriple
    inquiry_request_id: str | None = None
    payment_request_id: str | None = None
    additional_info: dict[str, object] = field(default_factory=dict)


def parse_access_token_request(payload: dict[str, object]) -> AccessTokenRequest:
    """Check a token request body. ``grantType`` (v1.0.2) or the older ``granttype``."""
    key = "grantType" if "grantType" in payload or "granttype" not in payload else "granttype"
    grant_type = _required_ascii_field(payload, key, 64)
    if grant_type != GRANT_TYPE:
        raise _invalid(key, f"must be {GRANT_TYPE}")
    return AccessTokenRequest(grant_type, _object_field(payload, "additionalInfo"))


def _channel_code(payload: dict[str, object]) -> int | None:
    text = _short_code_field(payload, "channelCode", 4)
    if text is not None and not _DIGITS_RE.fullmatch(text):
        raise _invalid("channelCode", "must be a number of at most 4 digits")
    return None if text is None else int(text)


def parse_inquiry_request(payload: dict[str, object]) -> InquiryRequest:
    """Check an inquiry body (from :func:`decode_json_body`). Raises :class:`SnapMessageError`."""
    triple = _triple(payload)
    request_id = _required_ascii_field(payload, "inquiryRequestId", MAX_REQUEST_ID_CHARS)
    trx_date_init = _timestamp_field(payload, "trxDateInit")
    return InquiryRequest(
        triple=triple,
        inquiry_request_id=request_id,
        trx_date_init=trx_date_init[0] if trx_date_init else None,
        trx_date_init_at=trx_date_init[1] if trx_date_init else None,
        channel_code=_channel_code(payload),
        language=_ascii_field(payload, "language", MAX_LANGUAGE_CHARS),
        amount_idr=_amount_field(payload, "amount", allow_zero=True),
        additional_info=_object_field(payload, "additionalInfo"),
    )


def _flag_advise(payload: dict[str, object]) -> FlagAdvise:
    value = _present(payload, "flagAdvise")
    if value is None:
        return FlagAdvise.NEW
    if value not in (FlagAdvise.NEW.value, FlagAdvise.RETRY.value):
        raise _invalid("flagAdvise", "must be Y or N")
    return FlagAdvise(value)


def _paid_bills(payload: dict[str, object]) -> str | None:
    value = _ascii_field(payload, "paidBills", MAX_PAID_BILLS_CHARS)
    if value is not None and not _HEX_RE.fullmatch(value):
        raise _invalid("paidBills", "must be hexadecimal")
    return value


def parse_payment_request(payload: dict[str, object]) -> PaymentRequest:
    """Check a payment-flag body. Raises :class:`SnapMessageError`.

    ``paidAmount`` is mandatory and > 0; ``totalAmount`` and ``cumulativePaymentAmount`` may
    be 0 (multi-bill flows).
    """
    triple = _triple(payload)
    name = _text_field(payload, "virtualAccountName", MAX_NAME_CHARS)
    request_id = _required_ascii_field(payload, "paymentRequestId", MAX_REQUEST_ID_CHARS)
    trx_id = _ascii_field(payload, "trxId", MAX_TRX_ID_CHARS)
    paid_amount_idr = _amount_field(payload, "paidAmount", allow_zero=False)
    if paid_amount_idr is None:
        raise _missing("paidAmount")
    cumulative_idr = _amount_field(payload, "cumulativePaymentAmount", allow_zero=True)
    paid_bills = _paid_bills(payload)
    total_idr = _amount_field(payload, "totalAmount", allow_zero=True)
    trx_date_time = _timestamp_field(payload, "trxDateTime")
    return PaymentRequest(
        triple=triple,
        payment_request_id=request_id,
        paid_amount_idr=paid_amount_idr,
        virtual_account_name=name,
        trx_id=trx_id,
        total_amount_idr=total_idr,
        cumulative_payment_amount_idr=cumulative_idr,
        paid_bills=paid_bills,
        trx_date_time=trx_date_time[0] if trx_date_time else None,
        trx_date_time_at=trx_date_time[1] if trx_date_time else None,
        reference_no=_ascii_field(payload, "referenceNo", MAX_REFERENCE_NO_CHARS),
        journal_num=_ascii_field(payload, "journalNum", MAX_JOURNAL_NUM_CHARS),
        payment_type=_short_code_field(payload, "paymentType", 1),
        flag_advise=_flag_advise(payload),
        sub_company=_ascii_field(payload, "subCompany", MAX_SUB_COMPANY_CHARS),
        bill_details=_object_list_field(payload, "billDetails", MAX_BILL_DETAILS),
        additional_info=_object_field(payload, "additionalInfo"),
    )


def parse_status_request(payload: dict[str, object]) -> StatusRequest:
    """Check an inquiry-status body. Raises :class:`SnapMessageError`."""
    triple = _triple(payload)
    return StatusRequest(
        triple=triple,
        inquiry_request_id=_ascii_field(payload, "inquiryRequestId", MAX_REQUEST_ID_CHARS),
        payment_request_id=_ascii_field(payload, "paymentRequestId", MAX_REQUEST_ID_CHARS),
        additional_info=_object_field(payload, "additionalInfo"),
    )


# --------------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class SnapResponse:
    """What the endpoint sends: HTTP status and JSON body (``responseCode`` first)."""

    http_status: int
    body: dict[str, object]

    @property
    def response_code(self) -> str:
        return str(self.body["responseCode"])

    def json_bytes(self) -> bytes:
        """Compact UTF-8 JSON, non-ASCII unescaped: the bytes to send and to store."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class BillLine:
    """One bill shown in an inquiry (``billDetails[]``). Display texts are clipped to ASPI's
    lengths; ``bill_no`` is an identifier and must fit its 18 characters."""

    bill_no: str
    amount_idr: int
    name: str = ""
    short_name: str = ""
    description: Reason | None = None
    sub_company: str | None = None

    def __post_init__(self) -> None:
        if not 0 < len(self.bill_no) <= _BILL_NO_CHARS:
            raise ValueError(f"billNo must be 1..{_BILL_NO_CHARS} characters: {self.bill_no!r}")
        _check_amount(self.amount_idr)


@dataclass(frozen=True)
class PaidBill:
    """One bill settled by a payment flag, echoed in the payment response's ``billDetails``."""

    bill_no: str
    amount_idr: int
    biller_reference_id: str  # ours, ≤ 64: the payment or allocation reference

    def __post_init__(self) -> None:
        if not 0 < len(self.biller_reference_id) <= MAX_TRX_ID_CHARS:
            raise ValueError("billerReferenceId must be 1..64 characters")
        _check_amount(self.amount_idr)


def _check_amount(amount_idr: int) -> None:
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int):
        raise TypeError("amounts are whole rupiah as int")
    if not 0 < amount_idr <= MAX_AMOUNT_IDR:
        raise ValueError(f"amount must be 1..{MAX_AMOUNT_IDR} rupiah, got {amount_idr}")


def _clip(text: str, max_chars: int) -> str:
    return text[:max_chars]


def _money(amount_idr: int) -> dict[str, str]:
    return {"value": format_idr_plain(amount_idr), "currency": CURRENCY}


def _envelope(service: Service, case: Case, detail: str | None = None) -> dict[str, object]:
    return {
        "responseCode": response_code(service, case),
        "responseMessage": response_message(case, detail),
    }


def _triple_echo(triple: ReceivedTriple) -> dict[str, object]:
    return {
        "partnerServiceId": triple.partner_service_id,
        "customerNo": triple.customer_no,
        "virtualAccountNo": triple.virtual_account_no,
    }


def _bill_detail(index: int, bill: BillLine) -> dict[str, object]:
    detail: dict[str, object] = {
        "billCode": f"{index:02d}",
        "billNo": bill.bill_no,
        "billName": _clip(bill.name, _BILL_NAME_CHARS),
        "billShortName": _clip(bill.short_name, _BILL_SHORT_NAME_CHARS),
        "billAmount": _money(bill.amount_idr),
    }
    if bill.description is not None:
        detail["billDescription"] = {
            "english": _clip(bill.description.english, _BILL_DESCRIPTION_CHARS),
            "indonesia": _clip(bill.description.indonesia, _BILL_DESCRIPTION_CHARS),
        }
    if bill.sub_company is not None:
        detail["billSubCompany"] = bill.sub_company
    return detail


def build_inquiry_response(
    request: InquiryRequest,
    *,
    virtual_account_name: str,
    bills: Sequence[BillLine],
    max_bill_details: int = MAX_BILL_DETAILS,
    sub_company: str | None = None,
    additional_info: dict[str, object] | None = None,
    allow_empty: bool = False,
) -> SnapResponse:
    """``2002400`` with ``inquiryStatus 00``, the bills and their total.

    ``allow_empty``: an open-amount VA with nothing owed is still payable (into credit), so
    it is answered with ``totalAmount 0.00`` and no bill details.

    ``totalAmount`` is the sum of ``bills`` (BCA: it must equal that sum for a non-multi-bill
    VA). A VA with nothing to pay is not answered here but with :func:`build_error_response`
    (``Case.PAID_BILL`` or ``Case.INVALID_BILL``). ``ValueError`` if there are no bills, more
    than ``max_bill_details`` (group months before calling) or the total exceeds the limit.
    ``sub_company`` is the bank's sub-company code (BCA: mandatory, registered at BCA).
    """
    if sub_company is not None and not 0 < len(sub_company) <= MAX_SUB_COMPANY_CHARS:
        raise ValueError(f"subCompany must be 1..{MAX_SUB_COMPANY_CHARS} characters")
    if not (0 if allow_empty else 1) <= len(bills) <= max_bill_details:
        raise ValueError(f"an inquiry shows 1..{max_bill_details} bills, got {len(bills)}")
    total_idr = sum(bill.amount_idr for bill in bills)
    if bills:
        _check_amount(total_idr)
    data: dict[str, object] = {
        "inquiryStatus": InquiryStatus.SUCCESS.value,
        "inquiryReason": REASON_SUCCESS.as_json(),
        **_triple_echo(request.triple),
        "virtualAccountName": _clip(virtual_account_name, VA_NAME_SHOWN_CHARS),
        "inquiryRequestId": request.inquiry_request_id,
        "totalAmount": _money(total_idr),
        **({} if sub_company is None else {"subCompany": sub_company}),
        "billDetails": [_bill_detail(i, bill) for i, bill in enumerate(bills, start=1)],
        "additionalInfo": additional_info or {},
    }
    body = _envelope(Service.VA_INQUIRY, Case.SUCCESSFUL)
    body["virtualAccountData"] = data
    return SnapResponse(Case.SUCCESSFUL.http_status, body)


def _flag_data(
    triple: ReceivedTriple,
    flag_status: PaymentFlagStatus,
    reason: Reason | None,
    virtual_account_name: str | None,
    payment_request_id: str,
) -> dict[str, object]:
    if reason is None:
        if flag_status is not PaymentFlagStatus.SUCCESS:
            raise ValueError("a rejected or timed-out flag needs a reason in both languages")
        reason = REASON_SUCCESS
    data: dict[str, object] = {
        "paymentFlagStatus": flag_status.value,
        "paymentFlagReason": reason.as_json(),
        **_triple_echo(triple),
    }
    if virtual_account_name is not None:
        data["virtualAccountName"] = virtual_account_name
    data["paymentRequestId"] = payment_request_id
    return data


def build_payment_response(
    request: PaymentRequest,
    *,
    flag_status: PaymentFlagStatus = PaymentFlagStatus.SUCCESS,
    reason: Reason | None = None,
    virtual_account_name: str | None = None,
    paid_bills: Sequence[PaidBill] = (),
    case: Case = Case.SUCCESSFUL,
) -> SnapResponse:
    """Answer a payment flag: ``2002500`` and ``paymentFlagStatus 00`` by default.

    Echoes the triple, ``paymentRequestId``, ``paidAmount``, ``totalAmount``, ``trxDateTime``
    and ``referenceNo`` as received; ``virtualAccountName`` as received, else ours (clipped to
    30). Each paid bill carries the flag's status, as BCA requires for multi-settlement.
    ``case`` lets the endpoint answer a bank's double flag with ``Case.INCONSISTENT_REQUEST``
    (``4042518``) and the first result's ``flag_status``.
    """
    name = request.virtual_account_name
    if name is None and virtual_account_name is not None:
        name = _clip(virtual_account_name, VA_NAME_SHOWN_CHARS)
    data = _flag_data(request.triple, flag_status, reason, name, request.payment_request_id)
    data["paidAmount"] = _money(request.paid_amount_idr)
    if request.total_amount_idr is not None:
        data["totalAmount"] = _money(request.total_amount_idr)
    if request.trx_date_time is not None:
        data["trxDateTime"] = request.trx_date_time
    if request.reference_no is not None:
        data["referenceNo"] = request.reference_no
    flag_reason = data["paymentFlagReason"]
    data["billDetails"] = [
        {
            "billNo": bill.bill_no,
            "billAmount": _money(bill.amount_idr),
            "billerReferenceId": bill.biller_reference_id,
            "status": flag_status.value,
            "reason": flag_reason,
        }
        for bill in paid_bills
    ]
    data["additionalInfo"] = {}
    body = _envelope(Service.VA_PAYMENT, case)
    body["virtualAccountData"] = data
    return SnapResponse(case.http_status, body)


def build_status_response(
    request: StatusRequest,
    *,
    payment_request_id: str,
    paid_amount_idr: int,
    transaction_at: datetime,
    flag_status: PaymentFlagStatus = PaymentFlagStatus.SUCCESS,
    reason: Reason | None = None,
    virtual_account_name: str | None = None,
) -> SnapResponse:
    """``2002600``: the stored flag the status request asked about, plus ``transactionDate``.

    The payment fields come from our record (the request may name only the VA). A flag we
    never received is answered with :func:`build_error_response` and
    ``Case.TRANSACTION_NOT_FOUND`` (``4042601``).
    """
    _check_amount(paid_amount_idr)
    name = (
        None if virtual_account_name is None else _clip(virtual_account_name, VA_NAME_SHOWN_CHARS)
    )
    data = _flag_data(request.triple, flag_status, reason, name, payment_request_id)
    if request.inquiry_request_id is not None:
        data["inquiryRequestId"] = request.inquiry_request_id
    data["paidAmount"] = _money(paid_amount_idr)
    data["transactionDate"] = format_snap_timestamp(transaction_at)
    data["additionalInfo"] = {}
    body = _envelope(Service.VA_STATUS, Case.SUCCESSFUL)
    body["virtualAccountData"] = data
    return SnapResponse(Case.SUCCESSFUL.http_status, body)


def build_access_token_response(
    access_token: str, *, expires_in_s: int = DEFAULT_TOKEN_EXPIRES_IN_S
) -> SnapResponse:
    """``2007300`` with ``accessToken``, ``tokenType "Bearer"`` and ``expiresIn`` as a string."""
    if not 0 < len(access_token) <= MAX_ACCESS_TOKEN_CHARS or not access_token.isascii():
        raise ValueError("access token must be 1..2048 ASCII characters")
    if not 0 < expires_in_s <= 86_400:
        raise ValueError("expires_in_s must be 1..86400")
    body = _envelope(Service.ACCESS_TOKEN_B2B, Case.SUCCESSFUL)
    body.update(
        {
            "accessToken": access_token,
            "tokenType": "Bearer",
            "expiresIn": str(expires_in_s),
            "additionalInfo": {},
        }
    )
    return SnapResponse(Case.SUCCESSFUL.http_status, body)


# ----------------------------------------------------------------------------------- errors


def _echo_string(payload: object, name: str, max_chars: int) -> str:
    """A field of a possibly invalid payload, for the echo: the string if it is a sane one,
    a bare-number customerNo as its digits, otherwise empty."""
    value = payload.get(name) if isinstance(payload, dict) else None
    if name == "customerNo" and isinstance(value, int) and not isinstance(value, bool):
        return str(value) if 0 <= value < 10**max_chars else ""
    if isinstance(value, str) and len(value) <= max_chars and not _UNPRINTABLE_RE.search(value):
        return value
    return ""


_AUTH_CASES: Final = frozenset({Case.UNAUTHORIZED, Case.INVALID_TOKEN})


def build_error_response(
    service: Service,
    case: Case,
    *,
    detail: str | None = None,
    payload: object = None,
    reason: Reason | None = None,
) -> SnapResponse:
    """Any non-success answer, e.g. ``4042412`` for an unknown VA.

    For inquiry and payment, BCA also needs ``inquiryStatus`` / ``paymentFlagStatus`` ``01``
    with a bilingual reason and the received ids echoed, so those are added from ``payload``
    (the decoded body, or ``None`` if it could not be decoded; invalid values echo as ``""``).
    Authentication failures (401) carry only ``responseCode`` and ``responseMessage``, as in
    BCA's table. ``reason`` defaults to the case's own bilingual text.
    """
    if case is Case.SUCCESSFUL:
        raise ValueError("build_error_response is for failures")
    body = _envelope(service, case, detail)
    if service in (Service.VA_INQUIRY, Service.VA_PAYMENT) and case not in _AUTH_CASES:
        reason = reason or reason_for(case, detail)
        data: dict[str, object]
        if service is Service.VA_INQUIRY:
            data = {
                "inquiryStatus": InquiryStatus.FAILED.value,
                "inquiryReason": reason.as_json(),
            }
        else:
            data = {
                "paymentFlagStatus": PaymentFlagStatus.REJECTED.value,
                "paymentFlagReason": reason.as_json(),
            }
        data["partnerServiceId"] = _echo_string(payload, "partnerServiceId", 8)
        data["customerNo"] = _echo_string(payload, "customerNo", 20)
        data["virtualAccountNo"] = _echo_string(payload, "virtualAccountNo", 28)
        id_field = "inquiryRequestId" if service is Service.VA_INQUIRY else "paymentRequestId"
        data[id_field] = _echo_string(payload, id_field, MAX_REQUEST_ID_CHARS)
        body["virtualAccountData"] = data
    return SnapResponse(case.http_status, body)


def error_response_for(
    service: Service, error: SnapError, *, payload: object = None
) -> SnapResponse:
    """:func:`build_error_response` for any typed error of this package."""
    return build_error_response(service, error.case, detail=error.detail, payload=payload)
