"""Marshmallow schemas of the levy API. Every integer and string is bounded."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from retribusi.db import MAX_ID
from retribusi.levy.models import BillKind, BillStatus
from retribusi.levy.rules import AGE_BUCKETS

MAX_PAGE_SIZE = 200


def decimal_string(**kwargs: Any) -> fields.Decimal:
    """A decimal sent as a string ("2.00"), and so documented: as a JSON number a client would
    read it as binary floating point."""
    return fields.Decimal(
        as_string=True, metadata={"type": "string", "format": "decimal"}, **kwargs
    )


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class BillQuery(PageArgs):
    vendor_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    market = fields.String(validate=validate.Length(min=2, max=32))
    period = fields.String(validate=validate.Regexp(r"^[0-9]{4}-[0-9]{2}$"))
    status = fields.String(validate=validate.OneOf([s.value for s in BillStatus]))
    kind = fields.String(validate=validate.OneOf([k.value for k in BillKind]))


class ArrearsQuery(Schema):
    market = fields.String(validate=validate.Length(min=2, max=32))
    block = fields.String(validate=validate.Length(min=1, max=20))
    vendor_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class TariffQuery(PageArgs):
    include_withdrawn = fields.Boolean(load_default=False)


class AccountSchema(Schema):
    principal_idr = fields.Integer(required=True)
    principal_paid_idr = fields.Integer(required=True)
    principal_outstanding_idr = fields.Integer(required=True)
    sanction_idr = fields.Integer(required=True)
    sanction_paid_idr = fields.Integer(required=True)
    sanction_outstanding_idr = fields.Integer(required=True)
    outstanding_idr = fields.Integer(required=True)
    months_late = fields.Integer(required=True)
    days_overdue = fields.Integer(required=True)
    as_of = fields.Date(required=True)


class LineSchema(Schema):
    position = fields.Integer(required=True)
    component = fields.String(required=True)
    basis = fields.String(required=True)
    service_from = fields.Date(required=True)
    service_to = fields.Date(required=True)
    days_covered = fields.Integer(required=True)
    month_length = fields.Integer(allow_none=True)
    billable_days = decimal_string(required=True)
    area_m2 = decimal_string(allow_none=True)
    unit = fields.String(required=True)
    quantity = decimal_string(required=True)
    rate_idr = decimal_string(required=True)
    tntd_idr_per_m2 = fields.Integer(allow_none=True)
    relief_pct = decimal_string(required=True)
    amount_idr = fields.Integer(required=True)
    legal_basis = fields.String(required=True)
    tariff_id = fields.Integer(required=True)


class BillSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    kind = fields.String(required=True)
    period = fields.String(required=True)
    service_from = fields.Date(required=True)
    service_to = fields.Date(required=True)
    market = fields.String(required=True)
    stall = fields.String(required=True)
    vendor_id = fields.Integer(required=True)
    placement_id = fields.Integer(required=True)
    principal_idr = fields.Integer(required=True)
    issued_on = fields.Date(required=True)
    due_on = fields.Date(required=True)
    status = fields.String(required=True)
    illustrative = fields.Boolean(required=True)
    month_days_rule = fields.String(required=True)
    rounding_rule = fields.String(required=True)
    sanction_rate_pct_per_month = decimal_string(required=True)
    sanction_cap_months = fields.Integer(required=True)
    sanction_part_month_counts = fields.Boolean(required=True)
    void_reason = fields.String(allow_none=True)
    replaces_id = fields.Integer(allow_none=True)
    account = fields.Nested(AccountSchema, required=True)


class BillDetailSchema(BillSchema):
    lines = fields.List(fields.Nested(LineSchema), required=True)


class BillPageSchema(Schema):
    items = fields.List(fields.Nested(BillSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class AmountsSchema(Schema):
    principal_idr = fields.Integer(required=True)
    sanction_idr = fields.Integer(required=True)
    total_idr = fields.Integer(required=True)


class ArrearsRowSchema(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    market = fields.String(required=True)
    block = fields.String()
    vendor_id = fields.Integer()
    bill = fields.String()
    bill_id = fields.Integer()
    days_overdue = fields.Integer()
    bills = fields.Integer(required=True)
    buckets = fields.Dict(
        keys=fields.String(validate=validate.OneOf([b.value for b in AGE_BUCKETS])),
        values=fields.Nested(AmountsSchema),
        required=True,
    )
    total = fields.Nested(AmountsSchema, required=True)


class ArrearsSchema(Schema):
    as_of = fields.Date(required=True)
    level = fields.String(required=True)
    market = fields.String(allow_none=True)
    block = fields.String(allow_none=True)
    vendor_id = fields.Integer(allow_none=True)
    buckets = fields.List(fields.String(), required=True)
    rows = fields.List(fields.Nested(ArrearsRowSchema), required=True)
    total = fields.Nested(ArrearsRowSchema, required=True)


class TariffSchema(Schema):
    id = fields.Integer(required=True)
    scope = fields.String(required=True)
    stall_type = fields.String(required=True)
    component = fields.String(required=True)
    basis = fields.String(required=True)
    rate = fields.String(required=True)
    default_tntd_idr_per_m2 = fields.Integer(allow_none=True)
    legal_basis = fields.String(required=True)
    valid_from = fields.String(required=True)
    valid_to = fields.String(allow_none=True)
    illustrative = fields.Boolean(required=True)
    withdrawn = fields.Boolean(required=True)


class TariffPageSchema(Schema):
    items = fields.List(fields.Nested(TariffSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)
