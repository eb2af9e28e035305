"""Arrears: overdue bills by market, block and vendor, aged, principal and sanction apart.

A bill is in arrears on a date when it is issued or partly paid and its due date has passed; its
age is the days since the due date. Officers see only their own markets.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select

from retribusi.auth.access import require_market
from retribusi.auth.models import Role, User
from retribusi.db import AnySession
from retribusi.errors import Forbidden
from retribusi.extensions import db
from retribusi.levy.balances import BillFigures, figures_for
from retribusi.levy.errors import invalid
from retribusi.levy.models import OPEN_STATUSES, Bill, BillKind
from retribusi.levy.rules import AGE_BUCKETS, AgeBucket, RoundingRule, SanctionTerms, age_bucket
from retribusi.sheets import new_workbook
from vendors.models import Block, Market, Vendor

LEVELS = ("market", "block", "vendor", "bill")


@dataclass(frozen=True)
class BillSnapshot:
    """The columns the arrears need, without loading whole bills."""

    id: int
    number: str
    kind: BillKind
    period: str
    market_id: int
    block_id: int
    vendor_id: int
    principal_idr: int
    due_on: date
    rate: Decimal
    cap_months: int
    part_month_counts: bool
    rounding: str
    market_code: str
    market_name: str
    block_code: str
    vendor_name: str

    @property
    def sanction_terms(self) -> SanctionTerms:
        return SanctionTerms(
            self.principal_idr,
            self.due_on,
            self.rate,
            self.cap_months,
            self.part_month_counts,
            RoundingRule(self.rounding),
        )


@dataclass
class Amounts:
    principal_idr: int = 0
    sanction_idr: int = 0

    @property
    def total_idr(self) -> int:
        return self.principal_idr + self.sanction_idr

    def add(self, principal_idr: int, sanction_idr: int) -> None:
        self.principal_idr += principal_idr
        self.sanction_idr += sanction_idr

    def to_dict(self) -> dict[str, int]:
        return {
            "principal_idr": self.principal_idr,
            "sanction_idr": self.sanction_idr,
            "total_idr": self.total_idr,
        }


@dataclass
class ArrearsRow:
    key: str
    label: str
    market_code: str
    block_code: str | None = None
    vendor_id: int | None = None
    bill_number: str | None = None
    bill_id: int | None = None
    days_overdue: int | None = None
    bills: int = 0
    buckets: dict[AgeBucket, Amounts] = field(
        default_factory=lambda: {bucket: Amounts() for bucket in AGE_BUCKETS}
    )
    total: Amounts = field(default_factory=Amounts)

    def add(self, bill: BillSnapshot, account: BillFigures) -> None:
        principal = account.principal_outstanding_idr
        sanction = account.sanction_outstanding_idr
        self.bills += 1
        self.buckets[age_bucket(account.days_overdue)].add(principal, sanction)
        self.total.add(principal, sanction)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "key": self.key,
            "label": self.label,
            "market": self.market_code,
            "bills": self.bills,
            "buckets": {
                bucket.value: amounts.to_dict() for bucket, amounts in self.buckets.items()
            },
            "total": self.total.to_dict(),
        }
        if self.block_code is not None:
            body["block"] = self.block_code
        if self.vendor_id is not None:
            body["vendor_id"] = self.vendor_id
        if self.bill_number is not None:
            body["bill"] = self.bill_number
            body["bill_id"] = self.bill_id
            body["days_overdue"] = self.days_overdue
        return body


@dataclass
class ArrearsReport:
    as_of: date
    level: str
    market_code: str | None
    block_code: str | None
    vendor_id: int | None
    rows: list[ArrearsRow]
    total: ArrearsRow

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "level": self.level,
            "market": self.market_code,
            "block": self.block_code,
            "vendor_id": self.vendor_id,
            "buckets": [bucket.value for bucket in AGE_BUCKETS],
            "rows": [row.to_dict() for row in self.rows],
            "total": self.total.to_dict(),
        }


def market_scope(user: User | None) -> frozenset[str] | None:
    """The market codes a user may see arrears for; ``None`` means every market."""
    if user is None or user.role in (Role.ADMIN, Role.FINANCE):
        return None
    if user.role is Role.OFFICER:
        return user.market_codes
    raise Forbidden("arrears are for staff")


def overdue_bills(
    session: AnySession,
    as_of: date,
    *,
    markets: Iterable[str] | None = None,
    block_code: str | None = None,
    vendor_id: int | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[BillSnapshot]:
    query = (
        select(
            Bill.id,
            Bill.number,
            Bill.kind,
            Bill.period,
            Bill.market_id,
            Bill.block_id,
            Bill.vendor_id,
            Bill.principal_idr,
            Bill.due_on,
            Bill.sanction_rate_pct_per_month,
            Bill.sanction_cap_months,
            Bill.sanction_part_month_counts,
            Bill.rounding_rule,
            Market.code,
            Market.name,
            Block.code,
            Vendor.full_name,
        )
        .join(Market, Market.id == Bill.market_id)
        .join(Block, Block.id == Bill.block_id)
        .join(Vendor, Vendor.id == Bill.vendor_id)
        .where(Bill.status.in_(OPEN_STATUSES), Bill.due_on < as_of, *where)
        .order_by(Market.code, Block.code, Vendor.full_name, Bill.due_on, Bill.id)
    )
    if markets is not None:
        query = query.where(Market.code.in_(sorted(markets)))
    if block_code is not None:
        query = query.where(Block.code == block_code)
    if vendor_id is not None:
        query = query.where(Bill.vendor_id == vendor_id)
    return [BillSnapshot(*tuple(row)) for row in session.execute(query)]


def arrears(
    user: User | None,
    *,
    as_of: date,
    market_code: str | None = None,
    block_code: str | None = None,
    vendor_id: int | None = None,
) -> ArrearsReport:
    """Arrears one level down from what is chosen: markets, a market's blocks, a block's vendors,
    or a vendor's bills."""
    scope = market_scope(user)
    if block_code is not None and market_code is None:
        raise invalid("block", "needs_market", "a block is named within a market")
    if market_code is not None:
        if user is not None:
            require_market(user, market_code)
        markets: Iterable[str] | None = [market_code]
    else:
        markets = scope
    if vendor_id is not None:
        level = "bill"
    elif block_code is not None:
        level = "vendor"
    elif market_code is not None:
        level = "block"
    else:
        level = "market"
    bills = overdue_bills(
        db.session, as_of, markets=markets, block_code=block_code, vendor_id=vendor_id
    )
    accounts = figures_for(db.session, bills, as_of)
    rows: dict[str, ArrearsRow] = {}
    total = ArrearsRow("total", "total", market_code or "*", block_code)
    for bill in bills:
        account = accounts[bill.id]
        if account.outstanding_idr <= 0:
            continue
        row = rows.get(_key(level, bill))
        if row is None:
            row = rows[_key(level, bill)] = _row(level, bill, account)
        row.add(bill, account)
        total.add(bill, account)
    return ArrearsReport(
        as_of, level, market_code, block_code, vendor_id, list(rows.values()), total
    )


def _key(level: str, bill: BillSnapshot) -> str:
    if level == "market":
        return bill.market_code
    if level == "block":
        return f"{bill.market_code}/{bill.block_code}"
    if level == "vendor":
        return f"{bill.market_code}/{bill.block_code}/{bill.vendor_id}"
    return bill.number


def _row(level: str, bill: BillSnapshot, account: BillFigures) -> ArrearsRow:
    if level == "market":
        return ArrearsRow(bill.market_code, bill.market_name, bill.market_code)
    if level == "block":
        return ArrearsRow(bill.block_code, bill.block_code, bill.market_code, bill.block_code)
    if level == "vendor":
        return ArrearsRow(
            str(bill.vendor_id),
            bill.vendor_name,
            bill.market_code,
            bill.block_code,
            bill.vendor_id,
        )
    return ArrearsRow(
        bill.number,
        bill.period,
        bill.market_code,
        bill.block_code,
        bill.vendor_id,
        bill_number=bill.number,
        bill_id=bill.id,
        days_overdue=account.days_overdue,
    )


def arrears_xlsx(user: User | None, *, as_of: date, market_code: str | None = None) -> bytes:
    """Every vendor in arrears in the user's markets (or one market), principal and sanction per
    age bucket, as a spreadsheet."""
    scope = market_scope(user)
    if market_code is not None and user is not None:
        require_market(user, market_code)
    markets: Iterable[str] | None = [market_code] if market_code else scope
    bills = overdue_bills(db.session, as_of, markets=markets)
    accounts = figures_for(db.session, bills, as_of)
    rows: dict[str, ArrearsRow] = {}
    for bill in bills:
        account = accounts[bill.id]
        if account.outstanding_idr <= 0:
            continue
        key = _key("vendor", bill)
        if key not in rows:
            rows[key] = _row("vendor", bill, account)
        rows[key].add(bill, account)
    return _workbook(as_of, list(rows.values()))


def _workbook(as_of: date, rows: Sequence[ArrearsRow]) -> bytes:
    buffer = io.BytesIO()
    book = new_workbook(buffer, in_memory=True)
    sheet = book.add_worksheet("Tunggakan")
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0"})
    sheet.write(0, 0, f"Tunggakan retribusi per {as_of.isoformat()}", bold)
    header = ["Pasar", "Blok", "ID pedagang", "Pedagang", "Jumlah tagihan"]
    for bucket in AGE_BUCKETS:
        header += [f"Pokok {bucket.value} hari", f"Sanksi {bucket.value} hari"]
    header += ["Pokok", "Sanksi", "Total"]
    sheet.write_row(2, 0, header, bold)
    for index, row in enumerate(rows, start=3):
        values: list[Any] = [row.market_code, row.block_code, row.vendor_id, row.label, row.bills]
        for bucket in AGE_BUCKETS:
            values += [row.buckets[bucket].principal_idr, row.buckets[bucket].sanction_idr]
        values += [row.total.principal_idr, row.total.sanction_idr, row.total.total_idr]
        sheet.write_row(index, 0, values)
    sheet.set_column(0, 1, 12)
    sheet.set_column(3, 3, 28)
    sheet.set_column(5, len(header) - 1, 14, money)
    sheet.freeze_panes(3, 4)
    book.close()
    return buffer.getvalue()
