"""The payment ledger's use cases: record a payment from any channel, reverse one, apply credit.

One function records every payment (VA, QRIS, officer cash, counter). It is idempotent on the
sender's reference: a replay with the same meaning returns the first result and writes nothing;
the same reference with another meaning is a conflict, refused and logged. Allocation follows
DESIGN.md flow 6 through :func:`payments.allocation.split_payment`.

Concurrency: the payment row is inserted first (its unique key makes concurrent duplicates wait
for, then see, the first), then the vendor row is locked (PostgreSQL) so payments for one vendor
allocate one after another; a trigger on ``allocations`` refuses over-allocation whatever the
code above it does, and a deferred trigger refuses a payment whose parts do not add up
(``retribusi/migrations/versions/0004_payments.py``). On SQLite the first write takes the
database's write lock, which serialises writers the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from payments.allocation import AllocationOrder, OpenItem, Part, split_payment
from payments.models import (
    Allocation,
    Channel,
    Component,
    CreditEntry,
    CreditReason,
    Payment,
    PaymentReversal,
)
from payments.receipts import issue_receipt
from retribusi import clock
from retribusi.audit import record_event
from retribusi.config import apply_defaults
from retribusi.db import MAX_ID, AnySession, transaction
from retribusi.extensions import db
from retribusi.levy.balances import Account, PaidPortion
from retribusi.levy.billing import (
    open_accounts,
    open_bills_for_vendor,
    settle_statuses,
    sync_bill_status,
)
from retribusi.levy.errors import conflict, invalid, not_found
from retribusi.levy.models import Bill
from vendors.models import Vendor

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    # The largest single payment any channel may record (Rp100 juta: years of a kios's arrears).
    "PAYMENT_MAX_IDR": 100_000_000,
    # principal_across_bills: every bill's principal, oldest first, before any sanction, so a
    # partial payment stops as much sanction as it can; bill_by_bill settles each bill whole.
    "ALLOCATION_ORDER": AllocationOrder.PRINCIPAL_ACROSS_BILLS.value,
    # A payment stamped later than now by more than this is refused (clocks of banks drift).
    "PAYMENT_FUTURE_SKEW_S": 300,
}
MAX_REF_CHARS = 128
MAX_SENDER_CHARS = 60
MAX_TARGETS = 24  # a dynamic code names at most two years of monthly bills


@dataclass(frozen=True)
class PaymentIn:
    """A payment as a channel reports it, already parsed (amount in whole rupiah)."""

    channel: Channel
    sender: str
    external_ref: str
    vendor_id: int
    amount_idr: int
    paid_at: datetime
    raw: Mapping[str, Any]
    recorded_by: str
    target_bill_ids: tuple[int, ...] = ()
    market_id: int | None = None
    stall_id: int | None = None
    va_number: str | None = None
    flags: Mapping[str, Any] = field(default_factory=dict)
    # ``paid_at`` is when we received the payment, not a time the sender stated (a VA flag
    # without trxDateTime): then it is no part of what the payment says, and a repeat of it
    # that arrived at another moment is the same payment.
    paid_at_received: bool = False
    # Called inside the payment's transaction with the total the vendor owes (the bills being
    # locked); raising refuses the payment and writes nothing (a closed VA paid the wrong
    # amount). Not part of the payment's meaning.
    check_owed: Callable[[int], None] | None = field(default=None, compare=False)
    # Called inside the payment's transaction, after everything is written and before the
    # commit, with what was recorded (never for a replay): a channel's own record of its answer
    # commits with the payment, not in a transaction of its own.
    on_recorded: Callable[[Recorded], None] | None = field(default=None, compare=False)

    def meaning(self) -> str:
        """SHA-256 of what the payment says: a replay must say the same."""
        facts = {
            "channel": self.channel.value,
            "sender": self.sender,
            "ref": self.external_ref,
            "vendor": self.vendor_id,
            "amount": self.amount_idr,
            "paid_at": None
            if self.paid_at_received
            else clock.to_wib(self.paid_at).isoformat(timespec="seconds"),
            "targets": sorted(self.target_bill_ids),
            "market": self.market_id,
            "stall": self.stall_id,
            "va": self.va_number,
        }
        body = json.dumps(facts, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class AllocatedBill:
    bill_id: int
    number: str
    period: str
    principal_idr: int
    sanction_idr: int


@dataclass(frozen=True)
class Recorded:
    """What recording a payment did (the same answer for a replay, with ``replayed`` set)."""

    payment_id: int
    vendor_id: int
    amount_idr: int
    credit_idr: int
    receipt_number: str
    paid_at: datetime
    bills: tuple[AllocatedBill, ...]
    replayed: bool = False
    reversed: bool = False

    @property
    def allocated_idr(self) -> int:
        return sum(b.principal_idr + b.sanction_idr for b in self.bills)


# --- the ledger the levy reads --------------------------------------------------------------------

# Bills per query when the levy asks for many at once (SQLite allows 32 766 bound parameters).
_CHUNK = 5000

# Statements a payment runs every time are built once: SQLAlchemy derives a new statement's cache
# key on every execution, which cost more Python than the query itself (docs/bank-simulator.md).
_PAID_PORTIONS = (
    select(
        Allocation.bill_id,
        Allocation.paid_on,
        Allocation.component,
        func.sum(Allocation.amount_idr),
    )
    .where(Allocation.bill_id.in_(bindparam("bill_ids", expanding=True)))
    .group_by(Allocation.bill_id, Allocation.paid_on, Allocation.component)
)
_VENDOR = select(Vendor).where(Vendor.id == bindparam("vendor_id"))
# FOR NO KEY UPDATE, not FOR UPDATE: rows that reference the vendor (a payment, a credit entry)
# take KEY SHARE locks on it, which FOR UPDATE would conflict with, so two payments for one vendor
# could deadlock; NO KEY UPDATE still makes them take turns.
_VENDOR_LOCKED = _VENDOR.with_for_update(key_share=True)


class AllocationLedger:
    """The levy's :class:`retribusi.levy.balances.PaymentLedger`: amounts paid come from here."""

    def paid_portions(
        self, session: AnySession, bill_ids: Sequence[int]
    ) -> Mapping[int, Sequence[PaidPortion]]:
        sums: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
        ids = list(bill_ids)
        for start in range(0, len(ids), _CHUNK):
            rows = session.execute(_PAID_PORTIONS, {"bill_ids": ids[start : start + _CHUNK]})
            for bill_id, paid_on, component, amount in rows:
                sums[(bill_id, paid_on)][component is Component.SANCTION] += int(amount)
        found: dict[int, list[PaidPortion]] = defaultdict(list)
        for (bill_id, paid_on), (principal, sanction) in sorted(sums.items()):
            if principal or sanction:
                found[bill_id].append(PaidPortion(paid_on, principal, sanction))
        return found

    def apply_credit(
        self, session: AnySession, vendor_ids: Iterable[int], *, as_of: date, actor: str
    ) -> int:
        return apply_credit(session, vendor_ids, as_of=as_of, actor=actor)


def init_ledger(app: Flask) -> None:
    from retribusi.levy.balances import register_payment_ledger

    apply_defaults(app, DEFAULTS)
    AllocationOrder(app.config["ALLOCATION_ORDER"])  # a bad setting stops the start
    register_payment_ledger(app, AllocationLedger())


def _order() -> AllocationOrder:
    return AllocationOrder(current_app.config["ALLOCATION_ORDER"])


# --- recording ------------------------------------------------------------------------------------


def _check(incoming: PaymentIn) -> None:
    amount = incoming.amount_idr
    limit = int(current_app.config["PAYMENT_MAX_IDR"])
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise invalid("amount_idr", "type", "an amount is a whole number of rupiah")
    if amount <= 0:
        raise invalid("amount_idr", "not_positive", "an amount must be more than zero")
    if amount > limit:
        raise invalid("amount_idr", "too_large", f"an amount may not exceed Rp{limit:,}")
    for name, value, most in (
        ("sender", incoming.sender, MAX_SENDER_CHARS),
        ("external_ref", incoming.external_ref, MAX_REF_CHARS),
    ):
        if not isinstance(value, str) or not value.strip() or len(value) > most:
            raise invalid(name, "length", f"{name} must be 1-{most} characters")
        if not value.isprintable():
            raise invalid(name, "characters", f"{name} has characters that cannot be printed")
    paid_at = incoming.paid_at
    if paid_at.tzinfo is None:
        raise invalid("paid_at", "naive", "the payment time needs a time zone")
    skew = timedelta(seconds=int(current_app.config["PAYMENT_FUTURE_SKEW_S"]))
    if paid_at > clock.now() + skew:
        raise invalid("paid_at", "future", "the payment time is in the future")
    va = incoming.va_number
    if va is not None and not (va.isascii() and va.isdigit() and 1 <= len(va) <= 32):
        raise invalid("va_number", "format", "a virtual account number is 1-32 digits")
    if len(incoming.target_bill_ids) > MAX_TARGETS:
        raise invalid("target_bill_ids", "too_many", f"at most {MAX_TARGETS} bills per payment")
    # Ids beyond what a database integer holds name nothing (and would overflow SQLite).
    if any(not _is_id(b) for b in incoming.target_bill_ids):
        raise invalid("target_bill_ids", "not_vendors", "a target is not a bill id")
    if not _is_id(incoming.vendor_id):
        raise not_found("vendor_id", f"no vendor {incoming.vendor_id}")


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def _existing(session: AnySession, incoming: PaymentIn) -> Payment | None:
    return session.scalars(
        select(Payment).where(
            Payment.channel == incoming.channel,
            Payment.sender == incoming.sender,
            Payment.external_ref == incoming.external_ref,
        )
    ).first()


def _replay(session: AnySession, payment: Payment, incoming: PaymentIn, digest: str) -> Recorded:
    if payment.request_hash != digest:
        log.warning(
            "payment reference reused with other content: %s %s %s (payment %s)",
            incoming.channel.value,
            incoming.sender,
            incoming.external_ref,
            payment.id,
        )
        raise conflict(
            "external_ref",
            "reused",
            f"reference {incoming.external_ref} was used for another payment",
        )
    return _result(session, payment, replayed=True)


def _result(session: AnySession, payment: Payment, *, replayed: bool) -> Recorded:
    """The answer for a payment as it was first recorded (reversals do not change it)."""
    parts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for allocation in payment.allocations:
        if allocation.reversal_id is None and not allocation.from_credit:
            parts[allocation.bill_id][allocation.component is Component.SANCTION] += (
                allocation.amount_idr
            )
    bills = {b.id: b for b in session.scalars(select(Bill).where(Bill.id.in_(list(parts)))).all()}
    credit = session.scalar(
        select(func.coalesce(func.sum(CreditEntry.amount_idr), 0)).where(
            CreditEntry.payment_id == payment.id, CreditEntry.reason == CreditReason.EXCESS
        )
    )
    assert payment.receipt is not None, "every payment is receipted in its own transaction"
    return Recorded(
        payment_id=payment.id,
        vendor_id=payment.vendor_id,
        amount_idr=payment.amount_idr,
        credit_idr=int(credit or 0),
        receipt_number=payment.receipt.number,
        paid_at=payment.paid_at,
        bills=tuple(
            AllocatedBill(bill_id, bills[bill_id].number, bills[bill_id].period, p, s)
            for bill_id, (p, s) in sorted(
                parts.items(),
                key=lambda kv: (bills[kv[0]].due_on, bills[kv[0]].period_start, kv[0]),
            )
        ),
        replayed=replayed,
        reversed=payment.reversal is not None,
    )


def _lock_vendor(session: AnySession, vendor_id: int) -> Vendor | None:
    query = _VENDOR_LOCKED if session.get_bind().dialect.name == "postgresql" else _VENDOR
    return session.scalars(query, {"vendor_id": vendor_id}).first()


def _items(session: AnySession, vendor_id: int, as_of: date) -> list[OpenItem]:
    return [
        OpenItem(b.bill_id, b.due_on, b.principal_outstanding_idr, b.sanction_outstanding_idr)
        for b in open_bills_for_vendor(vendor_id, as_of, session=session, for_update=True)
    ]


def _write_parts(
    session: AnySession,
    payment_id: int,
    parts: Sequence[Part],
    *,
    paid_on: date,
    at: datetime,
    from_credit: bool = False,
) -> None:
    for part in parts:
        session.add(
            Allocation(
                payment_id=payment_id,
                bill_id=part.bill_id,
                component=Component(part.component.value),
                amount_idr=part.amount_idr,
                paid_on=paid_on,
                from_credit=from_credit,
                created_at=at,
            )
        )


def _sync(session: AnySession, bill_ids: Iterable[int], *, as_of: date, actor: str) -> None:
    session.flush()
    for bill_id in sorted(set(bill_ids)):
        sync_bill_status(session, bill_id, as_of=as_of, actor=actor)


def record_payment(incoming: PaymentIn) -> Recorded:
    """Record, allocate and receipt a payment in one transaction; idempotent on its reference."""
    _check(incoming)
    session = db.session
    digest = incoming.meaning()
    try:
        with transaction(session):
            return _record(session, incoming, digest)
    except IntegrityError:
        # The reference is taken: a replay (or a concurrent duplicate that committed first).
        found = _existing(session, incoming)
        if found is None:
            raise
        try:
            return _replay(session, found, incoming, digest)
        finally:
            session.rollback()


def _record(session: AnySession, incoming: PaymentIn, digest: str) -> Recorded:
    """One payment's transaction, in as few round trips as it can: lock the vendor, claim the
    reference, read the open bills once, then write allocations, statuses, receipt and audit;
    every answer is built from what was written, not read back."""
    now = clock.now()
    paid_on = clock.business_date(incoming.paid_at)
    # The vendor first: payments for one vendor take turns from here (PostgreSQL row lock;
    # SQLite serialises writers at the insert below).
    vendor = _lock_vendor(session, incoming.vendor_id)
    if vendor is None:
        raise not_found("vendor_id", f"no vendor {incoming.vendor_id}")
    payment = Payment(
        channel=incoming.channel,
        sender=incoming.sender,
        external_ref=incoming.external_ref,
        vendor_id=incoming.vendor_id,
        market_id=incoming.market_id,
        stall_id=incoming.stall_id,
        va_number=incoming.va_number,
        amount_idr=incoming.amount_idr,
        paid_at=incoming.paid_at,
        paid_on=paid_on,
        received_at=now,
        request_hash=digest,
        raw=dict(incoming.raw),
        target_bill_ids=sorted(incoming.target_bill_ids),
        flags=dict(incoming.flags),
        recorded_by=incoming.recorded_by,
    )
    session.add(payment)
    # Claims the reference (a duplicate fails here, before any work) and, on SQLite, takes the
    # database's write lock: the bills read next are read by one writer at a time, so a closed
    # VA's amount check cannot pass twice (tests/va/test_concurrency.py).
    session.flush()
    opened = open_accounts(session, incoming.vendor_id, paid_on, lock=True)
    by_id = {bill.id: (bill, account) for bill, account in opened}
    targets = list(incoming.target_bill_ids)
    if any(t not in by_id for t in targets):
        foreign = _foreign_targets(session, incoming)
        if foreign:
            raise invalid(
                "target_bill_ids", "not_vendors", f"bills {foreign} are not this vendor's"
            )
    latest = _latest_day(opened, paid_on)
    items = [_owed(bill, account, paid_on, latest) for bill, account in opened]
    if incoming.check_owed is not None:
        incoming.check_owed(sum(i.principal_idr + i.sanction_idr for i in items))
    split = split_payment(
        incoming.amount_idr,
        items,
        order=_order(),
        target_bill_ids=[t for t in targets if t in by_id],
    )
    _write_parts(session, payment.id, split.parts, paid_on=paid_on, at=now)
    if split.credit_idr:
        session.add(
            CreditEntry(
                vendor_id=incoming.vendor_id,
                payment_id=payment.id,
                amount_idr=split.credit_idr,
                reason=CreditReason.EXCESS,
                created_at=now,
            )
        )
    per_bill: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for part in split.parts:
        per_bill[part.bill_id][part.component.value == Component.SANCTION.value] += part.amount_idr
    changed = [
        (
            by_id[bill_id][0],
            by_id[bill_id][1].figures(latest, [PaidPortion(paid_on, principal, sanction)]),
        )
        for bill_id, (principal, sanction) in per_bill.items()
    ]
    moves = settle_statuses(changed)
    bills = tuple(
        AllocatedBill(bill.id, bill.number, bill.period, *per_bill[bill.id])
        for bill, _account in opened
        if bill.id in per_bill
    )
    receipt = issue_receipt(
        session,
        payment,
        bills=[(b.number, b.principal_idr + b.sanction_idr) for b in bills],
        credit_idr=split.credit_idr,
        payer_name=vendor.full_name,
    )
    if moves:
        # Last, because the audit chain is one queue for the whole city: hold its lock briefly.
        record_event(
            session,
            actor=incoming.recorded_by,
            action="payment.allocated",
            subject_type="payment",
            subject_id=payment.id,
            details={"receipt": receipt.number, "moves": [m.to_dict() for m in moves]},
        )
    recorded = Recorded(
        payment_id=payment.id,
        vendor_id=payment.vendor_id,
        amount_idr=payment.amount_idr,
        credit_idr=split.credit_idr,
        receipt_number=receipt.number,
        paid_at=payment.paid_at,
        bills=bills,
    )
    if incoming.on_recorded is not None:
        incoming.on_recorded(recorded)
    return recorded


def _latest_day(opened: Sequence[tuple[Bill, Account]], paid_on: date) -> date:
    """The latest day the vendor's open bills hold a payment of: the payment's own business
    day, unless one recorded before it is dated later (cash kept on an offline phone, a bank's
    clock behind ours)."""
    days = [portion.paid_on for _bill, account in opened for portion in account.portions]
    return max([paid_on, *days])


def _owed(bill: Bill, account: Account, paid_on: date, latest: date) -> OpenItem:
    """What a payment of ``paid_on`` may take from a bill: the principal still outstanding after
    every payment recorded so far (also those dated later: a bill's account on an earlier day
    does not see them, and would offer principal already paid), and the sanction as it stands
    when that principal counts from the payment's own day. A payment that reaches us after a
    later one (cash kept on an offline phone) is thus not charged the sanction its principal
    would have stopped. Its allocations count from its own day.

    The sanction assumes the payment pays the bill's principal whole: under either allocation
    order a payment reaches a bill's sanction only after that principal, so it is exact
    whenever the sanction is paid at all."""
    now = account.figures(latest)
    if latest == paid_on:
        sanction = now.sanction_outstanding_idr
    else:
        early = PaidPortion(paid_on, now.principal_outstanding_idr, 0)
        sanction = account.figures(latest, [early]).sanction_outstanding_idr
    return OpenItem(bill.id, bill.due_on, now.principal_outstanding_idr, sanction)


def _foreign_targets(session: AnySession, incoming: PaymentIn) -> list[int]:
    if not incoming.target_bill_ids:
        return []
    owners = dict(
        session.execute(
            select(Bill.id, Bill.vendor_id).where(Bill.id.in_(incoming.target_bill_ids))
        ).all()
    )
    return sorted(b for b in incoming.target_bill_ids if owners.get(b) != incoming.vendor_id)


def find_payment(channel: Channel, sender: str, external_ref: str) -> Payment | None:
    found: Payment | None = db.session.scalars(
        select(Payment).where(
            Payment.channel == channel,
            Payment.sender == sender,
            Payment.external_ref == external_ref,
        )
    ).first()
    return found


def payment_result(payment_id: int) -> Recorded:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise not_found("payment", f"no payment {payment_id}")
    return _result(db.session, payment, replayed=True)


# --- credit -------------------------------------------------------------------------------------


def credit_balance(vendor_id: int, session: AnySession | None = None) -> int:
    session = session or db.session
    total = session.scalar(
        select(func.coalesce(func.sum(CreditEntry.amount_idr), 0)).where(
            CreditEntry.vendor_id == vendor_id
        )
    )
    return int(total or 0)


def apply_credit(session: AnySession, vendor_ids: Iterable[int], *, as_of: date, actor: str) -> int:
    """Pay the open bills of ``vendor_ids`` from their credit, oldest credit first, inside the
    caller's transaction. Called after bills are issued and after a reversal reopens bills.
    Returns the rupiah applied."""
    wanted = set(vendor_ids)
    if not wanted:
        return 0
    by_payment = session.execute(
        select(CreditEntry.vendor_id, CreditEntry.payment_id, func.sum(CreditEntry.amount_idr))
        .group_by(CreditEntry.vendor_id, CreditEntry.payment_id)
        .having(func.sum(CreditEntry.amount_idr) > 0)
        .order_by(CreditEntry.vendor_id, CreditEntry.payment_id)
    ).all()
    available: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for vendor_id, payment_id, amount in by_payment:
        if vendor_id in wanted:
            available[vendor_id].append((payment_id, int(amount)))
    applied = 0
    now = clock.now()
    for vendor_id in sorted(available):
        _lock_vendor(session, vendor_id)
        items = {i.bill_id: i for i in _items(session, vendor_id, as_of)}
        touched: set[int] = set()
        for payment_id, amount in available[vendor_id]:
            if not items:
                break
            split = split_payment(amount, items.values(), order=_order())
            _write_parts(session, payment_id, split.parts, paid_on=as_of, at=now, from_credit=True)
            per_bill: dict[int, int] = defaultdict(int)
            for part in split.parts:
                per_bill[part.bill_id] += part.amount_idr
                item = items[part.bill_id]
                principal, sanction = item.principal_idr, item.sanction_idr
                if part.component.value == Component.PRINCIPAL.value:
                    principal -= part.amount_idr
                else:
                    sanction -= part.amount_idr
                if principal or sanction:
                    items[part.bill_id] = OpenItem(item.bill_id, item.due_on, principal, sanction)
                else:
                    del items[part.bill_id]
            for bill_id, amount_idr in sorted(per_bill.items()):
                session.add(
                    CreditEntry(
                        vendor_id=vendor_id,
                        payment_id=payment_id,
                        amount_idr=-amount_idr,
                        reason=CreditReason.APPLIED,
                        bill_id=bill_id,
                        created_at=now,
                    )
                )
                applied += amount_idr
            touched |= set(per_bill)
        _sync(session, touched, as_of=as_of, actor=actor)
    return applied


# --- reversal ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reversed:
    payment_id: int
    reversal_id: int
    reopened_bill_ids: tuple[int, ...]
    credit_withdrawn_idr: int


def reverse_payment(
    payment_id: int, *, reference: str, reason: str, actor: str, user_label: str | None = None
) -> Reversed:
    """Undo a payment (a bank reversal, a refund, a cash entry made in error) with a new record:
    every allocation it made gets its negative twin, its remaining credit is withdrawn, and the
    bills it paid reopen. A payment is reversed at most once."""
    reason = (reason or "").strip()
    reference = (reference or "").strip()
    if not 10 <= len(reason) <= 300:
        raise invalid("reason", "required", "give a reason of 10-300 characters")
    if not 1 <= len(reference) <= MAX_REF_CHARS or not reference.isprintable():
        raise invalid("reference", "length", f"a reference is 1-{MAX_REF_CHARS} characters")
    session = db.session
    try:
        with transaction(session):
            payment = session.get(Payment, payment_id)
            if payment is None:
                raise not_found("payment", f"no payment {payment_id}")
            _lock_vendor(session, payment.vendor_id)
            session.refresh(payment)
            if payment.reversal is not None:
                raise conflict("payment", "already_reversed", "this payment is already reversed")
            now = clock.now()
            reversal = PaymentReversal(
                payment_id=payment.id,
                reference=reference,
                reversed_at=now,
                actor=actor,
                reason=reason,
            )
            session.add(reversal)
            session.flush()
            reopened: set[int] = set()
            for allocation in list(payment.allocations):
                assert allocation.amount_idr > 0
                assert allocation.reversal_id is None
                session.add(
                    Allocation(
                        payment_id=payment.id,
                        bill_id=allocation.bill_id,
                        component=allocation.component,
                        amount_idr=-allocation.amount_idr,
                        reversal_id=reversal.id,
                        paid_on=allocation.paid_on,
                        from_credit=allocation.from_credit,
                        created_at=now,
                    )
                )
                reopened.add(allocation.bill_id)
            credit = int(
                session.scalar(
                    select(func.coalesce(func.sum(CreditEntry.amount_idr), 0)).where(
                        CreditEntry.payment_id == payment.id
                    )
                )
                or 0
            )
            assert credit >= 0
            if credit:
                session.add(
                    CreditEntry(
                        vendor_id=payment.vendor_id,
                        payment_id=payment.id,
                        amount_idr=-credit,
                        reason=CreditReason.REVERSED,
                        reversal_id=reversal.id,
                        created_at=now,
                    )
                )
            today = clock.today_wib()
            _sync(session, reopened, as_of=today, actor=actor)
            # Other credit of the vendor's pays what the reversal reopened.
            apply_credit(session, [payment.vendor_id], as_of=today, actor=actor)
            record_event(
                session,
                actor=actor,
                action="payment.reversed",
                subject_type="payment",
                subject_id=payment.id,
                details={
                    "reference": reference,
                    "reason": reason,
                    "amount_idr": payment.amount_idr,
                    "channel": payment.channel.value,
                    "external_ref": payment.external_ref,
                    "reopened_bills": sorted(reopened),
                    "credit_withdrawn_idr": credit,
                    **({"by": user_label} if user_label else {}),
                },
            )
            return Reversed(payment.id, reversal.id, tuple(sorted(reopened)), credit)
    except IntegrityError as error:
        raise conflict("payment", "already_reversed", "this payment is already reversed") from error


def payments_summary_part(vendor: Vendor) -> dict[str, Any]:
    """``vendors show --json`` and the vendor API: the vendor's credit and their payments."""
    count, total, last = db.session.execute(
        select(
            func.count(Payment.id),
            func.coalesce(func.sum(Payment.amount_idr), 0),
            func.max(Payment.paid_at),
        ).where(Payment.vendor_id == vendor.id)
    ).one()
    return {
        "credit_idr": credit_balance(vendor.id),
        "payments": {
            "count": int(count),
            "received_idr": int(total),
            "last_paid_at": clock.to_wib(last).isoformat(timespec="seconds") if last else None,
        },
    }
