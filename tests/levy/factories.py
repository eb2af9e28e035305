"""Registry rows made directly through the ORM (the registry's services are built elsewhere), and
levy helpers for tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from retribusi import clock
from retribusi.audit import AuditEvent
from retribusi.extensions import db
from retribusi.levy.tariffs import load_illustrative_tariffs
from vendors.models import (
    Block,
    Market,
    MarketClass,
    MarketClassPeriod,
    Placement,
    PlacementStatus,
    Stall,
    StallStatus,
    StallType,
    Vendor,
)

_seq = itertools.count(1)


def market(code: str = "KLEWER", market_class: str = "IA", *, name: str | None = None) -> Market:
    found = db.session.scalars(select(Market).where(Market.code == code)).first()
    if found is not None:
        return found
    row = Market(
        code=code,
        name=name or f"Pasar {code.title()}",
        kecamatan="Pasar Kliwon",
        created_at=clock.now(),
    )
    db.session.add(row)
    db.session.flush()
    db.session.add(
        MarketClassPeriod(
            market_id=row.id,
            market_class=MarketClass(market_class),
            valid_from=date(2016, 1, 1),
            source="test",
        )
    )
    db.session.commit()
    db.session.refresh(row)
    return row


def block(market_row: Market, code: str = "A") -> Block:
    found = db.session.scalars(
        select(Block).where(Block.market_id == market_row.id, Block.code == code)
    ).first()
    if found is not None:
        return found
    row = Block(market_id=market_row.id, code=code, name=f"Blok {code}")
    db.session.add(row)
    db.session.commit()
    return row


def stall(
    market_code: str = "KLEWER",
    *,
    stall_type: StallType = StallType.KIOS,
    area_m2: str = "5",
    tntd_idr_per_m2: int | None = None,
    block_code: str = "A",
    market_class: str = "IA",
) -> Stall:
    market_row = market(market_code, market_class)
    block_row = block(market_row, block_code)
    row = Stall(
        market_id=market_row.id,
        block_id=block_row.id,
        number=f"{next(_seq):03d}",
        stall_type=stall_type,
        area_m2=Decimal(area_m2),
        tntd_idr_per_m2=tntd_idr_per_m2,
        status=StallStatus.ACTIVE,
        created_at=clock.now(),
    )
    db.session.add(row)
    db.session.commit()
    return row


def vendor(name: str | None = None) -> Vendor:
    n = next(_seq)
    row = Vendor(
        nik=f"3372{n:012d}",
        full_name=name or f"Pedagang {n}",
        phone=f"62812{n:08d}",
        created_at=clock.now(),
    )
    db.session.add(row)
    db.session.commit()
    return row


def placement(
    stall_row: Stall,
    vendor_row: Vendor | None = None,
    *,
    start_on: date = date(2026, 1, 1),
    ended_on: date | None = None,
    status: PlacementStatus | None = None,
) -> Placement:
    vendor_row = vendor_row or vendor()
    row = Placement(
        number=f"SHP/{next(_seq):06d}",
        vendor_id=vendor_row.id,
        stall_id=stall_row.id,
        start_on=start_on,
        expires_on=date(start_on.year + 3, start_on.month, start_on.day),
        ended_on=ended_on,
        status=status or (PlacementStatus.ACTIVE if ended_on is None else PlacementStatus.REVOKED),
        created_at=clock.now(),
    )
    db.session.add(row)
    db.session.commit()
    return row


@dataclass
class Holding:
    """A vendor holding one stall."""

    market: Market
    stall: Stall
    vendor: Vendor
    placement: Placement


def holding(
    market_code: str = "KLEWER",
    *,
    stall_type: StallType = StallType.KIOS,
    area_m2: str = "5",
    tntd_idr_per_m2: int | None = None,
    start_on: date = date(2026, 1, 1),
    ended_on: date | None = None,
    block_code: str = "A",
    market_class: str = "IA",
    vendor_row: Vendor | None = None,
) -> Holding:
    stall_row = stall(
        market_code,
        stall_type=stall_type,
        area_m2=area_m2,
        tntd_idr_per_m2=tntd_idr_per_m2,
        block_code=block_code,
        market_class=market_class,
    )
    vendor_row = vendor_row or vendor()
    placement_row = placement(stall_row, vendor_row, start_on=start_on, ended_on=ended_on)
    return Holding(stall_row.market, stall_row, vendor_row, placement_row)


def illustrative_tariffs() -> int:
    return load_illustrative_tariffs(actor="test")


def count(model: type) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def audit_count() -> int:
    return count(AuditEvent)
