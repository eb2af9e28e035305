"""What the front doors show: a vendor's account (owed per stall and month, paid, credit) and an
officer's day. Read-only queries; every write goes through the ledger and the channels."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, or_, select

from payments.ledger import credit_balance
from payments.models import Allocation, Channel, Payment, PaymentReversal, Receipt
from retribusi import clock
from retribusi.auth.models import Role, User
from retribusi.errors import Forbidden
from retribusi.extensions import db
from retribusi.levy.billing import OpenBill, open_bills_for_vendor
from retribusi.levy.models import Bill
from vendors.models import Market, Vendor

HISTORY_LIMIT = 50  # payments shown on the vendor's history page


def payer_vendors(user: User) -> list[Vendor]:
    """The vendors a vendor-role login pays for: their own record, and every vendor who named
    this phone as their proxy payer (a son or daughter paying for an elderly parent)."""
    if user.role is not Role.VENDOR:
        return []
    clauses = [Vendor.user_id == user.id]
    if user.phone:
        clauses.append(Vendor.proxy_phone == user.phone)
    return list(db.session.scalars(select(Vendor).where(or_(*clauses)).order_by(Vendor.id)))


def vendor_for_payer(user: User, vendor_id: int) -> Vendor:
    for vendor in payer_vendors(user):
        if vendor.id == vendor_id:
            return vendor
    raise Forbidden("this account is not yours to pay")


@dataclass(frozen=True)
class SanctionNote:
    """A bill's sanction in plain figures: rate × months × unpaid principal."""

    rate_pct: Decimal
    months: int
    cap_months: int
    part_month_counts: bool
    amount_idr: int


@dataclass(frozen=True)
class OwedBill:
    bill: OpenBill
    sanction: SanctionNote | None

    @property
    def bill_id(self) -> int:
        return self.bill.bill_id


@dataclass
class StallAccount:
    reference: str
    market_name: str
    stall_type: str
    bills: list[OwedBill] = field(default_factory=list)

    @property
    def outstanding_idr(self) -> int:
        return sum(b.bill.outstanding_idr for b in self.bills)


@dataclass(frozen=True)
class VendorAccount:
    vendor: Vendor
    as_of: date
    stalls: tuple[StallAccount, ...]
    credit_idr: int

    @property
    def principal_idr(self) -> int:
        return sum(b.bill.principal_outstanding_idr for s in self.stalls for b in s.bills)

    @property
    def sanction_idr(self) -> int:
        return sum(b.bill.sanction_outstanding_idr for s in self.stalls for b in s.bills)

    @property
    def outstanding_idr(self) -> int:
        return self.principal_idr + self.sanction_idr

    @property
    def bill_ids(self) -> list[int]:
        return [b.bill_id for s in self.stalls for b in s.bills]


def vendor_account(vendor: Vendor, as_of: date | None = None) -> VendorAccount:
    """What ``vendor`` owes on ``as_of`` (today), per stall, oldest month first."""
    as_of = as_of or clock.today_wib()
    owed = open_bills_for_vendor(vendor.id, as_of)
    bills = {
        b.id: b
        for b in db.session.scalars(select(Bill).where(Bill.id.in_([o.bill_id for o in owed])))
    }
    stalls: dict[int, StallAccount] = {}
    for item in owed:
        bill = bills[item.bill_id]
        account = stalls.get(bill.stall_id)
        if account is None:
            account = stalls[bill.stall_id] = StallAccount(
                bill.stall.reference, bill.market.name, bill.stall_type.value
            )
        note = None
        if item.figures.sanction_idr:
            note = SanctionNote(
                bill.sanction_rate_pct_per_month,
                item.figures.months_late,
                bill.sanction_cap_months,
                bill.sanction_part_month_counts,
                item.sanction_outstanding_idr,
            )
        account.bills.append(OwedBill(item, note))
    ordered = sorted(stalls.values(), key=lambda s: s.reference)
    return VendorAccount(vendor, as_of, tuple(ordered), credit_balance(vendor.id))


@dataclass(frozen=True)
class PaidEntry:
    payment_id: int
    channel: Channel
    amount_idr: int
    paid_at: object
    receipt_number: str | None
    receipt_token: str | None
    reversed: bool
    bills: tuple[str, ...]


def payment_history(vendor_id: int, limit: int = HISTORY_LIMIT) -> list[PaidEntry]:
    rows = db.session.execute(
        select(Payment, Receipt.number, Receipt.token, PaymentReversal.id)
        .outerjoin(Receipt, Receipt.payment_id == Payment.id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(Payment.vendor_id == vendor_id)
        .order_by(Payment.paid_at.desc(), Payment.id.desc())
        .limit(limit)
    ).all()
    ids = [payment.id for payment, *_ in rows]
    numbers: dict[int, set[str]] = defaultdict(set)
    for payment_id, number in db.session.execute(
        select(Allocation.payment_id, Bill.number)
        .join(Bill, Bill.id == Allocation.bill_id)
        .where(Allocation.payment_id.in_(ids), Allocation.reversal_id.is_(None))
    ):
        numbers[payment_id].add(number)
    return [
        PaidEntry(
            payment.id,
            payment.channel,
            payment.amount_idr,
            payment.paid_at,
            number,
            token,
            reversal_id is not None,
            tuple(sorted(numbers[payment.id])),
        )
        for payment, number, token, reversal_id in rows
    ]


def latest_payment_id(vendor_id: int) -> int:
    """For the page that waits for a payment to land: it changes when one does."""
    return int(
        db.session.scalar(select(func.max(Payment.id)).where(Payment.vendor_id == vendor_id)) or 0
    )


@dataclass(frozen=True)
class MarketDay:
    code: str
    name: str
    payments: int
    collected_idr: int
    cash_idr: int


@dataclass(frozen=True)
class OfficerDay:
    day: date
    markets: tuple[MarketDay, ...]
    my_cash_count: int
    my_cash_idr: int


def officer_day(user: User, day: date | None = None) -> OfficerDay:
    """An officer's day: what reached the bills of their markets today (every channel, net of
    reversals), and the cash they took themselves (to deposit)."""
    day = day or clock.today_wib()
    codes = sorted(user.market_codes) if user.role is Role.OFFICER else None
    markets_query = select(Market.id, Market.code, Market.name).order_by(Market.code)
    if codes is not None:
        markets_query = markets_query.where(Market.code.in_(codes))
    markets = db.session.execute(markets_query).all()
    ids = [m.id for m in markets]
    collected = dict(
        db.session.execute(
            select(Bill.market_id, func.sum(Allocation.amount_idr))
            .join(Bill, Bill.id == Allocation.bill_id)
            .where(Allocation.paid_on == day, Bill.market_id.in_(ids))
            .group_by(Bill.market_id)
        ).all()
    )
    counts = dict(
        db.session.execute(
            select(Bill.market_id, func.count(func.distinct(Allocation.payment_id)))
            .join(Bill, Bill.id == Allocation.bill_id)
            .where(
                Allocation.paid_on == day,
                Bill.market_id.in_(ids),
                Allocation.amount_idr > 0,
            )
            .group_by(Bill.market_id)
        ).all()
    )
    cash = dict(
        db.session.execute(
            select(Payment.market_id, func.sum(Payment.amount_idr))
            .where(
                Payment.paid_on == day,
                Payment.channel == Channel.CASH,
                Payment.market_id.in_(ids),
            )
            .group_by(Payment.market_id)
        ).all()
    )
    mine = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Payment.amount_idr), 0)).where(
            Payment.paid_on == day,
            Payment.channel == Channel.CASH,
            Payment.sender == f"officer:{user.id}",
        )
    ).one()
    return OfficerDay(
        day,
        tuple(
            MarketDay(
                m.code,
                m.name,
                int(counts.get(m.id, 0)),
                int(collected.get(m.id, 0) or 0),
                int(cash.get(m.id, 0) or 0),
            )
            for m in markets
        ),
        int(mine[0]),
        int(mine[1]),
    )
