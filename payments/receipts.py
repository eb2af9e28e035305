"""Receipts (SSRD, *bukti bayar*): numbered per year, their facts signed with Ed25519.

A receipt is issued in the same transaction as its payment, so no payment exists without one.
The signed payload is compact, because it rides in the QR code's link: receipt number, amount,
time paid (WIB), channel, payer's name, the bills paid (up to :data:`MAX_BILLS_SIGNED` numbers,
and how many in all) and the credit left. Anyone holding the public key can check it offline
(``docs/receipts.md``); the public page also compares it with the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payments.models import (
    Payment,
    PaymentReversal,
    Receipt,
    ReceiptCounter,
)
from payments.signing import (
    InvalidToken,
    load_or_create_private_key,
    load_private_key,
    public_key_pem,
    sign_token,
    verify_token,
)
from retribusi import clock
from retribusi.db import AnySession
from retribusi.extensions import db

KEY_EXTENSION = "payments.receipt_key"
MAX_BILLS_SIGNED = 6  # more would make the QR code too dense for a cheap phone's camera
MAX_NAME_SIGNED = 40


def init_receipts(app: Flask) -> None:
    """Load the signing key: ``RECEIPT_SIGNING_KEY`` (PEM) or ``RECEIPT_SIGNING_KEY_PATH`` (a PEM
    file) in production; in development a key file in the instance folder, made on first run.
    The private key never enters the repository; its public half is published."""
    pem = app.config.get("RECEIPT_SIGNING_KEY")
    path = app.config.get("RECEIPT_SIGNING_KEY_PATH")
    if pem:
        key = load_private_key(pem.encode() if isinstance(pem, str) else pem)
    elif path:
        # A mounted secret file: every worker must sign with the same key, so it is never made.
        key = load_private_key(Path(path).read_bytes())
    elif app.config.get("ENV") == "production":
        raise RuntimeError(
            "RETRIBUSI_RECEIPT_SIGNING_KEY or RETRIBUSI_RECEIPT_SIGNING_KEY_PATH must be set "
            "in production"
        )
    else:
        key = load_or_create_private_key(Path(app.instance_path) / "receipt_signing_key.pem")
    app.extensions[KEY_EXTENSION] = key


def _key() -> Ed25519PrivateKey:
    key: Ed25519PrivateKey = current_app.extensions[KEY_EXTENSION]
    return key


def public_key() -> Ed25519PublicKey:
    return _key().public_key()


def public_pem() -> str:
    return public_key_pem(_key())


def _next_seq(session: AnySession, year: int) -> int:
    """Take the year's next number. The counter row stays locked until the caller commits, so
    numbers have no gaps and no repeats; it is taken last to keep the lock short."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(ReceiptCounter)
        .values(year=year, last_seq=1)
        .on_conflict_do_update(
            index_elements=[ReceiptCounter.year],
            set_={"last_seq": ReceiptCounter.last_seq + 1},
        )
        .returning(ReceiptCounter.last_seq)
    )
    return int(session.execute(statement).scalar_one())


def receipt_number(year: int, seq: int) -> str:
    return f"SSRD/{year}/{seq:07d}"


def receipt_payload(
    number: str,
    payment: Payment,
    *,
    bills: Sequence[tuple[str, int]],
    credit_idr: int,
    payer_name: str,
) -> dict[str, Any]:
    """The facts a receipt signs: number, amount, time paid (WIB), channel, payer, the bills
    paid in the order paid (up to :data:`MAX_BILLS_SIGNED` numbers, and how many in all) and
    the credit left."""
    numbers = [number_ for number_, _amount in bills]
    return {
        "n": number,
        "a": payment.amount_idr,
        "t": clock.to_wib(payment.paid_at).isoformat(timespec="seconds"),
        "c": payment.channel.value,
        "v": payer_name[:MAX_NAME_SIGNED],
        "b": numbers[:MAX_BILLS_SIGNED],
        "k": len(numbers),
        "r": credit_idr,
    }


def issue_receipt(
    session: AnySession,
    payment: Payment,
    *,
    bills: Sequence[tuple[str, int]],
    credit_idr: int,
    payer_name: str,
) -> Receipt:
    """Number, sign and store the receipt of ``payment`` inside the caller's transaction, from
    what the payment just did (``bills``: (number, rupiah) in the order paid)."""
    issued_at = clock.now()
    year = clock.business_date(issued_at).year
    seq = _next_seq(session, year)
    number = receipt_number(year, seq)
    payload = receipt_payload(
        number, payment, bills=bills, credit_idr=credit_idr, payer_name=payer_name
    )
    receipt = Receipt(
        number=number,
        year=year,
        seq=seq,
        payment_id=payment.id,
        issued_at=issued_at,
        payload=payload,
        token=sign_token(_key(), payload),
    )
    session.add(receipt)
    return receipt


@dataclass(frozen=True)
class Verdict:
    """What the public verification page says about a token."""

    valid: bool
    reason: str  # "ok", "signature", "unknown", "mismatch"
    receipt: Receipt | None = None
    payload: dict[str, Any] | None = None
    reversed: bool = False  # the payment was reversed (refunded, bounced) after the receipt


def verify_receipt(token: str) -> Verdict:
    """Check a receipt link: our signature, a receipt we hold, and the same facts."""
    try:
        payload = verify_token(public_key(), token)
    except InvalidToken:
        return Verdict(False, "signature")
    number = payload.get("n")
    receipt = (
        db.session.scalars(select(Receipt).where(Receipt.number == number)).first()
        if isinstance(number, str)
        else None
    )
    if receipt is None:
        return Verdict(False, "unknown", payload=payload)
    if receipt.payload != payload:
        return Verdict(False, "mismatch", receipt, payload)
    reversed_ = (
        db.session.scalar(
            select(PaymentReversal.id).where(PaymentReversal.payment_id == receipt.payment_id)
        )
        is not None
    )
    return Verdict(True, "ok", receipt, payload, reversed_)
