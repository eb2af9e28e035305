"""QRIS API under /api/v1: dynamic codes for open bills (OpenAPI at /api/v1/openapi.json).

The same rules as the pages (``payments.qris.services``): a vendor asks for their own bills (or
those of a vendor they pay for), an officer for bills in their markets, finance and admin for
any. The same bills with enough life left on their live code get that code again (``200``); a
new code is ``201``. The ``payload`` is the QRIS string a banking app reads; the page, PNG and
SVG of the code are at ``/qris/kode/<reference>`` (``.png``, ``.svg``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from payments.qris.services import MAX_BILLS_PER_CODE, DynamicCode, dynamic_code_for, get_code
from payments.schemas import id_field
from retribusi.auth.access import authenticated, current_account

blp = Blueprint(
    "qris_api", __name__, url_prefix="/api/v1", description="Dynamic QRIS codes for open bills"
)


class CodeRequest(Schema):
    vendor_id = id_field(required=True)
    bill_ids = fields.List(
        id_field(), required=True, validate=validate.Length(min=1, max=MAX_BILLS_PER_CODE)
    )


class CodeBillSchema(Schema):
    bill_id = fields.Integer(required=True)
    number = fields.String(required=True)
    period = fields.String(required=True)
    outstanding_idr = fields.Integer(required=True)


class CodeSchema(Schema):
    reference = fields.String(required=True)
    payload = fields.String(required=True, metadata={"description": "the QRIS string"})
    amount_idr = fields.Integer(required=True)
    bill_label = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    expired = fields.Boolean(required=True)
    vendor_id = fields.Integer(required=True)
    market_code = fields.String(required=True)
    bills = fields.List(fields.Nested(CodeBillSchema), required=True)


def _code_dict(code: DynamicCode) -> dict[str, Any]:
    return {**asdict(code), "expired": code.expired}


@blp.route("/qris-codes")
@authenticated
class Codes(MethodView):
    @blp.arguments(CodeRequest)
    @blp.response(201, CodeSchema)
    @blp.alt_response(200, schema=CodeSchema, description="the live code of the same bills")
    def post(self, body: dict[str, Any]) -> Any:
        """A code for what is owed today on the chosen open bills of a vendor. Refused (422):
        bills not open or not the vendor's, bills of two QRIS merchants, a total over the QRIS
        limit; 409 while QRIS is switched off."""
        code = dynamic_code_for(body["vendor_id"], body["bill_ids"], user=current_account())
        return (_code_dict(code), 200) if code.reused else _code_dict(code)


@blp.route("/qris-codes/<reference>")
@authenticated
class Code(MethodView):
    @blp.response(200, CodeSchema)
    def get(self, reference: str) -> dict[str, Any]:
        """A code by its reference, for its vendor (or their proxy payer) and staff of its
        market; another vendor's code is a 404, like an unknown one."""
        return _code_dict(get_code(reference, current_account()))
