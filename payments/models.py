"""The payment ledger: one table of payments for every channel, allocations to bills, vendor
credit, reversals, receipts, and officers' cash deposits.

Every row here is a money fact and is append-only (database triggers refuse UPDATE and DELETE);
a correction is a new row. The invariants ``retribusi ledger verify`` checks:

* for every payment: Σ allocations + Σ credit entries = amount, or 0 once it is reversed;
* for every bill: Σ principal allocations ≤ principal, Σ sanction allocations ≤ the sanction cap
  (also enforced by a trigger on ``allocations``, so raw SQL cannot over-allocate either).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retribusi.db import Base, BigId, IdPK


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=16,
        create_constraint=True,
        name=name,
        values_callable=lambda members: [m.value for m in members],
    )


class Channel(StrEnum):
    VA = "va"
    QRIS = "qris"
    CASH = "cash"  # taken by a market officer
    COUNTER = "counter"  # paid at the Dinas office


class Component(StrEnum):
    PRINCIPAL = "principal"
    SANCTION = "sanction"


class CreditReason(StrEnum):
    EXCESS = "excess"  # more was paid than was owed
    APPLIED = "applied"  # credit used to pay a bill issued later
    REVERSED = "reversed"  # the payment that made the credit was reversed


class DepositStatus(StrEnum):
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    DISCREPANCY = "discrepancy"


class Payment(Base):
    """Money received, once per (channel, sender, sender's reference), with the message as sent."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("channel", "sender", "external_ref"),
        CheckConstraint("amount_idr > 0 AND amount_idr <= 1000000000000", name="amount_bounded"),
        Index("ix_payments_vendor_paid", "vendor_id", "paid_at"),
        Index("ix_payments_paid_on", "paid_on"),
    )

    id: Mapped[IdPK]
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    # Who sent it: a bank profile code, an acquirer, or "officer:<user id>" for cash.
    sender: Mapped[str] = mapped_column(String(60))
    external_ref: Mapped[str] = mapped_column(String(128))
    vendor_id: Mapped[int] = mapped_column(BigId, ForeignKey("vendors.id"))
    # Where the money was taken or is attributed (an officer's market, a static stall code's
    # market): for scope and collection reports. None when only the vendor is known.
    market_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("markets.id"))
    stall_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stalls.id"))
    # The virtual account paid into (VA channel, digits only): reconciliation's first key.
    va_number: Mapped[str | None] = mapped_column(String(32), index=True)
    amount_idr: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime]
    paid_on: Mapped[date]  # the business day (Asia/Jakarta) of paid_at
    received_at: Mapped[datetime]
    # SHA-256 of the message's meaning (channel, sender, reference, vendor, amount, time,
    # targets): the same reference with another hash is a conflict, not a replay.
    request_hash: Mapped[str] = mapped_column(String(64))
    raw: Mapped[dict[str, Any]]
    # Bills a dynamic QRIS code (or the payer) aimed at: they are paid first.
    target_bill_ids: Mapped[list[int]] = mapped_column(default=list)
    # Facts a channel noticed on arrival, e.g. {"after_expiry": true} for a late QRIS payment.
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recorded_by: Mapped[str] = mapped_column(String(120))

    allocations: Mapped[list[Allocation]] = relationship(
        back_populates="payment", order_by="Allocation.id", lazy="selectin"
    )
    receipt: Mapped[Receipt | None] = relationship(back_populates="payment", lazy="selectin")
    reversal: Mapped[PaymentReversal | None] = relationship(
        back_populates="payment", lazy="selectin"
    )


class PaymentReversal(Base):
    """A bank reversal or refund: undoes a payment's allocations and credit; actor and reason."""

    __tablename__ = "payment_reversals"

    id: Mapped[IdPK]
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("payments.id"), unique=True)
    # The bank's or the office's reference for the reversal (unique per payment: one reversal).
    reference: Mapped[str] = mapped_column(String(128))
    reversed_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(String(300))

    payment: Mapped[Payment] = relationship(back_populates="reversal")


class Allocation(Base):
    """Part of a payment applied to a bill's principal or sanction. Negative rows undo a reversed
    payment's allocations, one for one."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint(
            "(amount_idr > 0 AND reversal_id IS NULL)"
            " OR (amount_idr < 0 AND reversal_id IS NOT NULL)",
            name="sign_matches_reversal",
        ),
        Index("ix_allocations_bill_id", "bill_id"),
    )

    id: Mapped[IdPK]
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("payments.id"), index=True)
    bill_id: Mapped[int] = mapped_column(BigId, ForeignKey("bills.id"))
    component: Mapped[Component] = mapped_column(_enum(Component, "alloc_component"))
    amount_idr: Mapped[int] = mapped_column(BigInteger)
    reversal_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("payment_reversals.id"))
    # The business date the money counts as paid on (sanction stops accruing on that principal).
    paid_on: Mapped[date]
    # Paid out of the vendor's credit (a later bill), not when the payment arrived.
    from_credit: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    payment: Mapped[Payment] = relationship(back_populates="allocations")


class CreditEntry(Base):
    """Vendor credit: + when a payment exceeds what was owed, − when it pays a later bill or the
    payment is reversed. A vendor's credit balance is the sum of their entries."""

    __tablename__ = "credit_entries"
    __table_args__ = (CheckConstraint("amount_idr <> 0", name="amount_nonzero"),)

    id: Mapped[IdPK]
    vendor_id: Mapped[int] = mapped_column(BigId, ForeignKey("vendors.id"), index=True)
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("payments.id"), index=True)
    amount_idr: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[CreditReason] = mapped_column(_enum(CreditReason, "credit_reason"))
    bill_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("bills.id"))
    reversal_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("payment_reversals.id"))
    created_at: Mapped[datetime]


class Receipt(Base):
    """The SSRD (*bukti bayar*): numbered per year, its facts signed with Ed25519."""

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("year", "seq"),
        CheckConstraint("seq > 0", name="seq_positive"),
    )

    id: Mapped[IdPK]
    number: Mapped[str] = mapped_column(String(40), unique=True)
    year: Mapped[int]
    seq: Mapped[int] = mapped_column(BigInteger)
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("payments.id"), unique=True)
    issued_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    token: Mapped[str] = mapped_column(String(2048))

    payment: Mapped[Payment] = relationship(back_populates="receipt")


class ReceiptCounter(Base):
    """The last receipt number of each year (locked while a number is taken)."""

    __tablename__ = "receipt_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class Deposit(Base):
    """An officer's deposit (*setoran*) of the cash they collected, with the bank slip reference."""

    __tablename__ = "deposits"
    __table_args__ = (
        CheckConstraint("amount_idr > 0", name="amount_positive"),
        UniqueConstraint("officer_id", "slip_ref"),
    )

    id: Mapped[IdPK]
    officer_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    slip_ref: Mapped[str] = mapped_column(String(60))
    amount_idr: Mapped[int] = mapped_column(BigInteger)  # what the slip says was deposited
    deposited_on: Mapped[date]
    submitted_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(String(300))

    items: Mapped[list[DepositItem]] = relationship(back_populates="deposit", lazy="selectin")
    verification: Mapped[DepositVerification | None] = relationship(
        back_populates="deposit", lazy="selectin"
    )


class DepositItem(Base):
    """A cash payment counted in a deposit; each cash payment is deposited once."""

    __tablename__ = "deposit_items"

    deposit_id: Mapped[int] = mapped_column(BigId, ForeignKey("deposits.id"), primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("payments.id"), primary_key=True, unique=True
    )

    deposit: Mapped[Deposit] = relationship(back_populates="items")
    payment: Mapped[Payment] = relationship()


class DepositVerification(Base):
    """Finance's check of a deposit: what the bank actually credited for the slip, against the
    cash payments the deposit covers. Once per deposit (a correction is a note on a new deposit,
    never an edit)."""

    __tablename__ = "deposit_verifications"
    __table_args__ = (
        CheckConstraint("received_idr >= 0", name="received_not_negative"),
        CheckConstraint("difference_idr = received_idr - collected_idr", name="difference"),
        CheckConstraint(
            "(status = 'verified' AND difference_idr = 0)"
            " OR (status = 'discrepancy' AND difference_idr <> 0)",
            name="status_matches_difference",
        ),
    )

    id: Mapped[IdPK]
    deposit_id: Mapped[int] = mapped_column(BigId, ForeignKey("deposits.id"), unique=True)
    status: Mapped[DepositStatus] = mapped_column(_enum(DepositStatus, "deposit_status"))
    # What finance found credited for the slip (bank statement or kas receipt), whole rupiah.
    received_idr: Mapped[int] = mapped_column(BigInteger)
    # Σ the deposit's cash payments that stand (not reversed) when it is verified.
    collected_idr: Mapped[int] = mapped_column(BigInteger)
    difference_idr: Mapped[int] = mapped_column(BigInteger)  # received − collected
    verified_by: Mapped[str] = mapped_column(String(120))
    verified_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(String(300))

    deposit: Mapped[Deposit] = relationship(back_populates="verification")
