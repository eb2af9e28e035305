"""Marshmallow schemas of the reconciliation API. Every integer and string is bounded."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from reconcile.models import ExceptionStatus, ExceptionType
from reconcile.report import AGE_BUCKETS
from retribusi.db import MAX_ID

MAX_PAGE_SIZE = 200


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class ExceptionQuery(PageArgs):
    type = fields.String(validate=validate.OneOf([t.value for t in ExceptionType]))
    status = fields.String(
        validate=validate.OneOf([s.value for s in ExceptionStatus] + ["live", "all"])
    )
    age = fields.String(validate=validate.OneOf([b[2] for b in AGE_BUCKETS]))
    assignee_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    unassigned = fields.Boolean()


class RunSchema(Schema):
    id = fields.Integer(required=True)
    started_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(required=True)
    actor = fields.String(required=True)
    as_of = fields.Date(required=True)
    rules_version = fields.String(required=True)
    rules = fields.Dict(required=True)
    input_files = fields.List(fields.String(), required=True)
    result_hash = fields.String(required=True)
    matched_count = fields.Integer(required=True)
    matched_idr = fields.Integer(required=True)
    summary = fields.Dict(required=True)


class RunPageSchema(Schema):
    items = fields.List(fields.Nested(RunSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class ExceptionSchema(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True)
    status = fields.String(required=True)
    subject = fields.String(required=True)
    line_id = fields.Integer(allow_none=True)
    payment_id = fields.Integer(allow_none=True)
    deposit_id = fields.Integer(allow_none=True)
    batch_id = fields.Integer(allow_none=True)
    amount_idr = fields.Integer(required=True)
    difference_idr = fields.Integer(required=True)
    subject_date = fields.Date(required=True)
    age_days = fields.Integer(required=True)
    market_id = fields.Integer(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    opened_at = fields.DateTime(required=True)
    resolved_at = fields.DateTime(allow_none=True)
    detail = fields.Dict(required=True)


class ExceptionPageSchema(Schema):
    items = fields.List(fields.Nested(ExceptionSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


_ID_RANGE = validate.Range(min=1, max=MAX_ID)


class ActionSchema(Schema):
    action = fields.String(
        required=True,
        validate=validate.OneOf(
            ["match", "ignore", "accept", "reopen", "assign", "create_payment"]
        ),
    )
    reason = fields.String(load_default="", validate=validate.Length(max=300))
    payment_id = fields.Integer(validate=_ID_RANGE)
    deposit_id = fields.Integer(validate=_ID_RANGE)
    batch_id = fields.Integer(validate=_ID_RANGE)
    vendor_id = fields.Integer(validate=_ID_RANGE)
    bill_ids = fields.List(fields.Integer(validate=_ID_RANGE), validate=validate.Length(max=24))
    assignee_id = fields.Integer(allow_none=True, validate=_ID_RANGE)


class ActionResultSchema(Schema):
    exception_id = fields.String(required=True)
    action = fields.String(required=True)
    status = fields.String(required=True)
    match_id = fields.Integer()
    payment_id = fields.Integer()
