"""QRIS fixtures: a Klewer kiosk holder with issued bills, on the real database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from retribusi.auth.models import Role, User
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.models import Bill
from tests.conftest import AuthActions
from tests.levy import factories as f

TODAY = date(2026, 11, 23)  # the frozen clock, in Jakarta


@dataclass
class Billed:
    holding: f.Holding
    bills: list[Bill]

    @property
    def vendor_id(self) -> int:
        return self.holding.vendor.id

    @property
    def bill_ids(self) -> list[int]:
        return [b.id for b in self.bills]


def issue(*months: str) -> list[Bill]:
    for month in months:
        first = date(int(month[:4]), int(month[5:]), 1)
        issue_bills(month, actor="test", issued_on=min(first, TODAY))
    return list(db.session.scalars(sa.select(Bill).order_by(Bill.due_on, Bill.id)))


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def billed(app: Flask, ctx: None) -> Billed:
    """One 5 m² Klewer kiosk (Rp157.500 a month), billed for October and November 2026."""
    f.illustrative_tariffs()
    holding = f.holding("KLEWER", area_m2="5")
    bills = issue("2026-10", "2026-11")
    return Billed(holding, bills)


@dataclass
class Market:
    klewer_stall: int
    klewer_stalls: int
    legi_stall: int
    vendor_id: int
    bill_ids: list[int]


@pytest.fixture
def market(app: Flask) -> Market:
    with app.app_context():
        f.illustrative_tariffs()
        mine = f.holding("KLEWER", block_code="A")
        f.holding("KLEWER", block_code="A")
        f.stall("KLEWER", block_code="B")  # vacant: gets a card too
        legi = f.holding("LEGI", block_code="C")
        issue_bills("2026-10", actor="t", issued_on=date(2026, 10, 1))
        issue_bills("2026-11", actor="t")
        bills = list(
            db.session.scalars(
                sa.select(Bill.id).where(Bill.vendor_id == mine.vendor.id).order_by(Bill.due_on)
            )
        )
        return Market(mine.stall.id, 3, legi.stall.id, mine.vendor.id, bills)


def as_vendor_of(app: Flask, auth: AuthActions, vendor_id: int) -> User:
    user = auth.login_as(Role.VENDOR)
    with app.app_context():
        db.session.execute(
            sa.text("UPDATE vendors SET user_id = :u WHERE id = :v"), {"u": user.id, "v": vendor_id}
        )
        db.session.commit()
    return user
