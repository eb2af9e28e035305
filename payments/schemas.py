"""Marshmallow schemas of the payments API. Every integer, string and list is bounded."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from payments.deposits import MAX_NOTE_CHARS, MAX_SLIP_CHARS, Selection
from payments.models import Channel, DepositStatus
from payments.signing import MAX_TOKEN_CHARS
from retribusi.db import MAX_ID
from retribusi.money import MAX_AMOUNT_IDR

MAX_PAGE_SIZE = 200
MAX_BILLS = 24
MAX_DEPOSIT_ITEMS = 2000


def _amount(minimum: int = 1) -> fields.Integer:
    # strict: 1500.5 and "1500" are refused, not truncated or parsed
    return fields.Integer(
        required=True, strict=True, validate=validate.Range(min=minimum, max=MAX_AMOUNT_IDR)
    )


def id_field(**kwargs: object) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)  # type: ignore[arg-type]


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class PaymentQuery(PageArgs):
    vendor_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    channel = fields.String(validate=validate.OneOf([c.value for c in Channel]))
    paid_from = fields.Date()
    paid_to = fields.Date()
    officer_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class AllocationQuery(PageArgs):
    payment_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    bill_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class AllocationSchema(Schema):
    id = fields.Integer(required=True)
    payment_id = fields.Integer(required=True)
    bill_id = fields.Integer(required=True)
    bill_number = fields.String(allow_none=True)
    component = fields.String(required=True)
    amount_idr = fields.Integer(required=True)
    paid_on = fields.Date(required=True)
    from_credit = fields.Boolean(required=True)
    reversal_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime(required=True)


class AllocationPageSchema(Schema):
    items = fields.List(fields.Nested(AllocationSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class ReceiptSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    payment_id = fields.Integer(required=True)
    issued_at = fields.DateTime(required=True)
    payload = fields.Dict(required=True)
    token = fields.String(required=True)
    verify_url = fields.String(required=True)
    pdf_urls = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class ReversalSchema(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    reason = fields.String(required=True)
    actor = fields.String(required=True)
    reversed_at = fields.DateTime(required=True)


class PaymentSchema(Schema):
    id = fields.Integer(required=True)
    channel = fields.String(required=True)
    sender = fields.String(required=True)
    external_ref = fields.String(required=True)
    vendor_id = fields.Integer(required=True)
    vendor_name = fields.String(allow_none=True)
    market = fields.String(allow_none=True)
    va_number = fields.String(allow_none=True)
    amount_idr = fields.Integer(required=True)
    paid_at = fields.DateTime(required=True)
    paid_on = fields.Date(required=True)
    received_at = fields.DateTime(required=True)
    recorded_by = fields.String(required=True)
    officer_id = fields.Integer(allow_none=True)
    receipt_number = fields.String(allow_none=True)
    reversed = fields.Boolean(required=True)
    deposit_id = fields.Integer(allow_none=True)


class PaymentDetailSchema(PaymentSchema):
    allocations = fields.List(fields.Nested(AllocationSchema), required=True)
    receipt = fields.Nested(ReceiptSchema, allow_none=True)
    reversal = fields.Nested(ReversalSchema, allow_none=True)


class PaymentPageSchema(Schema):
    items = fields.List(fields.Nested(PaymentSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class ReversalRequest(Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=128))
    reason = fields.String(required=True, validate=validate.Length(min=10, max=300))


class ReversalResultSchema(Schema):
    payment = fields.Nested(PaymentDetailSchema, required=True)
    replayed = fields.Boolean(required=True)
    reopened_bill_ids = fields.List(fields.Integer(), required=True)
    credit_withdrawn_idr = fields.Integer(required=True)


class ReceiptQuery(PageArgs):
    number = fields.String(validate=validate.Length(min=1, max=40))
    payment_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class ReceiptPageSchema(Schema):
    items = fields.List(fields.Nested(ReceiptSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class VerifyQuery(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TOKEN_CHARS))


class VerdictSchema(Schema):
    valid = fields.Boolean(required=True)
    # ok, signature (not signed by us), unknown (signed, not in our books), mismatch
    reason = fields.String(required=True)
    reversed = fields.Boolean(required=True)
    number = fields.String(allow_none=True)
    amount_idr = fields.Integer(allow_none=True)
    paid_at = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    vendor_name = fields.String(allow_none=True)
    bill_numbers = fields.List(fields.String(), allow_none=True)
    bill_count = fields.Integer(allow_none=True)
    credit_idr = fields.Integer(allow_none=True)
    reversed_at = fields.DateTime(allow_none=True)


class IdempotencyHeader(Schema):
    # Checked by the service (present, 16-64 plain characters); bounded here against abuse.
    key = fields.String(
        data_key="Idempotency-Key", load_default=None, validate=validate.Length(max=256)
    )


class CashPaymentRequest(Schema):
    vendor_id = id_field(required=True)
    market = fields.String(required=True, validate=validate.Length(min=2, max=32))
    amount_idr = _amount()
    bill_ids = fields.List(id_field(), load_default=list, validate=validate.Length(max=MAX_BILLS))
    # When the device took the cash (it may send later, after a dropped connection).
    paid_at = fields.AwareDateTime(load_default=None)


class AllocatedBillSchema(Schema):
    bill_id = fields.Integer(required=True)
    number = fields.String(required=True)
    period = fields.String(required=True)
    principal_idr = fields.Integer(required=True)
    sanction_idr = fields.Integer(required=True)


class RecordedSchema(Schema):
    payment_id = fields.Integer(required=True)
    vendor_id = fields.Integer(required=True)
    amount_idr = fields.Integer(required=True)
    allocated_idr = fields.Integer(required=True)
    credit_idr = fields.Integer(required=True)
    receipt_number = fields.String(required=True)
    paid_at = fields.DateTime(required=True)
    bills = fields.List(fields.Nested(AllocatedBillSchema), required=True)
    replayed = fields.Boolean(required=True)
    reversed = fields.Boolean(required=True)
    receipt = fields.Nested(ReceiptSchema, required=True)


class CollectionSchema(Schema):
    payment_id = fields.Integer(required=True)
    receipt_number = fields.String(required=True)
    vendor_id = fields.Integer(required=True)
    vendor_name = fields.String(required=True)
    market = fields.String(allow_none=True, attribute="market_code")
    amount_idr = fields.Integer(required=True)
    paid_at = fields.DateTime(required=True)
    paid_on = fields.Date(required=True)


class UndepositedSchema(Schema):
    items = fields.List(fields.Nested(CollectionSchema), required=True)
    total_idr = fields.Integer(required=True)
    count = fields.Integer(required=True)


class DepositQuery(PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in DepositStatus]))
    officer_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class DepositRequest(Schema):
    slip_ref = fields.String(required=True, validate=validate.Length(min=1, max=MAX_SLIP_CHARS))
    amount_idr = _amount()
    deposited_on = fields.Date(required=True)
    selection = fields.String(required=True, validate=validate.OneOf([s.value for s in Selection]))
    collected_on = fields.Date(load_default=None)
    payment_ids = fields.List(
        id_field(), load_default=list, validate=validate.Length(max=MAX_DEPOSIT_ITEMS)
    )
    note = fields.String(load_default=None, validate=validate.Length(max=MAX_NOTE_CHARS))


class VerificationSchema(Schema):
    status = fields.String(required=True)
    received_idr = fields.Integer(required=True)
    collected_idr = fields.Integer(required=True)
    difference_idr = fields.Integer(required=True)
    verified_by = fields.String(required=True)
    verified_at = fields.DateTime(required=True)
    note = fields.String(allow_none=True)


class DepositItemSchema(Schema):
    payment_id = fields.Integer(required=True)
    receipt_number = fields.String(required=True)
    vendor_id = fields.Integer(required=True)
    vendor_name = fields.String(required=True)
    market = fields.String(allow_none=True)
    amount_idr = fields.Integer(required=True)
    paid_at = fields.DateTime(required=True)
    reversed = fields.Boolean(required=True)


class DepositSchema(Schema):
    id = fields.Integer(required=True)
    officer_id = fields.Integer(required=True)
    officer_name = fields.String(allow_none=True)
    slip_ref = fields.String(required=True)
    amount_idr = fields.Integer(required=True)
    deposited_on = fields.Date(required=True)
    submitted_at = fields.DateTime(required=True)
    note = fields.String(allow_none=True)
    payments = fields.Integer(required=True)
    collected_idr = fields.Integer(required=True)
    slip_difference_idr = fields.Integer(required=True)
    status = fields.String(required=True)
    verification = fields.Nested(VerificationSchema, allow_none=True)


class DepositDetailSchema(DepositSchema):
    items = fields.List(fields.Nested(DepositItemSchema), required=True)
    replayed = fields.Boolean()


class DepositPageSchema(Schema):
    items = fields.List(fields.Nested(DepositSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class VerificationRequest(Schema):
    received_idr = _amount(minimum=0)
    note = fields.String(load_default=None, validate=validate.Length(max=MAX_NOTE_CHARS))
