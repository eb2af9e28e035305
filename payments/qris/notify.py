"""QRIS payment notifications (SNAP service 52, ``qr-mpm-notify``): the business part.

The acquirer tells us a QRIS payment succeeded. Transport, signature and token checks belong to
the SNAP layer (``payments/snap``); this module takes the decoded JSON body of a request that
passed them, and:

1. reads it (:func:`parse_notification`): every field bounded and typed, a bad one refused with
   the SNAP case for it (``400xx01`` format, ``400xx02`` mandatory);
2. maps it to what was paid (:func:`apply_notification`): a **dynamic** code by its reference
   (``originalPartnerReferenceNo`` = our tag 62-05), or a **static** stall code by its label
   (``externalStoreId`` = our tag 62-07), and records the payment through the payment core
   (channel QRIS, sender = the acquirer profile's code, external reference = the acquirer's
   ``originalReferenceNo``), which makes a replay a no-op that returns the first answer.

Our contract with the acquirer (docs/qris.md, "Payment notification"):

=============================  ==============================================================
``originalReferenceNo``        M, ≤ 64: the acquirer's id of the payment (our idempotency key)
``originalPartnerReferenceNo`` dynamic code: its 62-05 reference
``externalStoreId``            static code: its 62-07 label (the stall)
``latestTransactionStatus``    M: ``"00"`` success; anything else is refused, nothing recorded
``amount``                     ``{"value": "15000.00", "currency": "IDR"}``; M for a static code
``additionalInfo.paidTime``    O: ISO 8601 with offset; else the time we first received it
=============================  ==============================================================

Refusals: unknown reference or label ``404xx01``; amount other than the dynamic code's
``404xx13``; status other than success ``404xx00``; the same ``originalReferenceNo`` again with
other content ``404xx18``. A payment after the code's expiry is money received: recorded, with
``flags.after_expiry``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from payments.ledger import PaymentIn, Recorded, find_payment, record_payment
from payments.models import Channel
from payments.qris.models import QrisCode
from payments.qris.services import current_holder, find_code, last_holder, stall_for_label
from payments.snap.codes import Case, SnapError
from retribusi import clock
from retribusi.errors import Conflict, DomainError
from retribusi.extensions import db
from retribusi.levy.billing import open_bills_for_vendor
from retribusi.levy.errors import reason_of
from retribusi.money import MoneyError, parse_idr

#: ``latestTransactionStatus`` of a successful payment (ASPI MPM: 00 Success … 07 Not found).
STATUS_SUCCESS: Final = "00"
STATUS_MEANING: Final = {
    "00": "success",
    "01": "initiated",
    "02": "paying",
    "03": "pending",
    "04": "refunded",
    "05": "canceled",
    "06": "failed",
    "07": "not found",
}
_MAX_REFERENCE_CHARS: Final = 64  # ASPI: originalReferenceNo String(64)
_MAX_STORE_ID_CHARS: Final = 64  # ASPI: externalStoreId String(64)
_MAX_AMOUNT_CHARS: Final = 19  # ASPI: value String(16,2) -> "9999999999999999.99"
_REFERENCE_RE: Final = re.compile(r"[\x21-\x7e]{1,64}")
_STATUS_RE: Final = re.compile(r"[0-9]{2}")
_AMOUNT_RE: Final = re.compile(r"[0-9]{1,16}\.[0-9]{2}")
#: The largest single QRIS payment Bank Indonesia allows (qris.md §2.6); anything above is not a
#: QRIS payment we believe.
_MAX_PAYMENT_IDR: Final = 10_000_000


# What the ledger calls a field it refuses, as the acquirer's message calls it.
_LEDGER_FIELDS: Final = {
    "paid_at": "additionalInfo.paidTime",
    "amount_idr": "amount.value",
    "external_ref": "originalReferenceNo",
    "sender": "X-PARTNER-ID",
}


def _field_of(error: DomainError) -> str:
    errors = error.details.get("errors") or [{}]
    return str(errors[0].get("field", ""))


class NotifyError(SnapError):
    """A notification refused, with the SNAP case to answer (service 52) and why."""

    def __init__(self, case: Case, detail: str | None, message: str) -> None:
        super().__init__(case, detail, message)
        self.message = message


def _format(field: str, why: str) -> NotifyError:
    return NotifyError(Case.INVALID_FIELD_FORMAT, field, f"{field}: {why}")


def _mandatory(field: str) -> NotifyError:
    return NotifyError(Case.INVALID_MANDATORY_FIELD, field, f"{field} is missing")


@dataclass(frozen=True)
class Notification:
    """A notify body, read and checked."""

    acquirer_reference: str
    partner_reference: str | None
    store_id: str | None
    status: str
    amount_idr: int | None
    paid_at: datetime | None


def _text(payload: Mapping[str, Any], name: str, max_chars: int) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _format(name, "must be a string")
    if len(value) > max_chars or not _REFERENCE_RE.fullmatch(value):
        raise _format(name, f"1-{max_chars} printable ASCII characters without spaces")
    return value


def _amount(payload: Mapping[str, Any]) -> int | None:
    raw = payload.get("amount")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _format("amount", "must be an object with value and currency")
    value, currency = raw.get("value"), raw.get("currency")
    if value is None:
        raise _mandatory("amount.value")
    if currency is None:
        raise _mandatory("amount.currency")
    if currency != "IDR":
        raise _format("amount.currency", "must be IDR")
    if (
        not isinstance(value, str)
        or len(value) > _MAX_AMOUNT_CHARS
        or not _AMOUNT_RE.fullmatch(value)
    ):
        raise _format("amount.value", "digits with 2 decimals, e.g. 15000.00")
    try:
        amount_idr = parse_idr(value, max_idr=_MAX_PAYMENT_IDR)
    except MoneyError as error:
        raise _format(
            "amount.value", f"{error.reason}: whole rupiah 1-{_MAX_PAYMENT_IDR}"
        ) from None
    return amount_idr


def _paid_at(payload: Mapping[str, Any]) -> datetime | None:
    info = payload.get("additionalInfo")
    if info is None:
        return None
    if not isinstance(info, Mapping):
        raise _format("additionalInfo", "must be an object")
    raw = info.get("paidTime")
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise _format("additionalInfo.paidTime", "ISO 8601 with offset")
    try:
        paid_at = datetime.fromisoformat(raw)
    except ValueError:
        raise _format("additionalInfo.paidTime", "ISO 8601 with offset") from None
    if paid_at.tzinfo is None:
        raise _format("additionalInfo.paidTime", "needs an offset, e.g. +07:00")
    return paid_at


def parse_notification(payload: Mapping[str, Any]) -> Notification:
    """Read a decoded notify body; :class:`NotifyError` names the first bad field."""
    if not isinstance(payload, Mapping):
        raise NotifyError(Case.BAD_REQUEST, None, "the body must be a JSON object")
    acquirer_reference = _text(payload, "originalReferenceNo", _MAX_REFERENCE_CHARS)
    if acquirer_reference is None:
        raise _mandatory("originalReferenceNo")
    status = payload.get("latestTransactionStatus")
    if status is None or status == "":
        raise _mandatory("latestTransactionStatus")
    if not isinstance(status, str) or not _STATUS_RE.fullmatch(status):
        raise _format("latestTransactionStatus", "two digits, e.g. 00")
    partner_reference = _text(payload, "originalPartnerReferenceNo", _MAX_REFERENCE_CHARS)
    store_id = _text(payload, "externalStoreId", _MAX_STORE_ID_CHARS)
    if partner_reference is None and store_id is None:
        raise _mandatory("originalPartnerReferenceNo")
    return Notification(
        acquirer_reference=acquirer_reference,
        partner_reference=partner_reference,
        store_id=store_id,
        status=status,
        amount_idr=_amount(payload),
        paid_at=_paid_at(payload),
    )


@dataclass(frozen=True)
class NotifyResult:
    """What a notification did: the payment core's answer, and what it paid."""

    recorded: Recorded
    kind: str  # "dynamic" or "static"
    code_reference: str | None
    stall_id: int | None
    flags: Mapping[str, Any]


def _target(
    notification: Notification,
) -> tuple[str, QrisCode | None, int | None, int | None]:
    """``(kind, code, stall id, vendor id)`` of what was paid, or NOT FOUND."""
    if notification.partner_reference is not None:
        code = find_code(notification.partner_reference)
        if code is None:
            raise NotifyError(
                Case.TRANSACTION_NOT_FOUND,
                None,
                f"no QRIS code {notification.partner_reference[:25]}",
            )
        return "dynamic", code, code.stall_id, code.vendor_id
    assert notification.store_id is not None, "parse_notification requires one of the two"
    stall = stall_for_label(notification.store_id)
    if stall is None:
        raise NotifyError(
            Case.TRANSACTION_NOT_FOUND, None, f"no stall {notification.store_id[:25]}"
        )
    return "static", None, stall.id, None


def apply_notification(
    sender: str,
    notification: Notification,
    *,
    raw: Mapping[str, Any],
    recorded_by: str | None = None,
) -> NotifyResult:
    """Record the payment a notification reports, once; refuse it with its SNAP case.

    ``sender`` is the acquirer profile's code (as authenticated by the SNAP layer); ``raw`` is
    the message kept with the payment (headers of note and the body).
    """
    if notification.status != STATUS_SUCCESS:
        meaning = STATUS_MEANING.get(notification.status, "unknown")
        raise NotifyError(
            Case.INVALID_TRANSACTION_STATUS,
            None,
            f"status {notification.status} ({meaning}): only a successful payment is recorded",
        )
    kind, code, stall_id, vendor_id = _target(notification)
    first = find_payment(Channel.QRIS, sender, notification.acquirer_reference)
    db.session.rollback()  # end the read; record_payment runs its own transaction
    # A retry carries a new X-TIMESTAMP and maybe no paidTime: the time it was first received
    # is the payment's time, so a retry means the same and is a replay.
    paid_at = notification.paid_at or (first.paid_at if first is not None else clock.now())
    flags: dict[str, Any] = {}
    market_id: int | None
    targets: tuple[int, ...] = ()
    if code is not None:
        amount_idr = notification.amount_idr
        if amount_idr is None:
            amount_idr = code.amount_idr
        elif amount_idr != code.amount_idr:
            raise NotifyError(
                Case.INVALID_AMOUNT,
                None,
                f"amount {amount_idr} is not the code's {code.amount_idr}",
            )
        market_id = code.market_id
        targets = code.bill_ids
        flags.update(_dynamic_flags(code, paid_at, notification))
        assert vendor_id is not None
    else:
        assert stall_id is not None
        if notification.amount_idr is None:
            raise _mandatory("amount")
        amount_idr = notification.amount_idr
        vendor, holder_flags = _stall_holder(stall_id, paid_at)
        vendor_id = vendor
        flags.update(holder_flags)
        market_id = _stall_market(stall_id)
        flags["stall_label"] = notification.store_id
    incoming = PaymentIn(
        channel=Channel.QRIS,
        sender=sender,
        external_ref=notification.acquirer_reference,
        vendor_id=vendor_id,
        amount_idr=amount_idr,
        paid_at=paid_at,
        raw=dict(raw),
        recorded_by=recorded_by or f"qris:{sender}",
        target_bill_ids=targets,
        market_id=market_id,
        stall_id=stall_id,
        flags=flags,
    )
    try:
        recorded = record_payment(incoming)
    except Conflict as error:
        if reason_of(error) == "reused":
            raise NotifyError(
                Case.INCONSISTENT_REQUEST,
                None,
                f"originalReferenceNo {notification.acquirer_reference} was used for another"
                " payment",
            ) from None
        raise
    except DomainError as error:
        # A payment the ledger refuses (e.g. a time in the future) is bad input from the bank.
        field = _LEDGER_FIELDS.get(_field_of(error), "body")
        raise NotifyError(Case.INVALID_FIELD_FORMAT, field, error.message) from None
    return NotifyResult(
        recorded=recorded,
        kind=kind,
        code_reference=None if code is None else code.reference,
        stall_id=stall_id,
        flags=flags,
    )


def _dynamic_flags(code: QrisCode, paid_at: datetime, notification: Notification) -> dict[str, Any]:
    flags: dict[str, Any] = {"qris_code": code.reference}
    if paid_at >= code.expires_at:
        # Still money received: the payer's app paid a code shown to them (a screenshot may be
        # paid hours later). Recorded and flagged, so finance can see it.
        flags["after_expiry"] = True
        flags["code_expired_at"] = code.expires_at.isoformat()
    still_open = {
        b.bill_id for b in open_bills_for_vendor(code.vendor_id, clock.business_date(paid_at))
    }
    closed = [bill_id for bill_id in code.bill_ids if bill_id not in still_open]
    if closed:
        # Paid meanwhile by another channel (or by this code, paid twice): the money goes to the
        # vendor's other bills or credit, as the ledger allocates it.
        flags["bills_already_paid"] = closed
    db.session.rollback()
    return flags


def _stall_holder(stall_id: int, paid_at: datetime) -> tuple[int, dict[str, Any]]:
    holder = current_holder(stall_id, clock.business_date(paid_at))
    if holder is not None:
        return holder.id, {}
    previous = last_holder(stall_id)
    if previous is None:
        raise NotifyError(
            Case.TRANSACTION_NOT_FOUND, None, "the stall has no holder to attribute the payment to"
        )
    # Money paid at a stall whose SHP has ended: its last holder is who paid (or owes).
    return previous.id, {"holder_ended": True}


def _stall_market(stall_id: int) -> int:
    from vendors.models import Stall

    stall = db.session.get(Stall, stall_id)
    assert stall is not None
    return stall.market_id


def success_body(result: NotifyResult | None = None) -> dict[str, Any]:
    """The answer to a recorded (or replayed) notification: ``2005200``."""
    del result  # the same answer either way; the acquirer needs no more
    return {"responseCode": "2005200", "responseMessage": "Successful"}


def amount_text(amount_idr: int) -> str:
    """SNAP amount value: whole rupiah with two decimals (``"15000.00"``)."""
    return f"{Decimal(amount_idr):.2f}"
