"""The payment core's demo step: a few hundred payments over the demo's bills, two deposits.

It runs after the levy's step (which bills the last four months). Payments at the Dinas counter
are spread over those months, oldest first, in the amounts people pay: one month, all of it,
half of it, a little ahead; the demo officer takes cash in their markets over the last six days,
two of those days are deposited and checked by finance (one matches, one is Rp5.000 short) and
the rest is still undeposited; one counter payment is reversed. Sri Rahayu, the demo vendor, has
a receipt of each kind. The same seed gives the same payments; a second run adds nothing.

Other channels (VA, QRIS) add their own demo payments in their own steps.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import func, select

from payments.cash import CashIn, record_cash
from payments.deposits import DepositIn, Selection, create_deposit, undeposited, verify_deposit
from payments.ledger import PaymentIn, record_payment, reverse_payment
from payments.models import Channel, Deposit, Payment
from retribusi import clock
from retribusi.auth.models import Role, User
from retribusi.extensions import db
from retribusi.levy.models import Bill
from vendors.models import Market, Vendor

DEMO_SEED: Final = 5_2026
COUNTER_SENDER: Final = "loket-dinas"
COUNTER_REF: Final = "DEMO-LOKET-{:05d}"
COUNTER_PAYMENTS: Final = 170
CASH_DAYS: Final = 6  # the last six days, today included
CASH_PER_DAY: Final = 8
DEMO_OFFICER: Final = "petugas"
DEMO_FINANCE: Final = "keuangan"
DEMO_VENDOR_PHONE: Final = "6281234567890"
OPENING_HOUR_WIB: Final = 8
CLOSING_HOUR_WIB: Final = 15


def _at(day: date, rng: random.Random) -> datetime:
    """A moment in market hours (WIB) of ``day``, as aware UTC."""
    minutes = rng.randrange(OPENING_HOUR_WIB * 60, CLOSING_HOUR_WIB * 60)
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=clock.JAKARTA)
    return local.astimezone(UTC)


@dataclass(frozen=True)
class _Billed:
    bill_id: int
    market_id: int
    service_from: date
    principal_idr: int


def _bills_of(vendor_ids: list[int]) -> dict[int, list[_Billed]]:
    """The vendors' bills, oldest first, read once: the demo picks amounts from them without
    asking the levy for every payment what is owed (the ledger still allocates exactly)."""
    found: dict[int, list[_Billed]] = defaultdict(list)
    for start in range(0, len(vendor_ids), 5000):
        rows = db.session.execute(
            select(Bill.vendor_id, Bill.id, Bill.market_id, Bill.service_from, Bill.principal_idr)
            .where(Bill.vendor_id.in_(vendor_ids[start : start + 5000]))
            .order_by(Bill.due_on, Bill.id)
        )
        for vendor_id, bill_id, market_id, service_from, principal_idr in rows:
            found[vendor_id].append(_Billed(bill_id, market_id, service_from, principal_idr))
    return found


def _amount(rng: random.Random, billed: list[_Billed], current_month: bool) -> int:
    oldest = billed[0].principal_idr
    everything = sum(b.principal_idr for b in billed)
    roll = rng.random()
    if roll < 0.4:
        return oldest  # this month's, or the oldest arrears (its sanction stays owed)
    if roll < 0.65:
        return everything  # the arrears' principal
    if roll < 0.85 or not current_month:
        return max(1_000, oldest // 2 // 1_000 * 1_000)  # a part, in round thousands
    return everything + rng.choice((5_000, 10_000, 25_000))  # a little ahead: credit


def _counter(rng: random.Random, today: date) -> tuple[int, int]:
    first_bill = db.session.scalar(select(func.min(Bill.issued_on))) or today
    vendor_ids = sorted(db.session.scalars(select(Bill.vendor_id).distinct()))
    sri = db.session.scalar(select(Vendor.id).where(Vendor.phone == DEMO_VENDOR_PHONE))
    chosen = rng.sample(vendor_ids, min(COUNTER_PAYMENTS, len(vendor_ids)))
    bills = _bills_of(sorted({*chosen, *([sri] if sri else [])}))
    span = max(1, (today - first_bill).days)
    plan = sorted(
        (first_bill + timedelta(days=rng.randrange(2, span + 1)), vendor_id) for vendor_id in chosen
    )
    if sri is not None:  # the demo vendor paid her oldest month at the office
        plan.insert(0, (first_bill + timedelta(days=3), sri))
    made = 0
    reversed_id = 0
    now = clock.now()
    for n, (day, vendor_id) in enumerate(plan, start=1):
        # Only bills issued by then: the demo bills each month on its first day.
        owed = [b for b in bills[vendor_id] if b.service_from <= day]
        paid_at = min(_at(day, rng), now)
        if not owed:
            continue
        amount = _amount(rng, owed, day.month == today.month and day.year == today.year)
        recorded = record_payment(
            PaymentIn(
                channel=Channel.COUNTER,
                sender=COUNTER_SENDER,
                external_ref=COUNTER_REF.format(n),
                vendor_id=vendor_id,
                amount_idr=amount,
                paid_at=paid_at,
                raw={"demo": True, "loket": "Kantor Dinas Perdagangan"},
                recorded_by="demo",
                market_id=owed[0].market_id,
            )
        )
        made += 1
        if n == len(plan) // 2:
            reversed_id = recorded.payment_id
    if reversed_id:
        reverse_payment(
            reversed_id,
            reference="DEMO-TOLAK-0001",
            reason="transfer ke rekening kas ditolak bank (contoh)",
            actor="demo",
        )
    return made, int(bool(reversed_id))


def _cash(rng: random.Random, officer: User, today: date) -> int:
    markets = dict(
        db.session.execute(
            select(Market.id, Market.code).where(Market.code.in_(sorted(officer.market_codes)))
        ).all()
    )
    vendors: list[tuple[int, int]] = sorted(
        {
            (int(vendor_id), int(market_id))
            for vendor_id, market_id in db.session.execute(
                select(Bill.vendor_id, Bill.market_id).where(Bill.market_id.in_(list(markets)))
            )
        }
    )
    if not vendors:
        return 0
    sri = db.session.scalar(select(Vendor.id).where(Vendor.phone == DEMO_VENDOR_PHONE))
    bills = _bills_of(sorted({v for v, _ in vendors}))
    now = clock.now()
    made = 0
    for back in range(CASH_DAYS - 1, -1, -1):
        day = today - timedelta(days=back)
        picks = rng.sample(vendors, min(CASH_PER_DAY, len(vendors)))
        if back == CASH_DAYS - 1 and sri is not None:
            sri_markets = [(v, m) for v, m in vendors if v == sri]
            picks = sri_markets[:1] + picks
        for vendor_id, market_id in sorted(picks, key=lambda _: rng.random()):
            paid_at = _at(day, rng)
            owed = [b for b in bills[vendor_id] if b.service_from <= day]
            if paid_at > now or not owed:
                continue
            amount = owed[-1].principal_idr if rng.random() < 0.7 else 10_000
            made += 1
            record_cash(
                CashIn(
                    officer=officer,
                    vendor_id=vendor_id,
                    market_code=markets[market_id],
                    amount_idr=amount,
                    key=f"demo-cash-{day.isoformat()}-{made:04d}",
                    raw={"demo": True},
                    paid_at=paid_at,
                    source="demo",
                )
            )
    return made


def _deposits(officer: User, finance: User | None, today: date) -> int:
    """Deposit the two oldest days: the first matches, the second is Rp5.000 short."""
    made = 0
    days = sorted({c.paid_on for c in undeposited(officer.id)})
    for n, day in enumerate(days[:2], start=1):
        collected = sum(c.amount_idr for c in undeposited(officer.id, on=day))
        slip = collected if n == 1 else collected - 5_000
        result = create_deposit(
            DepositIn(
                officer=officer,
                slip_ref=f"BJTG-DEMO-{n:04d}",
                amount_idr=slip,
                deposited_on=min(day + timedelta(days=1), today),
                selection=Selection.DAY,
                collected_on=day,
                note="setoran harian (contoh)",
            )
        )
        made += 1
        if finance is not None:
            verify_deposit(
                result.deposit.id,
                received_idr=slip,
                note=None if n == 1 else "kurang setor Rp5.000, petugas diminta melunasi",
                user=finance,
            )
    return made


def _summary() -> dict[str, Any]:
    counts = dict(
        db.session.execute(select(Payment.channel, func.count()).group_by(Payment.channel)).all()
    )
    return {
        "payments": {
            "counter": int(counts.get(Channel.COUNTER, 0)),
            "cash": int(counts.get(Channel.CASH, 0)),
            "deposits": int(db.session.scalar(select(func.count()).select_from(Deposit)) or 0),
        }
    }


def demo_step() -> dict[str, Any]:
    if db.session.scalar(select(Bill.id).limit(1)) is None:
        return {"payments": {"counter": 0, "cash": 0, "deposits": 0}}
    done = db.session.scalar(
        select(Payment.id)
        .where(Payment.sender == COUNTER_SENDER, Payment.external_ref.like("DEMO-LOKET-%"))
        .limit(1)
    )
    if done is not None:  # already loaded: a second run adds nothing
        return _summary()
    rng = random.Random(DEMO_SEED)
    today = clock.today_wib()
    _counter(rng, today)
    officer = db.session.scalar(
        select(User).where(User.username == DEMO_OFFICER, User.role == Role.OFFICER)
    )
    if officer is not None:
        finance = db.session.scalar(
            select(User).where(User.username == DEMO_FINANCE, User.role == Role.FINANCE)
        )
        if _cash(rng, officer, today):
            _deposits(officer, finance, today)
    return _summary()
