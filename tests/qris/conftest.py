"""QRIS fixtures: a Klewer kiosk holder with issued bills, on the real database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.models import Bill
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
