"""Deposits (*setoran*): an officer hands the cash they collected to the bank, finance checks it.

An officer's cash payments that are in no deposit and not reversed are their *undeposited
collections*. The officer deposits them at the bank (or the Dinas kas) and records the deposit
with the slip's reference and amount, choosing one day's collections, all of them, or a picked
set. Finance then verifies the deposit: what the bank actually credited for the slip against the
collections it covers; the difference in rupiah is kept (``verified`` when it is nil,
``discrepancy`` otherwise).

What the database enforces, whatever the code above it does: a cash payment is in at most one
deposit (``deposit_items.payment_id`` is unique), an item is a cash payment of the deposit's own
officer and not reversed (a trigger, ``0005_cash``), a deposit is verified once, and every row
is append-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from flask import Flask, current_app
from sqlalchemy import Select, exists, func, select
from sqlalchemy.exc import IntegrityError

from payments.cash import sender_for
from payments.models import (
    Channel,
    Deposit,
    DepositItem,
    DepositStatus,
    DepositVerification,
    Payment,
    PaymentReversal,
    Receipt,
)
from retribusi import clock
from retribusi.audit import record_event
from retribusi.auth.models import Role, User
from retribusi.config import apply_defaults
from retribusi.db import MAX_ID, transaction
from retribusi.errors import Forbidden
from retribusi.extensions import db
from retribusi.levy.errors import conflict, invalid, not_found
from vendors.models import Market, Vendor

DEFAULTS: Final[dict[str, Any]] = {
    # Payments in one deposit: a month of a busy officer's collections.
    "DEPOSIT_MAX_ITEMS": 2000,
    # The largest slip accepted (Rp2 milyar): far above a month of one market's cash.
    "DEPOSIT_MAX_IDR": 2_000_000_000,
    # How long after the day on the slip the deposit may still be recorded.
    "DEPOSIT_BACKDATE_MAX_DAYS": 31,
}
MAX_SLIP_CHARS: Final = 60
MAX_NOTE_CHARS: Final = 300


def init_deposits(app: Flask) -> None:
    apply_defaults(app, DEFAULTS)


class Selection(StrEnum):
    DAY = "day"  # every undeposited collection of one business day
    ALL = "all"  # every undeposited collection
    PICKED = "picked"  # the payments named


# --- what an officer holds --------------------------------------------------------------------


@dataclass(frozen=True)
class Collection:
    payment_id: int
    receipt_number: str
    vendor_id: int
    vendor_name: str
    market_code: str | None
    amount_idr: int
    paid_at: datetime  # WIB
    paid_on: date
    reversed: bool = False


@dataclass(frozen=True)
class DaySum:
    day: date
    count: int
    total_idr: int


def _undeposited(officer_id: int) -> Select[Payment]:
    return select(Payment).where(
        Payment.channel == Channel.CASH,
        Payment.sender == sender_for(officer_id),
        ~exists().where(DepositItem.payment_id == Payment.id),
        ~exists().where(PaymentReversal.payment_id == Payment.id),
    )


def _collections(query: Select[Payment]) -> list[Collection]:
    rows = db.session.execute(
        select(Payment, Receipt.number, Vendor.full_name, Market.code)
        .join(Receipt, Receipt.payment_id == Payment.id)
        .join(Vendor, Vendor.id == Payment.vendor_id)
        .outerjoin(Market, Market.id == Payment.market_id)
        .where(Payment.id.in_(query.with_only_columns(Payment.id).scalar_subquery()))
        .order_by(Payment.paid_at, Payment.id)
    ).all()
    return [
        Collection(
            payment_id=p.id,
            receipt_number=number,
            vendor_id=p.vendor_id,
            vendor_name=name,
            market_code=code,
            amount_idr=p.amount_idr,
            paid_at=clock.to_wib(p.paid_at),
            paid_on=p.paid_on,
            reversed=p.reversal is not None,
        )
        for p, number, name, code in rows
    ]


def undeposited(officer_id: int, *, on: date | None = None) -> list[Collection]:
    """The officer's cash payments in no deposit and not reversed, oldest first."""
    query = _undeposited(officer_id)
    if on is not None:
        query = query.where(Payment.paid_on == on)
    limit = int(current_app.config["DEPOSIT_MAX_ITEMS"])
    return _collections(query.order_by(Payment.paid_at, Payment.id).limit(limit))


def undeposited_days(officer_id: int) -> list[DaySum]:
    sub = _undeposited(officer_id).subquery()
    rows = db.session.execute(
        select(sub.c.paid_on, func.count(), func.sum(sub.c.amount_idr))
        .group_by(sub.c.paid_on)
        .order_by(sub.c.paid_on)
    ).all()
    return [DaySum(day, int(count), int(total)) for day, count, total in rows]


# --- recording a deposit ----------------------------------------------------------------------


@dataclass(frozen=True)
class DepositIn:
    officer: User
    slip_ref: str
    amount_idr: int
    deposited_on: date
    selection: Selection
    collected_on: date | None = None
    payment_ids: tuple[int, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class DepositResult:
    deposit: Deposit
    replayed: bool = False


def _text(name: str, value: object, most: int, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise invalid(name, "required", f"{name} is required")
        return None
    if not isinstance(value, str):
        raise invalid(name, "type", f"{name} must be text")
    text = " ".join(value.split())
    if len(text) > most:
        raise invalid(name, "length", f"{name} is at most {most} characters")
    if not text.isprintable():
        raise invalid(name, "characters", f"{name} has characters that cannot be printed")
    return text


def _amount(name: str, value: object, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, "type", "an amount is a whole number of rupiah")
    if value < 0 or (value == 0 and not allow_zero):
        raise invalid(name, "not_positive", "an amount must be more than zero")
    if value > int(current_app.config["DEPOSIT_MAX_IDR"]):
        raise invalid(name, "too_large", "the amount is larger than any deposit")
    return value


def _check_day(deposited_on: object) -> date:
    if not isinstance(deposited_on, date) or isinstance(deposited_on, datetime):
        raise invalid("deposited_on", "type", "the day of the deposit is a date")
    today = clock.today_wib()
    if deposited_on > today:
        raise invalid("deposited_on", "future", "the deposit day is in the future")
    if deposited_on < today - timedelta(days=int(current_app.config["DEPOSIT_BACKDATE_MAX_DAYS"])):
        raise invalid("deposited_on", "too_old", "a deposit that old is recorded by finance")
    return deposited_on


def _officer(user: User) -> User:
    if user.role is not Role.OFFICER:
        raise Forbidden("only market officers deposit cash")
    return user


def _picked(officer: User, payment_ids: Sequence[int]) -> list[Payment]:
    if len(set(payment_ids)) != len(payment_ids):
        raise invalid("payment_ids", "duplicate", "a payment is named twice")
    payments = {
        p.id: p for p in db.session.scalars(select(Payment).where(Payment.id.in_(payment_ids)))
    }
    deposited = dict(
        db.session.execute(
            select(DepositItem.payment_id, Deposit.slip_ref)
            .join(Deposit, Deposit.id == DepositItem.deposit_id)
            .where(DepositItem.payment_id.in_(payment_ids))
        ).all()
    )
    chosen = []
    for payment_id in payment_ids:
        payment = payments.get(payment_id)
        if payment is None:
            raise not_found("payment_ids", f"no payment {payment_id}")
        if payment.channel is not Channel.CASH or payment.sender != sender_for(officer.id):
            raise invalid(
                "payment_ids", "not_your_cash", f"payment {payment_id} is not cash you took"
            )
        if payment_id in deposited:
            raise conflict(
                "payment_ids",
                "already_deposited",
                f"payment {payment_id} is already in deposit {deposited[payment_id]}",
            )
        if payment.reversal is not None:
            raise invalid("payment_ids", "reversed", f"payment {payment_id} was reversed")
        chosen.append(payment)
    return chosen


def _resolve(request: DepositIn) -> list[Payment]:
    limit = int(current_app.config["DEPOSIT_MAX_ITEMS"])
    if request.selection is Selection.PICKED:
        ids = list(request.payment_ids)
        if not ids:
            raise invalid("payment_ids", "required", "pick the collections deposited")
        if len(ids) > limit:
            raise invalid("payment_ids", "too_many", f"at most {limit} payments per deposit")
        if any(isinstance(i, bool) or not isinstance(i, int) or not 0 < i <= MAX_ID for i in ids):
            raise invalid("payment_ids", "type", "payment ids are positive whole numbers")
        return _picked(request.officer, ids)
    query = _undeposited(request.officer.id)
    if request.selection is Selection.DAY:
        if not isinstance(request.collected_on, date):
            raise invalid("collected_on", "required", "choose the day of the collections")
        query = query.where(Payment.paid_on == request.collected_on)
    elif request.selection is not Selection.ALL:  # pragma: no cover - a StrEnum has three
        raise invalid("selection", "unknown", "choose a day, all, or the payments")
    payments = list(db.session.scalars(query.order_by(Payment.paid_at, Payment.id)))
    if not payments:
        raise invalid("selection", "nothing_to_deposit", "there is no undeposited cash to deposit")
    if len(payments) > limit:
        raise invalid("selection", "too_many", f"at most {limit} payments per deposit")
    return payments


def _same(deposit: Deposit, request: DepositIn, payment_ids: set[int] | None) -> bool:
    items = {item.payment_id for item in deposit.items}
    if payment_ids is None:  # a day or "all": the items it took the first time stand
        payment_ids = items
    return (
        deposit.amount_idr == request.amount_idr
        and deposit.deposited_on == request.deposited_on
        and items == payment_ids
    )


def _existing(officer_id: int, slip_ref: str) -> Deposit | None:
    found: Deposit | None = db.session.scalars(
        select(Deposit).where(Deposit.officer_id == officer_id, Deposit.slip_ref == slip_ref)
    ).first()
    return found


def _replay(deposit: Deposit, request: DepositIn) -> DepositResult:
    picked = set(request.payment_ids) if request.selection is Selection.PICKED else None
    if _same(deposit, request, picked):
        return DepositResult(deposit, replayed=True)
    raise conflict(
        "slip_ref", "reused", f"slip {deposit.slip_ref} was recorded for another deposit"
    )


def create_deposit(request: DepositIn) -> DepositResult:
    """Record a deposit of the officer's undeposited cash; idempotent on the slip reference."""
    officer = _officer(request.officer)
    slip_ref = _text("slip_ref", request.slip_ref, MAX_SLIP_CHARS, required=True)
    assert slip_ref is not None
    note = _text("note", request.note, MAX_NOTE_CHARS, required=False)
    amount = _amount("amount_idr", request.amount_idr)
    deposited_on = _check_day(request.deposited_on)
    request = DepositIn(
        officer,
        slip_ref,
        amount,
        deposited_on,
        request.selection,
        request.collected_on,
        tuple(request.payment_ids),
        note,
    )
    existing = _existing(officer.id, slip_ref)
    if existing is not None:
        return _replay(existing, request)
    payments = _resolve(request)
    latest = max(p.paid_on for p in payments)
    if deposited_on < latest:
        raise invalid(
            "deposited_on", "before_collection", "the deposit is dated before cash it includes"
        )
    session = db.session
    try:
        with transaction(session):
            deposit = Deposit(
                officer_id=officer.id,
                slip_ref=slip_ref,
                amount_idr=amount,
                deposited_on=deposited_on,
                submitted_at=clock.now(),
                note=note,
            )
            session.add(deposit)
            session.flush()
            for payment in payments:
                session.add(DepositItem(deposit_id=deposit.id, payment_id=payment.id))
            session.flush()
            collected = sum(p.amount_idr for p in payments)
            record_event(
                session,
                actor=f"user:{officer.id}",
                action="deposit.submitted",
                subject_type="deposit",
                subject_id=deposit.id,
                details={
                    "slip_ref": slip_ref,
                    "amount_idr": amount,
                    "collected_idr": collected,
                    "payments": len(payments),
                    "deposited_on": deposited_on.isoformat(),
                },
            )
        session.refresh(deposit)
        return DepositResult(deposit)
    except IntegrityError:
        # Another request recorded this slip, or deposited one of these payments, first.
        existing = _existing(officer.id, slip_ref)
        if existing is not None:
            return _replay(existing, request)
        _picked(officer, [p.id for p in payments])  # names the payment taken meanwhile
        raise


# --- finance's check --------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    verification: DepositVerification
    replayed: bool = False


def collected_idr(deposit: Deposit) -> int:
    """Σ the deposit's cash payments that stand today (a payment reversed since is not cash
    the vendor paid, so depositing it is a difference to explain)."""
    return sum(item.payment.amount_idr for item in deposit.items if item.payment.reversal is None)


def verify_deposit(
    deposit_id: int, *, received_idr: int, note: str | None, user: User
) -> VerifyResult:
    """Finance compares what the bank credited for the slip with the collections deposited."""
    if user.role not in {Role.FINANCE, Role.ADMIN}:
        raise Forbidden("finance staff verify deposits")
    received = _amount("received_idr", received_idr, allow_zero=True)
    text = _text("note", note, MAX_NOTE_CHARS, required=False)
    session = db.session
    try:
        with transaction(session):
            deposit = session.get(Deposit, deposit_id)
            if deposit is None:
                raise not_found("deposit", f"no deposit {deposit_id}")
            if deposit.verification is not None:
                return _verified_again(deposit.verification, received)
            collected = collected_idr(deposit)
            difference = received - collected
            status = DepositStatus.VERIFIED if difference == 0 else DepositStatus.DISCREPANCY
            verification = DepositVerification(
                deposit_id=deposit.id,
                status=status,
                received_idr=received,
                collected_idr=collected,
                difference_idr=difference,
                verified_by=f"user:{user.id}",
                verified_at=clock.now(),
                note=text,
            )
            session.add(verification)
            session.flush()
            record_event(
                session,
                actor=f"user:{user.id}",
                action="deposit.verified",
                subject_type="deposit",
                subject_id=deposit.id,
                details={
                    "status": status.value,
                    "received_idr": received,
                    "collected_idr": collected,
                    "difference_idr": difference,
                    "slip_amount_idr": deposit.amount_idr,
                },
            )
        return VerifyResult(verification)
    except IntegrityError:
        found = session.scalars(
            select(DepositVerification).where(DepositVerification.deposit_id == deposit_id)
        ).first()
        if found is None:
            raise
        return _verified_again(found, received)


def _verified_again(verification: DepositVerification, received_idr: int) -> VerifyResult:
    if verification.received_idr == received_idr:
        return VerifyResult(verification, replayed=True)
    raise conflict("deposit", "already_verified", "this deposit is already verified")


# --- reading ----------------------------------------------------------------------------------


def deposit_status(deposit: Deposit) -> DepositStatus:
    return deposit.verification.status if deposit.verification else DepositStatus.SUBMITTED


def get_deposit(deposit_id: int, user: User) -> Deposit:
    """A deposit, if ``user`` may see it: finance and admin all, an officer their own."""
    deposit = db.session.get(Deposit, deposit_id)
    if deposit is None:
        raise not_found("deposit", f"no deposit {deposit_id}")
    if user.role is Role.OFFICER and deposit.officer_id != user.id:
        raise Forbidden("this deposit is another officer's")
    if user.role is Role.VENDOR:
        raise Forbidden("vendors do not see deposits")
    return deposit


def deposits_query(
    user: User,
    *,
    status: DepositStatus | None = None,
    officer_id: int | None = None,
    deposited_from: date | None = None,
    deposited_to: date | None = None,
) -> Select[Deposit]:
    """The deposits ``user`` may see (officers: their own), newest slip day first, filtered by
    finance's check and the slip's day (both ends included)."""
    query = select(Deposit)
    if deposited_from is not None:
        query = query.where(Deposit.deposited_on >= deposited_from)
    if deposited_to is not None:
        query = query.where(Deposit.deposited_on <= deposited_to)
    if user.role is Role.OFFICER:
        if officer_id is not None and officer_id != user.id:
            raise Forbidden("officers see their own deposits")
        query = query.where(Deposit.officer_id == user.id)
    elif user.role is Role.VENDOR:
        raise Forbidden("vendors do not see deposits")
    elif officer_id is not None:
        query = query.where(Deposit.officer_id == officer_id)
    verified = select(DepositVerification.deposit_id)
    if status is DepositStatus.SUBMITTED:
        query = query.where(Deposit.id.not_in(verified))
    elif status is not None:
        query = query.where(Deposit.id.in_(verified.where(DepositVerification.status == status)))
    return query.order_by(Deposit.deposited_on.desc(), Deposit.id.desc())


def deposit_items(deposit: Deposit) -> list[Collection]:
    ids = [item.payment_id for item in deposit.items]
    return _collections(select(Payment).where(Payment.id.in_(ids)))
