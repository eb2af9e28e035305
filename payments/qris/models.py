"""Dynamic QRIS bill codes: what each code asked for, for whom, and until when.

A code is a fact once it has been shown to a vendor (it may be screenshotted and paid later), so
both tables are append-only (database triggers refuse UPDATE and DELETE, migration 0007). Static
stall codes are not stored: they are a pure function of the merchant identity and the stall.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retribusi.db import Base, BigId, IdPK


class QrisCode(Base):
    """One dynamic code: amount in tag 54, ``bill_label`` in 62-01, ``reference`` in 62-05."""

    __tablename__ = "qris_codes"
    __table_args__ = (
        # Bank Indonesia's per-transaction QRIS limit is Rp10.000.000 (qris.md §2.6).
        CheckConstraint("amount_idr > 0 AND amount_idr <= 10000000", name="amount_bounded"),
        CheckConstraint("expires_at > created_at", name="expires_after_created"),
        Index("ix_qris_codes_vendor_created", "vendor_id", "created_at"),
    )

    id: Mapped[IdPK]
    # Tag 62-05, unique to this code: the acquirer reports it back with the payment.
    reference: Mapped[str] = mapped_column(String(25), unique=True)
    vendor_id: Mapped[int] = mapped_column(BigId, ForeignKey("vendors.id"))
    market_id: Mapped[int] = mapped_column(BigId, ForeignKey("markets.id"))
    # The stall when every bill is for one stall (nearly always), else None.
    stall_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("stalls.id"))
    # Which QRIS_MERCHANTS entry made it ("*" or a market code) and that merchant's NMID.
    merchant_key: Mapped[str] = mapped_column(String(32))
    nmid: Mapped[str] = mapped_column(String(15))
    # Tag 62-01: the bill number, or its short form when the number is over 25 characters.
    bill_label: Mapped[str] = mapped_column(String(25))
    amount_idr: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))

    bills: Mapped[list[QrisCodeBill]] = relationship(
        back_populates="code", order_by="QrisCodeBill.position", lazy="selectin"
    )

    @property
    def bill_ids(self) -> tuple[int, ...]:
        return tuple(line.bill_id for line in self.bills)


class QrisCodeBill(Base):
    """A bill a code pays, with what was outstanding on it when the code was made."""

    __tablename__ = "qris_code_bills"
    __table_args__ = (
        CheckConstraint("outstanding_idr > 0", name="outstanding_positive"),
        CheckConstraint("position >= 0 AND position < 24", name="position_bounded"),
        Index("ix_qris_code_bills_bill_id", "bill_id"),
    )

    code_id: Mapped[int] = mapped_column(BigId, ForeignKey("qris_codes.id"), primary_key=True)
    bill_id: Mapped[int] = mapped_column(BigId, ForeignKey("bills.id"), primary_key=True)
    position: Mapped[int]  # oldest bill first, as the ledger pays them
    outstanding_idr: Mapped[int] = mapped_column(BigInteger)

    code: Mapped[QrisCode] = relationship(back_populates="bills")
