"""Officer cash: a market officer takes cash from a vendor and records it, exactly once.

The officer's device may double-tap, refresh, or resend after the connection dropped, so every
recording carries an idempotency key made *before* the first attempt:

* the page form gets a key when it is opened (a hidden field), signed with the application's
  secret and bound to the officer, so a key that was not issued to this officer's form is
  refused as forged;
* the API (``POST /api/v1/cash-payments``) takes an ``Idempotency-Key`` header the device makes
  (a UUID, say) and keeps with the collection until the server has answered.

The key becomes the payment's reference: ``record_payment`` with channel CASH, sender
``officer:<user id>`` and ``external_ref`` = the key, so the ledger's unique index makes a
second recording impossible. A resend of the same collection (same vendor, amount, market and
bills) returns the first answer; the same key with anything else is a conflict, shown plainly.
The time of a resend is not part of "the same": a retry minutes later is still the same cash.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from flask import Flask, current_app
from itsdangerous import BadSignature, Signer
from sqlalchemy import select

from payments.ledger import PaymentIn, Recorded, find_payment, payment_result, record_payment
from payments.models import Channel, Payment
from retribusi import clock
from retribusi.auth.access import require_market
from retribusi.auth.models import Role, User
from retribusi.config import apply_defaults
from retribusi.errors import Conflict, Forbidden
from retribusi.extensions import db
from retribusi.levy.errors import invalid, not_found, reason_of
from retribusi.money import format_idr
from vendors.models import Market, Vendor
from vendors.services import vendor_markets

DEFAULTS: Final[dict[str, Any]] = {
    # The most cash one officer may take in one payment (Rp10 juta): more is a bank transfer.
    "CASH_MAX_IDR": 10_000_000,
    # How far back a device may date a collection it kept while offline.
    "CASH_BACKDATE_MAX_S": 7 * 24 * 3600,
}
_FORM_KEY_SALT: Final = "payments.cash-form-key"
_FORM_NONCE_BYTES: Final = 16
# A device key: 16-64 characters of base64url or a UUID's hex and hyphens.
DEVICE_KEY_RE: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_KEY_CHARS: Final = 128  # the ledger's external_ref


def init_cash(app: Flask) -> None:
    apply_defaults(app, DEFAULTS)


def sender_for(officer_id: int) -> str:
    return f"officer:{officer_id}"


# --- idempotency keys ---------------------------------------------------------------------------


def _signer(officer_id: int) -> Signer:
    return Signer(
        current_app.config["SECRET_KEY"],
        salt=f"{_FORM_KEY_SALT}:{officer_id}",
        digest_method=hashlib.sha256,
    )


def new_form_key(officer_id: int) -> str:
    """A key for a cash form being opened by ``officer_id``: a random nonce and its signature."""
    nonce = secrets.token_urlsafe(_FORM_NONCE_BYTES)
    return _signer(officer_id).sign(nonce).decode("ascii")


def check_form_key(officer_id: int, key: object) -> str:
    """The form's key if this server issued it to this officer's form; refused otherwise."""
    if not isinstance(key, str) or not key.strip():
        raise invalid("idempotency_key", "required", "the form has no idempotency key")
    if len(key) > MAX_KEY_CHARS or not key.isascii() or not key.isprintable():
        raise invalid("idempotency_key", "forged", "the form's idempotency key is not ours")
    try:
        _signer(officer_id).unsign(key)
    except BadSignature:
        raise invalid(
            "idempotency_key", "forged", "the form's idempotency key is not ours"
        ) from None
    return key


def check_device_key(key: object) -> str:
    """An ``Idempotency-Key`` made on the device: present and of a bounded, plain shape."""
    if not isinstance(key, str) or not key.strip():
        raise invalid(
            "Idempotency-Key", "required", "send an Idempotency-Key header made on the device"
        )
    if not DEVICE_KEY_RE.fullmatch(key):
        raise invalid(
            "Idempotency-Key",
            "format",
            "an Idempotency-Key is 16-64 characters: letters, digits, '-' and '_' (a UUID)",
        )
    return key


# --- amounts typed by people ------------------------------------------------------------------

# "15000", "15.000", "Rp 15.000", "Rp15.000,00": how an amount is written in Indonesia.
_TYPED_RE: Final = re.compile(r"(?:rp\.?\s*)?([0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)(,[0-9]+)?")


def parse_typed_amount(text: object) -> int:
    """An amount an officer typed, in whole rupiah. Dots group thousands (Indonesian notation);
    a comma starts a fraction, refused unless it is zero. Never rounds."""
    if not isinstance(text, str) or not text.strip():
        raise invalid("amount_idr", "required", "type the amount received")
    cleaned = text.strip().lower().replace(" ", "")
    match = _TYPED_RE.fullmatch(cleaned) if len(cleaned) <= 24 else None
    if match is None:
        raise invalid("amount_idr", "format", "write the amount as 15000 or 15.000")
    whole, fraction = match.group(1), match.group(2)
    if fraction and set(fraction[1:]) != {"0"}:
        raise invalid("amount_idr", "fraction", "rupiah are whole: no cents")
    return int(whole.replace(".", ""))


# --- recording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CashIn:
    """A cash collection as the officer's form or device sent it (already parsed)."""

    officer: User
    vendor_id: int
    market_code: str
    amount_idr: int
    key: str
    raw: Mapping[str, Any]
    bill_ids: tuple[int, ...] = ()
    paid_at: datetime | None = None  # when the device took the cash; now if not given
    source: str = "form"
    extra: Mapping[str, Any] = field(default_factory=dict)


def _check_amount(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise invalid("amount_idr", "type", "an amount is a whole number of rupiah")
    if amount <= 0:
        raise invalid("amount_idr", "not_positive", "an amount must be more than zero")
    limit = min(int(current_app.config["CASH_MAX_IDR"]), int(current_app.config["PAYMENT_MAX_IDR"]))
    if amount > limit:
        raise invalid(
            "amount_idr", "too_large", f"cash above {format_idr(limit)} is paid at the bank"
        )
    return amount


def _check_paid_at(paid_at: datetime | None) -> datetime:
    now = clock.now()
    if paid_at is None:
        return now
    if paid_at.tzinfo is None:
        raise invalid("paid_at", "naive", "the payment time needs a time zone")
    oldest = now - timedelta(seconds=int(current_app.config["CASH_BACKDATE_MAX_S"]))
    if paid_at < oldest:
        raise invalid("paid_at", "too_old", "a collection that old is recorded by finance")
    return paid_at  # a future time is refused by the ledger


def _market(cash: CashIn) -> Market:
    if cash.officer.role is not Role.OFFICER:
        raise Forbidden("only market officers take cash")
    code = cash.market_code.strip().upper()[:32] if isinstance(cash.market_code, str) else ""
    market = db.session.scalar(select(Market).where(Market.code == code)) if code else None
    if market is None:
        raise not_found("market", f"no market {code or '(none)'}")
    # Before anything is looked up about the vendor: an officer acts only in their markets.
    require_market(cash.officer, market.code)
    return market


def _vendor(cash: CashIn, market: Market) -> Vendor:
    vendor = db.session.get(Vendor, cash.vendor_id) if isinstance(cash.vendor_id, int) else None
    if vendor is None:
        raise not_found("vendor_id", f"no vendor {cash.vendor_id}")
    if market.code not in vendor_markets(vendor.id):
        raise invalid(
            "market", "not_vendors_market", f"{vendor.full_name} has no stall in {market.name}"
        )
    return vendor


def _same_collection(payment: Payment, cash: CashIn, market: Market) -> bool:
    return (
        payment.vendor_id == cash.vendor_id
        and payment.amount_idr == cash.amount_idr
        and payment.market_id == market.id
        and sorted(payment.target_bill_ids or []) == sorted(cash.bill_ids)
    )


def _replay_or_conflict(payment: Payment, cash: CashIn, market: Market) -> Recorded:
    if _same_collection(payment, cash, market):
        return payment_result(payment.id)
    receipt = payment.receipt.number if payment.receipt else ""
    vendor = db.session.get(Vendor, payment.vendor_id)
    message = (
        f"this key already recorded {format_idr(payment.amount_idr)} from "
        f"{vendor.full_name if vendor else payment.vendor_id} (receipt {receipt}); "
        "nothing new was recorded"
    )
    raise Conflict(
        message,
        details={
            "errors": [{"field": "idempotency_key", "reason": "reused", "message": message}],
            "payment_id": payment.id,
            "receipt_number": receipt,
            "amount_idr": payment.amount_idr,
        },
    )


def record_cash(cash: CashIn) -> Recorded:
    """Record an officer's cash collection once, allocate it and receipt it.

    Refused, with nothing written: an account that is not an officer, a market not theirs, a
    vendor without a stall there, a bad amount, a key reused for another collection."""
    market = _market(cash)
    vendor = _vendor(cash, market)
    amount = _check_amount(cash.amount_idr)
    paid_at = _check_paid_at(cash.paid_at)
    sender = sender_for(cash.officer.id)
    existing = find_payment(Channel.CASH, sender, cash.key)
    if existing is not None:
        return _replay_or_conflict(existing, cash, market)
    incoming = PaymentIn(
        channel=Channel.CASH,
        sender=sender,
        external_ref=cash.key,
        vendor_id=vendor.id,
        amount_idr=amount,
        paid_at=paid_at,
        raw={"source": cash.source, **cash.raw},
        recorded_by=f"user:{cash.officer.id}",
        target_bill_ids=tuple(cash.bill_ids),
        market_id=market.id,
    )
    try:
        return record_payment(incoming)
    except Conflict as error:
        # A concurrent resend won the key first (its time differs by milliseconds, so the
        # ledger calls it a conflict): the same collection is a replay, anything else is not.
        if reason_of(error) != "reused":
            raise
        db.session.rollback()
        existing = find_payment(Channel.CASH, sender, cash.key)
        if existing is None:  # pragma: no cover - the ledger found it a moment ago
            raise
        return _replay_or_conflict(existing, cash, market)
