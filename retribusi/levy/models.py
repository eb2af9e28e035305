"""Tariffs, bills (SKRD and daily karcis), sanction letters (STRD, Surat Teguran), reliefs, outages.

Money is whole rupiah in ``*_idr`` BIGINT columns; rates are ``Numeric``. A bill line keeps what
it was priced with (quantity, rate, legal basis), and a bill keeps the rules it was issued under
(month length, rounding, sanction regime), so an old bill is read as it was issued.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retribusi.db import Base, BigId, IdPK
from retribusi.levy.rules import Component, RoundingRule, SanctionTerms, TariffBasis
from vendors.models import Block, Market, MarketClass, Placement, Stall, StallType, Vendor


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=16,
        create_constraint=True,
        name=name,
        values_callable=lambda members: [m.value for m in members],
    )


class BillKind(StrEnum):
    MONTHLY = "monthly"  # SKRD for a kios or los month
    DAILY = "daily"  # karcis for a day of use of a pelataran


class BillStatus(StrEnum):
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOIDED = "voided"


OPEN_STATUSES = (BillStatus.ISSUED, BillStatus.PARTIALLY_PAID)


class ReliefKind(StrEnum):
    EXEMPTION = "exemption"  # pembebasan: no principal for the days, no sanction accrues
    REDUCTION = "reduction"  # pengurangan: principal for the days reduced by a percentage
    DEFERRAL = "deferral"  # penundaan: no sanction accrues over the days


class NoticeKind(StrEnum):
    STRD = "strd"  # Surat Tagihan Retribusi Daerah
    SP1 = "sp1"  # Surat Teguran 1
    SP2 = "sp2"
    SP3 = "sp3"


class TariffVersion(Base):
    """One component's rate for a scope from ``valid_from``, with its legal basis.

    Scope: a market (``market_id``), a market class (``market_class``) or the whole city (both
    null), and a stall type. A version runs until the next version of the same scope starts, or to
    ``valid_to``. Versions are never edited: a change is a new version. A version that never billed
    anything may be withdrawn (``withdrawn_at``), with a reason.
    """

    __tablename__ = "tariff_versions"
    __table_args__ = (
        CheckConstraint("rate > 0", name="rate_positive"),
        CheckConstraint("basis <> 'tntd_pct_day' OR rate <= 100", name="pct_at_most_100"),
        CheckConstraint("rate <= 100000000", name="rate_bounded"),
        CheckConstraint(
            "default_tntd_idr_per_m2 IS NULL OR (basis = 'tntd_pct_day' AND "
            "default_tntd_idr_per_m2 > 0 AND default_tntd_idr_per_m2 <= 100000000)",
            name="default_tntd_bounded",
        ),
        CheckConstraint("market_id IS NULL OR market_class IS NULL", name="one_scope"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="range_ordered"),
        Index("ix_tariff_versions_scope", "stall_type", "component", "valid_from"),
    )

    id: Mapped[IdPK]
    market_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("markets.id"))
    market_class: Mapped[MarketClass | None] = mapped_column(_enum(MarketClass, "market_class"))
    stall_type: Mapped[StallType] = mapped_column(_enum(StallType, "stall_type"))
    component: Mapped[Component] = mapped_column(_enum(Component, "component"))
    basis: Mapped[TariffBasis] = mapped_column(_enum(TariffBasis, "basis"))
    rate: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    default_tntd_idr_per_m2: Mapped[int | None] = mapped_column(BigInteger)
    legal_basis: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(String(300))

    market: Mapped[Market | None] = relationship()

    @property
    def scope_label(self) -> str:
        if self.market is not None:
            return self.market.code
        return self.market_class.value if self.market_class else "*"


class BillingPeriodClosure(Base):
    """A month closed for billing: the billing run refuses it from then on. Append-only."""

    __tablename__ = "billing_period_closures"

    id: Mapped[IdPK]
    period: Mapped[str] = mapped_column(String(7), unique=True)
    closed_at: Mapped[datetime]
    closed_by: Mapped[str] = mapped_column(String(120))


class BillingRun(Base):
    """One committed billing run and what it wrote. Append-only."""

    __tablename__ = "billing_runs"
    __table_args__ = (
        CheckConstraint("bills_count >= 0 AND lines_count >= 0", name="counts_not_negative"),
        CheckConstraint("principal_idr >= 0", name="principal_not_negative"),
    )

    id: Mapped[IdPK]
    period: Mapped[str] = mapped_column(String(7), index=True)
    market_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("markets.id"))
    started_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    bills_count: Mapped[int] = mapped_column(Integer)
    lines_count: Mapped[int] = mapped_column(Integer)
    principal_idr: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))


class Bill(Base):
    """An SKRD (a kios or los month) or a karcis (a pelataran day): one per placement and period.

    ``principal_idr`` is the sum of the lines. Nothing paid is stored here: amounts paid are derived
    from the payment ledger's allocations, and ``status`` follows them through
    ``retribusi.levy.billing.sync_bill_status``. The sanction regime is stored, never looked up.
    """

    __tablename__ = "bills"
    __table_args__ = (
        # One live bill per placement and period; a voided bill may be reissued.
        Index(
            "uq_bills_one_live_per_placement_period",
            "placement_id",
            "kind",
            "period_start",
            unique=True,
            postgresql_where=text("status <> 'voided'"),
            sqlite_where=text("status <> 'voided'"),
        ),
        Index("ix_bills_vendor_status", "vendor_id", "status"),
        Index("ix_bills_market_status_due", "market_id", "status", "due_on"),
        Index("ix_bills_period_market", "period", "market_id"),
        CheckConstraint(
            "principal_idr > 0 AND principal_idr <= 1000000000000", name="principal_bounded"
        ),
        CheckConstraint("number_seq > 0", name="seq_positive"),
        CheckConstraint(
            "period_start <= service_from AND service_from <= service_to "
            "AND service_to <= period_end",
            name="service_in_period",
        ),
        CheckConstraint(
            "sanction_rate_pct_per_month >= 0 AND sanction_rate_pct_per_month <= 10",
            name="sanction_rate_bounded",
        ),
        CheckConstraint(
            "sanction_cap_months >= 0 AND sanction_cap_months <= 120", name="sanction_cap_bounded"
        ),
        CheckConstraint(
            "(status = 'voided' AND voided_at IS NOT NULL AND void_reason IS NOT NULL) OR "
            "(status <> 'voided' AND voided_at IS NULL AND void_reason IS NULL)",
            name="voided_with_reason",
        ),
    )

    id: Mapped[IdPK]
    number: Mapped[str] = mapped_column(String(60), unique=True)
    number_seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[BillKind] = mapped_column(_enum(BillKind, "bill_kind"))
    period: Mapped[str] = mapped_column(String(7))
    period_start: Mapped[date]
    period_end: Mapped[date]
    service_from: Mapped[date]
    service_to: Mapped[date]
    placement_id: Mapped[int] = mapped_column(BigId, ForeignKey("placements.id"))
    # The placement's holder, stall, market and block when the bill was issued: a snapshot for
    # arrears and scope. The placement's foreign key anchors the bill; these carry none, because
    # five more checks per row cost 3 s per 100 000 bills on PostgreSQL (bench/bench_billing.py).
    vendor_id: Mapped[int] = mapped_column(BigId)
    stall_id: Mapped[int] = mapped_column(BigId)
    market_id: Mapped[int] = mapped_column(BigId)
    block_id: Mapped[int] = mapped_column(BigId)
    stall_type: Mapped[StallType] = mapped_column(_enum(StallType, "stall_type"))
    area_m2: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    principal_idr: Mapped[int] = mapped_column(BigInteger)
    issued_on: Mapped[date]
    due_on: Mapped[date]
    issued_at: Mapped[datetime]
    issued_by: Mapped[str] = mapped_column(String(120))
    run_id: Mapped[int | None] = mapped_column(BigId)  # billing_runs.id (same transaction)
    status: Mapped[BillStatus] = mapped_column(_enum(BillStatus, "bill_status"))
    month_days_rule: Mapped[str] = mapped_column(String(8))
    rounding_rule: Mapped[str] = mapped_column(String(12))
    sanction_rate_pct_per_month: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    sanction_cap_months: Mapped[int] = mapped_column(Integer)
    sanction_part_month_counts: Mapped[bool] = mapped_column(Boolean)
    illustrative: Mapped[bool] = mapped_column(Boolean)
    voided_at: Mapped[datetime | None]
    voided_by: Mapped[str | None] = mapped_column(String(120))
    void_reason: Mapped[str | None] = mapped_column(String(300))
    replaces_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("bills.id"))

    lines: Mapped[list[BillLine]] = relationship(
        back_populates="bill", order_by="BillLine.position"
    )
    placement: Mapped[Placement] = relationship()
    vendor: Mapped[Vendor] = relationship(
        primaryjoin="foreign(Bill.vendor_id) == Vendor.id", viewonly=True
    )
    stall: Mapped[Stall] = relationship(
        primaryjoin="foreign(Bill.stall_id) == Stall.id", viewonly=True
    )
    market: Mapped[Market] = relationship(
        primaryjoin="foreign(Bill.market_id) == Market.id", viewonly=True
    )
    block: Mapped[Block] = relationship(
        primaryjoin="foreign(Bill.block_id) == Block.id", viewonly=True
    )

    @property
    def sanction_terms(self) -> SanctionTerms:
        return SanctionTerms(
            principal_idr=self.principal_idr,
            due_on=self.due_on,
            rate_pct_per_month=self.sanction_rate_pct_per_month,
            cap_months=self.sanction_cap_months,
            part_month_counts=self.sanction_part_month_counts,
            rounding=RoundingRule(self.rounding_rule),
        )


class BillLine(Base):
    """One component over some days: quantity x rate, with the legal basis. Append-only; keyed by
    ``(bill_id, position)``.

    ``billable_days`` and ``quantity`` are shown to 4 places; the amount was computed from the
    exact values (``days_covered``, ``month_length``, ``area_m2``, ``rate_idr``, ``relief_pct``).
    """

    __tablename__ = "bill_lines"
    __table_args__ = (
        CheckConstraint("amount_idr >= 0 AND amount_idr <= 1000000000000", name="amount_bounded"),
        CheckConstraint("days_covered > 0", name="days_positive"),
        CheckConstraint("rate_idr > 0", name="rate_positive"),
        CheckConstraint("relief_pct >= 0 AND relief_pct <= 100", name="relief_pct_bounded"),
        CheckConstraint("service_from <= service_to", name="service_ordered"),
    )

    # A line is its bill's n-th: no surrogate id, one index fewer to keep per line written.
    bill_id: Mapped[int] = mapped_column(BigId, ForeignKey("bills.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    component: Mapped[Component] = mapped_column(_enum(Component, "component"))
    # No foreign key (one check per line costs 0.5 s per 100 000 bills): tariff versions are
    # never deleted nor edited, which the database enforces with triggers (migration 0003).
    tariff_id: Mapped[int] = mapped_column(BigId)
    basis: Mapped[TariffBasis] = mapped_column(_enum(TariffBasis, "basis"))
    service_from: Mapped[date]
    service_to: Mapped[date]
    days_covered: Mapped[int] = mapped_column(Integer)
    month_length: Mapped[int | None] = mapped_column(Integer)
    billable_days: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    area_m2: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    unit: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(Numeric(16, 4))
    rate_idr: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    tntd_idr_per_m2: Mapped[int | None] = mapped_column(BigInteger)
    relief_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("reliefs.id"))
    relief_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    amount_idr: Mapped[int] = mapped_column(BigInteger)
    legal_basis: Mapped[str] = mapped_column(String(300))

    bill: Mapped[Bill] = relationship(back_populates="lines")


class Relief(Base):
    """A relief decision (Pasal 99-102) by decision letter, over a scope and a span of days.

    Scope: any of market, block, vendor (all null = the whole city). ``valid_from..valid_to``
    (inclusive) are the service days whose principal it reduces or exempts, and the days on which
    sanctions stop accruing (exemption, deferral).
    """

    __tablename__ = "reliefs"
    __table_args__ = (
        CheckConstraint("valid_to >= valid_from", name="range_ordered"),
        CheckConstraint(
            "(kind = 'reduction' AND reduction_pct > 0 AND reduction_pct < 100) OR "
            "(kind <> 'reduction' AND reduction_pct IS NULL)",
            name="reduction_pct_matches_kind",
        ),
        CheckConstraint(
            "(revoked_at IS NULL AND revoke_reason IS NULL) OR "
            "(revoked_at IS NOT NULL AND revoke_reason IS NOT NULL)",
            name="revoked_with_reason",
        ),
    )

    id: Mapped[IdPK]
    kind: Mapped[ReliefKind] = mapped_column(_enum(ReliefKind, "relief_kind"))
    decision_number: Mapped[str] = mapped_column(String(100))
    decided_on: Mapped[date]
    market_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("markets.id"))
    block_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("blocks.id"))
    vendor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("vendors.id"))
    valid_from: Mapped[date]
    valid_to: Mapped[date]
    reduction_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(120))
    revoke_reason: Mapped[str | None] = mapped_column(String(300))

    market: Mapped[Market | None] = relationship()
    block: Mapped[Block | None] = relationship()
    vendor: Mapped[Vendor | None] = relationship()


class Outage(Base):
    """A payment channel that was down (a market's tapping machines, a bank's VA): sanctions and
    warning letters stop while it lasts (the 2017 Klewer agreement). ``ended_on`` null = ongoing.
    """

    __tablename__ = "outages"
    __table_args__ = (
        CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="range_ordered"),
    )

    id: Mapped[IdPK]
    market_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("markets.id"))
    channel: Mapped[str] = mapped_column(String(20))
    started_on: Mapped[date]
    ended_on: Mapped[date | None]
    reference: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))

    market: Mapped[Market | None] = relationship()


class Notice(Base):
    """An STRD or a Surat Teguran issued for a bill, with the figures it demanded. Append-only.

    Every notice is kept: a teguran suspends the 3-year limitation period (Pasal 86).
    """

    __tablename__ = "levy_notices"
    __table_args__ = (
        UniqueConstraint("bill_id", "kind"),
        UniqueConstraint("market_id", "kind", "issued_period", "number_seq"),
        CheckConstraint("principal_outstanding_idr >= 0", name="principal_not_negative"),
        CheckConstraint("sanction_idr >= 0", name="sanction_not_negative"),
        CheckConstraint(
            "total_idr = principal_outstanding_idr + sanction_idr", name="total_is_sum"
        ),
        CheckConstraint("number_seq > 0", name="seq_positive"),
    )

    id: Mapped[IdPK]
    kind: Mapped[NoticeKind] = mapped_column(_enum(NoticeKind, "notice_kind"))
    number: Mapped[str] = mapped_column(String(60), unique=True)
    number_seq: Mapped[int] = mapped_column(Integer)
    issued_period: Mapped[str] = mapped_column(String(7))
    bill_id: Mapped[int] = mapped_column(BigId, ForeignKey("bills.id"))
    vendor_id: Mapped[int] = mapped_column(BigId, ForeignKey("vendors.id"), index=True)
    market_id: Mapped[int] = mapped_column(BigId, ForeignKey("markets.id"))
    issued_on: Mapped[date]
    issued_at: Mapped[datetime]
    issued_by: Mapped[str] = mapped_column(String(120))
    days_late: Mapped[int] = mapped_column(Integer)
    months_late: Mapped[int] = mapped_column(Integer)
    principal_outstanding_idr: Mapped[int] = mapped_column(BigInteger)
    sanction_idr: Mapped[int] = mapped_column(BigInteger)
    total_idr: Mapped[int] = mapped_column(BigInteger)

    bill: Mapped[Bill] = relationship()
