"""Reading the ledger for pages and the API: who may see which payment, and payments as dicts.

Scope: finance and administrators see every payment; an officer sees the payments of vendors who
hold or held a stall in one of their markets, and payments taken in their markets; a vendor sees
their own. A payment outside the reader's scope answers 403 (its existence is no secret to the
staff who could ask the office).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, or_, select

from payments.deposits import deposit_status
from payments.models import Allocation, Channel, Deposit, DepositItem, Payment, Receipt
from payments.receipts import PAPERS, officer_of, verification_url
from retribusi import clock
from retribusi.auth.models import Role, User
from retribusi.errors import Forbidden
from retribusi.extensions import db
from retribusi.levy.errors import not_found
from retribusi.levy.models import Bill
from vendors.models import Market, Placement, Stall, Vendor


def own_vendor_id(user: User) -> int | None:
    found: int | None = db.session.scalar(select(Vendor.id).where(Vendor.user_id == user.id))
    return found


def _officer_scope(codes: frozenset[str]) -> Any:
    """SQL: the payment's vendor holds or held a stall in these markets, or it was taken there."""
    in_markets = select(Market.id).where(Market.code.in_(sorted(codes)))
    vendors = (
        select(Placement.vendor_id)
        .join(Stall, Stall.id == Placement.stall_id)
        .where(Stall.market_id.in_(in_markets))
    )
    return or_(Payment.vendor_id.in_(vendors), Payment.market_id.in_(in_markets))


@dataclass(frozen=True)
class PaymentFilter:
    vendor_id: int | None = None
    channel: Channel | None = None
    paid_from: date | None = None
    paid_to: date | None = None
    officer_id: int | None = None  # cash taken by this officer
    market_code: str | None = None  # taken there, or by a vendor who holds or held a stall there


def payments_query(user: User, wanted: PaymentFilter | None = None) -> Select[Payment]:
    """Payments ``user`` may see, newest first, narrowed by ``wanted``."""
    wanted = wanted or PaymentFilter()
    query = select(Payment)
    if user.role is Role.VENDOR:
        own = own_vendor_id(user)
        if own is None or wanted.vendor_id not in {None, own}:
            raise Forbidden("vendors see only their own payments")
        query = query.where(Payment.vendor_id == own)
    elif user.role is Role.OFFICER:
        query = query.where(_officer_scope(user.market_codes))
    if wanted.vendor_id is not None:
        query = query.where(Payment.vendor_id == wanted.vendor_id)
    if wanted.channel is not None:
        query = query.where(Payment.channel == wanted.channel)
    if wanted.market_code is not None:
        query = query.where(_officer_scope(frozenset({wanted.market_code})))
    if wanted.paid_from is not None:
        query = query.where(Payment.paid_on >= wanted.paid_from)
    if wanted.paid_to is not None:
        query = query.where(Payment.paid_on <= wanted.paid_to)
    if wanted.officer_id is not None:
        query = query.where(
            Payment.channel == Channel.CASH, Payment.sender == f"officer:{wanted.officer_id}"
        )
    return query.order_by(Payment.paid_at.desc(), Payment.id.desc())


def count(query: Select[Any]) -> int:
    return int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def check_payment_access(payment: Payment, user: User) -> None:
    if user.role in {Role.ADMIN, Role.FINANCE}:
        return
    if user.role is Role.VENDOR:
        if own_vendor_id(user) != payment.vendor_id:
            raise Forbidden("this payment is not yours")
        return
    visible = db.session.scalar(
        select(Payment.id).where(Payment.id == payment.id, _officer_scope(user.market_codes))
    )
    if visible is None:
        raise Forbidden("this payment is outside your markets")


def get_payment(payment_id: int, user: User) -> Payment:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise not_found("payment", f"no payment {payment_id}")
    check_payment_access(payment, user)
    return payment


def get_receipt(receipt_id: int, user: User) -> Receipt:
    receipt = db.session.get(Receipt, receipt_id)
    if receipt is None:
        raise not_found("receipt", f"no receipt {receipt_id}")
    check_payment_access(receipt.payment, user)
    return receipt


def receipt_by_number(number: str, user: User) -> Receipt:
    receipt = db.session.scalars(select(Receipt).where(Receipt.number == number[:40])).first()
    if receipt is None:
        raise not_found("receipt", f"no receipt {number[:40]}")
    check_payment_access(receipt.payment, user)
    return receipt


# --- as dicts (the API's bodies) ----------------------------------------------------------------


def allocation_dicts(allocations: list[Allocation]) -> list[dict[str, Any]]:
    ids = sorted({a.bill_id for a in allocations})
    numbers = dict(db.session.execute(select(Bill.id, Bill.number).where(Bill.id.in_(ids))).all())
    return [
        {
            "id": a.id,
            "payment_id": a.payment_id,
            "bill_id": a.bill_id,
            "bill_number": numbers.get(a.bill_id),
            "component": a.component.value,
            "amount_idr": a.amount_idr,
            "paid_on": a.paid_on,
            "from_credit": a.from_credit,
            "reversal_id": a.reversal_id,
            "created_at": a.created_at,
        }
        for a in allocations
    ]


def receipt_dict(receipt: Receipt) -> dict[str, Any]:
    from flask import url_for

    return {
        "id": receipt.id,
        "number": receipt.number,
        "payment_id": receipt.payment_id,
        "issued_at": receipt.issued_at,
        "payload": receipt.payload,
        "token": receipt.token,
        "verify_url": verification_url(receipt.token),
        "pdf_urls": {
            paper: url_for("payments.receipt_pdf_page", payment_id=receipt.payment_id, paper=paper)
            for paper in PAPERS
        },
    }


def payment_dict(payment: Payment, *, detail: bool = False) -> dict[str, Any]:
    vendor = db.session.get(Vendor, payment.vendor_id)
    market = db.session.get(Market, payment.market_id) if payment.market_id else None
    deposit_id = db.session.scalar(
        select(DepositItem.deposit_id).where(DepositItem.payment_id == payment.id)
    )
    body: dict[str, Any] = {
        "id": payment.id,
        "channel": payment.channel.value,
        "sender": payment.sender,
        "external_ref": payment.external_ref,
        "vendor_id": payment.vendor_id,
        "vendor_name": vendor.full_name if vendor else None,
        "market": market.code if market else None,
        "va_number": payment.va_number,
        "amount_idr": payment.amount_idr,
        "paid_at": payment.paid_at,
        "paid_on": payment.paid_on,
        "received_at": payment.received_at,
        "recorded_by": payment.recorded_by,
        "officer_id": officer_of(payment.sender) if payment.channel is Channel.CASH else None,
        "receipt_number": payment.receipt.number if payment.receipt else None,
        "reversed": payment.reversal is not None,
        "deposit_id": deposit_id,
    }
    if detail:
        body["allocations"] = allocation_dicts(list(payment.allocations))
        body["receipt"] = receipt_dict(payment.receipt) if payment.receipt else None
        reversal = payment.reversal
        body["reversal"] = (
            {
                "id": reversal.id,
                "reference": reversal.reference,
                "reason": reversal.reason,
                "actor": reversal.actor,
                "reversed_at": reversal.reversed_at,
            }
            if reversal
            else None
        )
    return body


def deposit_dict(deposit: Deposit, *, items: bool = False) -> dict[str, Any]:
    from payments.deposits import collected_idr, deposit_items

    officer = db.session.get(User, deposit.officer_id)
    collected = collected_idr(deposit)
    verification = deposit.verification
    body: dict[str, Any] = {
        "id": deposit.id,
        "officer_id": deposit.officer_id,
        "officer_name": officer.full_name if officer else None,
        "slip_ref": deposit.slip_ref,
        "amount_idr": deposit.amount_idr,
        "deposited_on": deposit.deposited_on,
        "submitted_at": deposit.submitted_at,
        "note": deposit.note,
        "payments": len(deposit.items),
        "collected_idr": collected,
        "slip_difference_idr": deposit.amount_idr - collected,
        "status": deposit_status(deposit).value,
        "verification": (
            {
                "status": verification.status.value,
                "received_idr": verification.received_idr,
                "collected_idr": verification.collected_idr,
                "difference_idr": verification.difference_idr,
                "verified_by": verification.verified_by,
                "verified_at": verification.verified_at,
                "note": verification.note,
            }
            if verification
            else None
        ),
    }
    if items:
        body["items"] = [
            {
                "payment_id": c.payment_id,
                "receipt_number": c.receipt_number,
                "vendor_id": c.vendor_id,
                "vendor_name": c.vendor_name,
                "market": c.market_code,
                "amount_idr": c.amount_idr,
                "paid_at": c.paid_at,
                "reversed": c.reversed,
            }
            for c in deposit_items(deposit)
        ]
    return body


def today() -> date:
    return clock.today_wib()
