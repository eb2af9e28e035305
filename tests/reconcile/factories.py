"""A day of payments through the real ledger, and the bank and acquirer files that day produces.

Payments are recorded with :func:`payments.ledger.record_payment` the way the channels will
record them (VA: sender = bank profile, reference = ``paymentRequestId``, VA number; QRIS: sender
= acquirer, reference = the acquirer's RRN, the bill as target and tag 62 in ``raw``; cash: an
officer's payment, deposited with a slip). The files are real MT940 and settlement CSV text, read
by the real importers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from payments.ledger import PaymentIn, Recorded, record_payment
from payments.models import Channel, Deposit, DepositItem
from retribusi import clock
from retribusi.auth.models import Role, User
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.models import Bill
from tests.factories import make_user
from tests.levy import factories as f

DAY = date(2026, 11, 23)  # the frozen clock's Jakarta day (a Monday)
ACCOUNT = "1380012345678"
BANK = "bank_jateng"
ACQUIRER = "qris-bpd"
NMID = "ID1020017611473"
_seq = itertools.count(1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """An instant in Solo (WIB, UTC+7) as aware UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=clock.JAKARTA).astimezone(UTC)


def bills_for(*markets: str, month: str = "2026-11") -> list[Bill]:
    """Vendors with one kios each in ``markets``, and their bills of ``month``."""
    f.illustrative_tariffs()
    for code in markets:
        f.holding(code, area_m2="5")
    first = date(int(month[:4]), int(month[5:]), 1)
    issue_bills(month, actor="test", issued_on=min(first, clock.today_wib()))
    return list(db.session.scalars(sa.select(Bill).order_by(Bill.id)))


def va_payment(
    bill: Bill, amount_idr: int, *, va: str, paid_at: datetime, ref: str | None = None
) -> Recorded:
    return record_payment(
        PaymentIn(
            channel=Channel.VA,
            sender=BANK,
            external_ref=ref or f"PRQ{next(_seq):010d}",
            vendor_id=bill.vendor_id,
            amount_idr=amount_idr,
            paid_at=paid_at,
            raw={"virtualAccountNo": va, "paidAmount": {"value": f"{amount_idr}.00"}},
            recorded_by="test",
            va_number=va,
        )
    )


def qris_payment(
    bill: Bill, amount_idr: int, *, rrn: str, paid_at: datetime, label: str | None = None
) -> Recorded:
    return record_payment(
        PaymentIn(
            channel=Channel.QRIS,
            sender=ACQUIRER,
            external_ref=rrn,
            vendor_id=bill.vendor_id,
            amount_idr=amount_idr,
            paid_at=paid_at,
            raw={"tag62": {"01": bill.number, "05": label or f"R{rrn[-8:]}"}},
            recorded_by="test",
            target_bill_ids=(bill.id,),
        )
    )


def officer() -> User:
    found = db.session.scalars(sa.select(User).where(User.username == "petugas-test")).first()
    if found is not None:
        return found
    return make_user(Role.OFFICER, secret="officer-password-1", username="petugas-test")


def cash_deposit(
    bills: list[tuple[Bill, int]], *, slip_ref: str, deposited_on: date, paid_at: datetime
) -> Deposit:
    """Cash taken by an officer for each (bill, amount), then deposited under one slip."""
    user = officer()
    recorded = [
        record_payment(
            PaymentIn(
                channel=Channel.CASH,
                sender=f"officer:{user.id}",
                external_ref=f"CASH-{next(_seq):08d}",
                vendor_id=bill.vendor_id,
                amount_idr=amount,
                paid_at=paid_at,
                raw={"device_key": f"dev-{next(_seq)}"},
                recorded_by=f"user:{user.id}",
                market_id=bill.market_id,
            )
        )
        for bill, amount in bills
    ]
    deposit = Deposit(
        officer_id=user.id,
        slip_ref=slip_ref,
        amount_idr=sum(r.amount_idr for r in recorded),
        deposited_on=deposited_on,
        submitted_at=clock.now(),
    )
    db.session.add(deposit)
    db.session.flush()
    for r in recorded:
        db.session.add(DepositItem(deposit_id=deposit.id, payment_id=r.payment_id))
    db.session.commit()
    return deposit


# --- files ------------------------------------------------------------------------------------


def _swift(amount_idr: int) -> str:
    return f"{amount_idr},00"


@dataclass
class Mt940:
    """An MT940 statement of the city's account, built line by line."""

    number: int = 330
    opening_idr: int = 10_000_000
    day: date = DAY
    account: str = ACCOUNT
    lines: list[tuple[str, int, str, str]] = field(default_factory=list)

    def credit(self, amount_idr: int, text: str, ref: str | None = None) -> Mt940:
        self.lines.append(("C", amount_idr, text, ref or f"FT{next(_seq):010d}"))
        return self

    def debit(self, amount_idr: int, text: str, ref: str | None = None) -> Mt940:
        self.lines.append(("D", amount_idr, text, ref or f"CHG{next(_seq):09d}"))
        return self

    @property
    def closing_idr(self) -> int:
        return self.opening_idr + sum(a if d == "C" else -a for d, a, _t, _r in self.lines)

    def render(self, *, closing_idr: int | None = None, with_closing: bool = True) -> bytes:
        ymd = self.day.strftime("%y%m%d")
        md = self.day.strftime("%m%d")
        previous = (self.day - timedelta(days=1)).strftime("%y%m%d")
        out = [
            f":20:STMT{ymd}",
            f":25:{self.account}",
            f":28C:{self.number}/1",
            f":60F:C{previous}IDR{_swift(self.opening_idr)}",
        ]
        for direction, amount, text, ref in self.lines:
            out.append(f":61:{ymd}{md}{direction}{_swift(amount)}NTRFNONREF//{ref}")
            out.append(f":86:{text}")
        if with_closing:
            closing = self.closing_idr if closing_idr is None else closing_idr
            out.append(f":62F:C{ymd}IDR{_swift(closing)}")
        return ("\n".join(out) + "\n").encode()

    def next(self, day: date) -> Mt940:
        return Mt940(number=self.number + 1, opening_idr=self.closing_idr, day=day)


SETTLEMENT_HEADER = (
    "record_type,batch_id,settlement_date,nmid,rrn,reference_label,bill_number,"
    "transaction_time,gross,fee,net,transaction_count"
)


@dataclass
class Settlement:
    """The acquirer's settlement report: batches of QRIS transactions, gross − fee = net."""

    batches: list[tuple[str, date, str, list[tuple[str, str, str, datetime, int, int]]]] = field(
        default_factory=list
    )

    def batch(self, batch_id: str, settled: date, nmid: str = NMID) -> Settlement:
        self.batches.append((batch_id, settled, nmid, []))
        return self

    def transaction(
        self, rrn: str, bill_number: str, at_time: datetime, gross: int, fee: int = 0
    ) -> Settlement:
        self.batches[-1][3].append((rrn, f"R{rrn[-8:]}", bill_number, at_time, gross, fee))
        return self

    def net(self, batch_id: str) -> int:
        for ref, _settled, _nmid, rows in self.batches:
            if ref == batch_id:
                return sum(g - fee for *_r, g, fee in rows)
        raise KeyError(batch_id)

    def render(self) -> bytes:
        out = [SETTLEMENT_HEADER]
        for batch_id, settled, nmid, rows in self.batches:
            for rrn, label, bill_number, when, gross, fee in rows:
                stamp = clock.to_wib(when).isoformat(timespec="seconds")
                out.append(
                    f"TRX,{batch_id},{settled.isoformat()},{nmid},{rrn},{label},{bill_number},"
                    f"{stamp},{gross},{fee},{gross - fee},"
                )
            gross = sum(r[4] for r in rows)
            fee = sum(r[5] for r in rows)
            out.append(
                f"BATCH,{batch_id},{settled.isoformat()},{nmid},,,,,{gross},{fee},"
                f"{gross - fee},{len(rows)}"
            )
        return ("\n".join(out) + "\n").encode()
