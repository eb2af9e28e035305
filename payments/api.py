"""Payments API under /api/v1: payments, allocations, receipts, reversals, officer cash and
deposits (OpenAPI at /api/v1/openapi.json).

Officers see the payments of their markets and only their own cash and deposits; a vendor sees
only their own payments and receipts. Writes are idempotent: cash by the device's
``Idempotency-Key``, a deposit by its slip reference, a reversal by its reference; a replay is
answered ``200`` with ``Idempotent-Replayed: true`` and the first answer.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from payments import schemas
from payments.cash import CashIn, check_device_key, record_cash
from payments.deposits import (
    DepositIn,
    Selection,
    create_deposit,
    deposits_query,
    get_deposit,
    undeposited,
    verify_deposit,
)
from payments.ledger import Recorded
from payments.models import Allocation, Channel, DepositStatus, Payment, Receipt
from payments.queries import (
    PaymentFilter,
    allocation_dicts,
    count,
    deposit_dict,
    get_payment,
    get_receipt,
    payment_dict,
    payments_query,
    receipt_dict,
)
from payments.receipts import verify_receipt
from payments.reversals import REVERSERS, reverse
from retribusi.auth.access import authenticated, current_account, public, roles_required
from retribusi.auth.models import Role
from retribusi.errors import Forbidden
from retribusi.extensions import db, limiter
from retribusi.levy.billing import get_bill
from retribusi.levy.errors import invalid

blp = Blueprint(
    "payments_api",
    __name__,
    url_prefix="/api/v1",
    description="Payments, allocations, receipts, officer cash and deposits",
)

REPLAYED = {"Idempotent-Replayed": "true"}


def _page(query: Any, args: dict[str, Any], render: Any) -> dict[str, Any]:
    page, size = args["page"], args["page_size"]
    rows = list(db.session.scalars(query.limit(size).offset((page - 1) * size)))
    return {"items": render(rows), "page": page, "page_size": size, "total": count(query)}


def _recorded_dict(recorded: Recorded) -> dict[str, Any]:
    payment = db.session.get(Payment, recorded.payment_id)
    assert payment is not None
    assert payment.receipt is not None
    return {
        **asdict(recorded),
        "allocated_idr": recorded.allocated_idr,
        "receipt": receipt_dict(payment.receipt),
    }


# --- payments, allocations, receipts ----------------------------------------------------------


@blp.route("/payments")
@authenticated
class Payments(MethodView):
    @blp.arguments(schemas.PaymentQuery, location="query")
    @blp.response(200, schemas.PaymentPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Payments the caller may see, newest first (officers: their markets; vendors: theirs)."""
        wanted = PaymentFilter(
            vendor_id=args.get("vendor_id"),
            channel=Channel(args["channel"]) if "channel" in args else None,
            paid_from=args.get("paid_from"),
            paid_to=args.get("paid_to"),
            officer_id=args.get("officer_id"),
        )
        query = payments_query(current_account(), wanted)
        return _page(query, args, lambda rows: [payment_dict(p) for p in rows])


@blp.route("/payments/<int:payment_id>")
@authenticated
class PaymentDetail(MethodView):
    @blp.response(200, schemas.PaymentDetailSchema)
    def get(self, payment_id: int) -> dict[str, Any]:
        """One payment with its allocations (negative ones undo a reversal), receipt and
        reversal."""
        return payment_dict(get_payment(payment_id, current_account()), detail=True)


@blp.route("/payments/<int:payment_id>/reversal")
@roles_required(*REVERSERS)
class PaymentReversal(MethodView):
    @blp.arguments(schemas.ReversalRequest)
    @blp.response(201, schemas.ReversalResultSchema)
    @blp.alt_response(200, schema=schemas.ReversalResultSchema, description="the same reversal")
    def post(self, body: dict[str, Any], payment_id: int) -> Any:
        """Reverse a payment (a bank reversal, a refund, cash entered in error): its bills
        reopen and its credit is withdrawn. The same reference again answers with the reversal
        already made; another reference for a reversed payment is a 409."""
        user = current_account()
        get_payment(payment_id, user)
        done = reverse(payment_id, reference=body["reference"], reason=body["reason"], user=user)
        payment = get_payment(payment_id, user)
        result = {
            "payment": payment_dict(payment, detail=True),
            "replayed": done.replayed,
            "reopened_bill_ids": list(done.reopened_bill_ids),
            "credit_withdrawn_idr": done.credit_withdrawn_idr,
        }
        return (result, 200, REPLAYED) if done.replayed else result


@blp.route("/allocations")
@authenticated
class Allocations(MethodView):
    @blp.arguments(schemas.AllocationQuery, location="query")
    @blp.response(200, schemas.AllocationPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The allocations of one payment (``payment_id``) or to one bill (``bill_id``)."""
        user = current_account()
        if ("payment_id" in args) == ("bill_id" in args):
            raise invalid("payment_id", "required", "give payment_id or bill_id (one of them)")
        if "payment_id" in args:
            get_payment(args["payment_id"], user)
            query = select(Allocation).where(Allocation.payment_id == args["payment_id"])
        else:
            get_bill(args["bill_id"], user)
            query = select(Allocation).where(Allocation.bill_id == args["bill_id"])
            if user.role is Role.VENDOR:  # only the payments that are theirs
                query = query.where(
                    Allocation.payment_id.in_(
                        payments_query(user).with_only_columns(Payment.id).order_by(None)
                    )
                )
        return _page(query.order_by(Allocation.id), args, allocation_dicts)


@blp.route("/receipts")
@authenticated
class Receipts(MethodView):
    @blp.arguments(schemas.ReceiptQuery, location="query")
    @blp.response(200, schemas.ReceiptPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Receipts the caller may see, newest first; ``number`` or ``payment_id`` finds one."""
        user = current_account()
        visible = payments_query(user).with_only_columns(Payment.id).order_by(None)
        query = select(Receipt).where(Receipt.payment_id.in_(visible))
        if "number" in args:
            query = query.where(Receipt.number == args["number"])
        if "payment_id" in args:
            query = query.where(Receipt.payment_id == args["payment_id"])
        query = query.order_by(Receipt.id.desc())
        return _page(query, args, lambda rows: [receipt_dict(r) for r in rows])


@blp.route("/receipts/<int:receipt_id>")
@authenticated
class ReceiptDetail(MethodView):
    @blp.response(200, schemas.ReceiptSchema)
    def get(self, receipt_id: int) -> dict[str, Any]:
        """One receipt: its signed token, verification link and PDF links."""
        return receipt_dict(get_receipt(receipt_id, current_account()))


@blp.route("/receipts/verify")
@public
class ReceiptVerify(MethodView):
    decorators = [limiter.limit("60 per minute")]  # noqa: RUF012 - flask's own attribute

    @blp.arguments(schemas.VerifyQuery, location="query")
    @blp.response(200, schemas.VerdictSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Check a receipt token (the part of the QR link after ``/kuitansi/v/``): our
        signature, a receipt we hold, the same facts; and whether the payment was reversed."""
        verdict = verify_receipt(args["token"])
        payload = verdict.payload if verdict.valid else None
        reversal = verdict.receipt.payment.reversal if verdict.receipt and verdict.valid else None
        return {
            "valid": verdict.valid,
            "reason": verdict.reason,
            "reversed": verdict.reversed,
            "number": payload.get("n") if payload else None,
            "amount_idr": payload.get("a") if payload else None,
            "paid_at": payload.get("t") if payload else None,
            "channel": payload.get("c") if payload else None,
            "vendor_name": payload.get("v") if payload else None,
            "bill_numbers": payload.get("b") if payload else None,
            "bill_count": payload.get("k") if payload else None,
            "credit_idr": payload.get("r") if payload else None,
            "reversed_at": reversal.reversed_at if reversal else None,
        }


# --- officer cash -----------------------------------------------------------------------------


@blp.route("/cash-payments")
@roles_required(Role.OFFICER)
class CashPayments(MethodView):
    @blp.arguments(schemas.IdempotencyHeader, location="headers")
    @blp.arguments(schemas.CashPaymentRequest)
    @blp.response(201, schemas.RecordedSchema)
    @blp.alt_response(200, schema=schemas.RecordedSchema, description="a replay: the first answer")
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": True,
                "description": "Made on the device before the first attempt and kept for every "
                "resend of this collection: 16-64 letters, digits, '-' or '_' (a UUID).",
                "schema": {"type": "string", "minLength": 16, "maxLength": 64},
            }
        ]
    )
    def post(self, headers: dict[str, Any], body: dict[str, Any]) -> Any:
        """Record cash an officer took in one of their markets, once per Idempotency-Key: a
        resend of the same collection answers 200 with the first receipt; the same key with
        another vendor, amount, market or bills is a 409 and nothing is written."""
        user = current_account()
        key = check_device_key(headers.get("key"))
        raw = {
            "vendor_id": body["vendor_id"],
            "market": body["market"],
            "amount_idr": body["amount_idr"],
            "bill_ids": body["bill_ids"],
            "paid_at": body["paid_at"].isoformat() if body["paid_at"] else None,
            "idempotency_key": key,
        }
        recorded = record_cash(
            CashIn(
                officer=user,
                vendor_id=body["vendor_id"],
                market_code=body["market"],
                amount_idr=body["amount_idr"],
                key=key,
                raw=raw,
                bill_ids=tuple(body["bill_ids"]),
                paid_at=body["paid_at"],
                source="api",
            )
        )
        result = _recorded_dict(recorded)
        return (result, 200, REPLAYED) if recorded.replayed else result


@blp.route("/cash-payments/undeposited")
@roles_required(Role.OFFICER)
class Undeposited(MethodView):
    @blp.response(200, schemas.UndepositedSchema)
    def get(self) -> dict[str, Any]:
        """The caller's cash payments in no deposit and not reversed, oldest first."""
        rows = undeposited(current_account().id)
        return {"items": rows, "total_idr": sum(c.amount_idr for c in rows), "count": len(rows)}


# --- deposits ---------------------------------------------------------------------------------


@blp.route("/deposits")
@roles_required(Role.OFFICER, Role.FINANCE, Role.ADMIN)
class Deposits(MethodView):
    @blp.arguments(schemas.DepositQuery, location="query")
    @blp.response(200, schemas.DepositPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Deposits, newest first: an officer's own; finance and admin everyone's."""
        status = DepositStatus(args["status"]) if "status" in args else None
        query = deposits_query(current_account(), status=status, officer_id=args.get("officer_id"))
        return _page(query, args, lambda rows: [deposit_dict(d) for d in rows])

    @blp.arguments(schemas.DepositRequest)
    @blp.response(201, schemas.DepositDetailSchema)
    @blp.alt_response(200, schema=schemas.DepositDetailSchema, description="the same deposit")
    def post(self, body: dict[str, Any]) -> Any:
        """An officer deposits undeposited cash: ``selection`` is ``day`` (with
        ``collected_on``), ``all``, or ``picked`` (with ``payment_ids``). Idempotent on
        ``slip_ref``."""
        user = current_account()
        if user.role is not Role.OFFICER:
            raise Forbidden("only market officers deposit cash")
        result = create_deposit(
            DepositIn(
                officer=user,
                slip_ref=body["slip_ref"],
                amount_idr=body["amount_idr"],
                deposited_on=body["deposited_on"],
                selection=Selection(body["selection"]),
                collected_on=body["collected_on"],
                payment_ids=tuple(body["payment_ids"]),
                note=body["note"],
            )
        )
        data = {**deposit_dict(result.deposit, items=True), "replayed": result.replayed}
        return (data, 200, REPLAYED) if result.replayed else data


@blp.route("/deposits/<int:deposit_id>")
@roles_required(Role.OFFICER, Role.FINANCE, Role.ADMIN)
class DepositDetail(MethodView):
    @blp.response(200, schemas.DepositDetailSchema)
    def get(self, deposit_id: int) -> dict[str, Any]:
        """One deposit with its cash payments and, once finance checked it, the verification."""
        return deposit_dict(get_deposit(deposit_id, current_account()), items=True)


@blp.route("/deposits/<int:deposit_id>/verification")
@roles_required(Role.FINANCE, Role.ADMIN)
class DepositVerificationView(MethodView):
    @blp.arguments(schemas.VerificationRequest)
    @blp.response(201, schemas.DepositDetailSchema)
    @blp.alt_response(200, schema=schemas.DepositDetailSchema, description="the same check")
    def post(self, body: dict[str, Any], deposit_id: int) -> Any:
        """Finance records what the bank credited for the slip: ``verified`` when it equals the
        collections, ``discrepancy`` (with the difference in rupiah) otherwise. Once."""
        user = current_account()
        result = verify_deposit(
            deposit_id, received_idr=body["received_idr"], note=body["note"], user=user
        )
        deposit = get_deposit(deposit_id, user)
        data = {**deposit_dict(deposit, items=True), "replayed": result.replayed}
        return (data, 200, REPLAYED) if result.replayed else data
