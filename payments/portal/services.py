"""What the front doors show: a vendor's account (owed per stall and month, paid, credit) and an
officer's day. Read-only queries; every write goes through the ledger and the channels."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from payments.ledger import credit_balance
from payments.models import Allocation, Channel, Component, Payment, PaymentReversal, Receipt
from retribusi import clock
from retribusi.auth.models import Role, User
from retribusi.extensions import db
from retribusi.levy.billing import OpenBill, open_bills_for_vendor
from retribusi.levy.models import Bill, BillStatus
from vendors.models import Market, Vendor

HISTORY_LIMIT = 50  # payments shown on the vendor's history page


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


def list_market_codes(codes: list[str] | None) -> list[str]:
    """Market codes in order: all of them, or those of ``codes`` that exist."""
    query = select(Market.code).order_by(Market.code)
    if codes is not None:
        query = query.where(Market.code.in_(codes))
    return list(db.session.scalars(query))


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


# --- the finance desk -----------------------------------------------------------------------------

MONTHS_SHOWN = 6


def recent_months(today: date, count: int = MONTHS_SHOWN) -> list[tuple[str, date, date]]:
    """The last ``count`` months up to ``today``'s, oldest first: (label, first day, last day)."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        first = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        months.append((f"{year:04d}-{month:02d}", first, following - timedelta(days=1)))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


@dataclass(frozen=True)
class Collection:
    """Money received per month and channel, net of reversals (a reversed payment does not
    count in the month it was paid)."""

    months: tuple[str, ...]
    by_channel: dict[Channel, tuple[int, ...]]

    @property
    def totals(self) -> tuple[int, ...]:
        return tuple(
            sum(values[i] for values in self.by_channel.values()) for i in range(len(self.months))
        )


def collection_by_month(today: date, count: int = MONTHS_SHOWN) -> Collection:
    months = recent_months(today, count)
    rows = db.session.execute(
        select(Payment.paid_on, Payment.channel, Payment.amount_idr)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(
            Payment.paid_on >= months[0][1],
            Payment.paid_on <= months[-1][2],
            PaymentReversal.id.is_(None),
        )
    )
    index = {label: i for i, (label, _first, _last) in enumerate(months)}
    sums: dict[Channel, list[int]] = {c: [0] * len(months) for c in Channel}
    for paid_on, channel, amount in rows:
        sums[channel][index[f"{paid_on.year:04d}-{paid_on.month:02d}"]] += int(amount)
    return Collection(
        tuple(label for label, _f, _l in months), {c: tuple(v) for c, v in sums.items()}
    )


def collection_by_market(first: date, last: date) -> list[tuple[str, str, int]]:
    """What reached each market's bills between ``first`` and ``last`` (net of reversals),
    largest first: (code, name, rupiah)."""
    rows = db.session.execute(
        select(Market.code, Market.name, func.coalesce(func.sum(Allocation.amount_idr), 0))
        .join(Bill, Bill.market_id == Market.id)
        .join(Allocation, Allocation.bill_id == Bill.id)
        .where(Allocation.paid_on >= first, Allocation.paid_on <= last)
        .group_by(Market.code, Market.name)
    ).all()
    return sorted(
        ((code, name, int(total)) for code, name, total in rows), key=lambda r: (-r[2], r[0])
    )


def arrears_trend(today: date, count: int = MONTHS_SHOWN) -> list[tuple[str, int]]:
    """Principal overdue at each month's end (today for this month): bills past their due date
    then, less the principal paid on them by then. Each point is what the books said that day:
    a bill voided later still counts, and a reversal counts from the day it was made, not from
    the day of the payment it undid. Sanction is left out: it is a figure of the day asked, not
    a stock that can be summed back in time."""
    points = []
    for label, _first, last in recent_months(today, count):
        day = min(last, today)
        until = clock.start_of_day_wib(day + timedelta(days=1))  # the end of that day
        owed_then = (Bill.due_on < day) & (
            (Bill.status != BillStatus.VOIDED) | (Bill.voided_at >= until)
        )
        billed = db.session.scalar(
            select(func.coalesce(func.sum(Bill.principal_idr), 0)).where(owed_then)
        )
        paid = db.session.scalar(
            select(func.coalesce(func.sum(Allocation.amount_idr), 0))
            .join(Bill, Bill.id == Allocation.bill_id)
            .outerjoin(PaymentReversal, PaymentReversal.id == Allocation.reversal_id)
            .where(
                owed_then,
                Allocation.component == Component.PRINCIPAL,
                Allocation.paid_on <= day,
                (Allocation.reversal_id.is_(None)) | (PaymentReversal.reversed_at < until),
            )
        )
        points.append((label, int(billed or 0) - int(paid or 0)))
    return points
