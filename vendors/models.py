"""Markets, blocks, stalls, vendors and occupancy rights (SHP, *Surat Hak Penempatan*).

The bill goes to the SHP holder (``Placement.vendor``), not to whoever is trading in the stall that
day (``Placement.occupant_name``): stalls are sublet and change hands, the levy follows the right.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    text,
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


class MarketClass(StrEnum):
    IA = "IA"
    IB = "IB"
    IIA = "IIA"
    IIB = "IIB"
    IIIA = "IIIA"
    IIIB = "IIIB"


class StallType(StrEnum):
    KIOS = "kios"  # closed, lockable; billed monthly
    LOS = "los"  # open stall under a shared roof; billed monthly
    PELATARAN = "pelataran"  # open ground (oprokan); billed per day of use


class StallStatus(StrEnum):
    ACTIVE = "active"
    VACANT = "vacant"
    DAMAGED = "damaged"
    CLOSED = "closed"


class PlacementStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    RETURNED = "returned"
    TRANSFERRED = "transferred"


class Market(Base):
    __tablename__ = "markets"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kecamatan: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime]

    classes: Mapped[list[MarketClassPeriod]] = relationship(
        back_populates="market", order_by="MarketClassPeriod.valid_from", lazy="selectin"
    )
    blocks: Mapped[list[Block]] = relationship(back_populates="market", order_by="Block.code")

    def class_on(self, day: date) -> MarketClass | None:
        """The market's class on a day (a market can move from IIB to IB)."""
        for period in reversed(self.classes):
            if period.valid_from <= day and (period.valid_to is None or day <= period.valid_to):
                return period.market_class
        return None


class MarketClassPeriod(Base):
    """A market's class from ``valid_from`` to ``valid_to`` (inclusive; open-ended when null)."""

    __tablename__ = "market_class_periods"
    __table_args__ = (
        UniqueConstraint("market_id", "valid_from"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period_ordered"),
    )

    id: Mapped[IdPK]
    market_id: Mapped[int] = mapped_column(BigId, ForeignKey("markets.id"), index=True)
    market_class: Mapped[MarketClass] = mapped_column(_enum(MarketClass, "market_class"))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    source: Mapped[str] = mapped_column(String(200))

    market: Mapped[Market] = relationship(back_populates="classes")


class Block(Base):
    """A block or floor of a market, e.g. ``A`` or ``B-LT1`` (Pasar Legi block B, ground floor)."""

    __tablename__ = "blocks"
    __table_args__ = (UniqueConstraint("market_id", "code"),)

    id: Mapped[IdPK]
    market_id: Mapped[int] = mapped_column(BigId, ForeignKey("markets.id"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(80))

    market: Mapped[Market] = relationship(back_populates="blocks")
    stalls: Mapped[list[Stall]] = relationship(back_populates="block", order_by="Stall.number")


class Stall(Base):
    """A trading place (*tempat dasaran*). ``area_m2`` may be fractional (a 1.5 × 1.5 m los)."""

    __tablename__ = "stalls"
    __table_args__ = (
        UniqueConstraint("block_id", "number"),
        CheckConstraint("area_m2 > 0 AND area_m2 <= 1000", name="area_bounded"),
        CheckConstraint(
            "tntd_idr_per_m2 IS NULL OR (tntd_idr_per_m2 > 0 AND tntd_idr_per_m2 <= 100000000)",
            name="tntd_bounded",
        ),
    )

    id: Mapped[IdPK]
    market_id: Mapped[int] = mapped_column(BigId, ForeignKey("markets.id"), index=True)
    block_id: Mapped[int] = mapped_column(BigId, ForeignKey("blocks.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    stall_type: Mapped[StallType] = mapped_column(_enum(StallType, "stall_type"))
    area_m2: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    # Taksiran Nilai Tempat Dasaran per m², where assessed; the kios/los levy is a % of it.
    tntd_idr_per_m2: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[StallStatus] = mapped_column(_enum(StallStatus, "stall_status"))
    created_at: Mapped[datetime]

    market: Mapped[Market] = relationship()
    block: Mapped[Block] = relationship(back_populates="stalls")

    @property
    def reference(self) -> str:
        """Human and machine reference, e.g. ``KLEWER-A-012`` (on QR cards and in QRIS tag 62)."""
        return f"{self.market.code}-{self.block.code}-{self.number}"


class Vendor(Base):
    """A trader (*pedagang*), identified by NIK. ``user`` is their phone-and-PIN login."""

    __tablename__ = "vendors"
    __table_args__ = (CheckConstraint("length(nik) = 16", name="nik_16_digits"),)

    id: Mapped[IdPK]
    nik: Mapped[str] = mapped_column(String(16), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    # A family member who pays for the vendor (many elderly vendors are helped by their children).
    proxy_name: Mapped[str | None] = mapped_column(String(200))
    proxy_phone: Mapped[str | None] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), unique=True)
    created_at: Mapped[datetime]

    placements: Mapped[list[Placement]] = relationship(
        back_populates="vendor", order_by="Placement.start_on"
    )


class Placement(Base):
    """An occupancy right (SHP) of a vendor to a stall: valid three years from ``start_on``.

    At most one active placement per stall, enforced by a partial unique index. Status moves only
    through ``vendors.services.transition``; every move is a ``PlacementEvent``.
    """

    __tablename__ = "placements"
    __table_args__ = (
        Index(
            "uq_placements_one_active_per_stall",
            "stall_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        CheckConstraint("expires_on > start_on", name="expiry_after_start"),
        CheckConstraint("ended_on IS NULL OR ended_on >= start_on", name="end_after_start"),
        CheckConstraint(
            "transfer_fee_idr IS NULL OR transfer_fee_idr >= 0", name="fee_not_negative"
        ),
        # An SHP in force has no end date; every ended one says when it ended.
        CheckConstraint(
            "(status = 'active' AND ended_on IS NULL)"
            " OR (status <> 'active' AND ended_on IS NOT NULL)",
            name="ended_iff_not_active",
        ),
    )

    id: Mapped[IdPK]
    number: Mapped[str] = mapped_column(String(40), unique=True)
    vendor_id: Mapped[int] = mapped_column(BigId, ForeignKey("vendors.id"), index=True)
    stall_id: Mapped[int] = mapped_column(BigId, ForeignKey("stalls.id"), index=True)
    start_on: Mapped[date]
    expires_on: Mapped[date]
    ended_on: Mapped[date | None]
    status: Mapped[PlacementStatus] = mapped_column(_enum(PlacementStatus, "placement_status"))
    # The person actually trading there, when it is not the holder (sublet, family).
    occupant_name: Mapped[str | None] = mapped_column(String(200))
    # Balik nama fee recorded on the placement created by a transfer.
    transfer_fee_idr: Mapped[int | None] = mapped_column(BigInteger)
    previous_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("placements.id"))
    created_at: Mapped[datetime]

    vendor: Mapped[Vendor] = relationship(back_populates="placements")
    stall: Mapped[Stall] = relationship()
    previous: Mapped[Placement | None] = relationship(remote_side="Placement.id")
    events: Mapped[list[PlacementEvent]] = relationship(
        back_populates="placement", order_by="PlacementEvent.id"
    )

    @property
    def liable_until(self) -> date:
        """The first day the holder no longer answers for (exclusive): the day the SHP ended,
        or its expiry while it is in force."""
        return self.ended_on if self.ended_on is not None else self.expires_on

    def covers(self, day: date) -> bool:
        """Whether the holder is liable for ``day``: ``start_on <= day < liable_until``.

        A transfer, renewal, revocation or return on day D ends the old SHP with ``ended_on = D``
        and starts any new one on D, so each day has exactly one liable holder.
        """
        return self.start_on <= day < self.liable_until


class PlacementEvent(Base):
    """The history of an SHP: issued, renewed, transferred, revoked, returned, expired.

    Append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "placement_events"

    id: Mapped[IdPK]
    placement_id: Mapped[int] = mapped_column(BigId, ForeignKey("placements.id"), index=True)
    occurred_at: Mapped[datetime]
    effective_on: Mapped[date]
    action: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(120))
    details: Mapped[dict[str, Any]]

    placement: Mapped[Placement] = relationship(back_populates="events")
