"""Marshmallow schemas of the registry API: every number and string bounded."""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields, post_dump, validate

from retribusi.db import MAX_ID
from vendors.fields import MAX_NAME_LEN
from vendors.models import PlacementStatus, StallStatus, StallType
from vendors.services import MAX_PAGE_SIZE


def _text(max_len: int, *, required: bool = False) -> fields.String:
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=max_len))
    return fields.String(load_default=None, validate=validate.Length(max=max_len))


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class PageMeta(Schema):
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


# --- markets ----------------------------------------------------------------------------------


class ClassPeriodSchema(Schema):
    market_class = fields.String(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(allow_none=True)
    source = fields.String(required=True)


class MarketSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kecamatan = fields.String(required=True)
    market_class = fields.String(allow_none=True, metadata={"description": "class today"})
    stalls = fields.Integer(required=True)
    stalls_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    active_placements = fields.Integer(required=True)


class MarketDetailSchema(MarketSchema):
    classes = fields.List(fields.Nested(ClassPeriodSchema))
    blocks = fields.List(fields.Dict())


class MarketPageSchema(PageMeta):
    items = fields.List(fields.Nested(MarketSchema), required=True)


class MarketClassArgs(Schema):
    market_class = fields.String(
        required=True, validate=validate.OneOf(["IA", "IB", "IIA", "IIB", "IIIA", "IIIB"])
    )
    valid_from = fields.Date(required=True)
    source = _text(200, required=True)


# --- stalls -----------------------------------------------------------------------------------


class StallSchema(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True, metadata={"example": "KLEWER-A-012"})
    market = fields.String(required=True)
    block = fields.String(required=True)
    number = fields.String(required=True)
    type = fields.String(required=True)
    area_m2 = fields.String(required=True, metadata={"description": "decimal, 2 places"})
    tntd_idr_per_m2 = fields.Integer(allow_none=True)
    status = fields.String(required=True)


class StallPageSchema(PageMeta):
    items = fields.List(fields.Nested(StallSchema), required=True)


class StallQueryArgs(PageArgs):
    market = _text(32)
    block = _text(20)
    status = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in StallStatus])
    )
    type = fields.String(load_default=None, validate=validate.OneOf([t.value for t in StallType]))


class StallCreateArgs(Schema):
    market = _text(32, required=True)
    block = _text(20, required=True)
    number = _text(20, required=True)
    type = _text(16, required=True)
    area_m2 = _text(12, required=True)
    tntd_idr_per_m2 = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=100_000_000)
    )


class StallUpdateArgs(Schema):
    type = _text(16)
    area_m2 = _text(12)
    tntd_idr_per_m2 = fields.Integer(
        allow_none=True, validate=validate.Range(min=1, max=100_000_000)
    )
    status = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in StallStatus])
    )
    reason = _text(500, required=True)


# --- vendors ----------------------------------------------------------------------------------


class VendorSchema(Schema):
    id = fields.Integer(required=True)
    nik = fields.String(required=True)
    full_name = fields.String(required=True)
    phone = fields.String(required=True)
    proxy_name = fields.String(allow_none=True)
    proxy_phone = fields.String(allow_none=True)
    has_login = fields.Boolean(required=True)
    stalls = fields.List(fields.String(), metadata={"description": "stalls held now"})


class VendorPageSchema(PageMeta):
    items = fields.List(fields.Nested(VendorSchema), required=True)


class VendorQueryArgs(PageArgs):
    q = fields.String(
        load_default="",
        validate=validate.Length(max=80),
        metadata={"description": "name, NIK, phone or stall (KLEWER-A-012)"},
    )


class VendorArgs(Schema):
    nik = _text(40, required=True)
    full_name = _text(MAX_NAME_LEN, required=True)
    phone = _text(32, required=True)
    proxy_name = _text(MAX_NAME_LEN)
    proxy_phone = _text(32)


class VendorCreateArgs(VendorArgs):
    stall = _text(80)
    shp_number = _text(40)
    shp_start = fields.Date(load_default=None)


class EventSchema(Schema):
    action = fields.String(required=True)
    effective_on = fields.String(required=True)
    occurred_at = fields.String(required=True)
    actor = fields.String(required=True)
    details = fields.Dict()


class PlacementSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    vendor_nik = fields.String(required=True)
    stall = fields.String(required=True)
    start_on = fields.String(required=True)
    expires_on = fields.String(required=True)
    ended_on = fields.String(allow_none=True)
    status = fields.String(
        required=True, validate=validate.OneOf([s.value for s in PlacementStatus])
    )
    occupant_name = fields.String(allow_none=True)
    transfer_fee_idr = fields.Integer(allow_none=True)
    previous_number = fields.String(allow_none=True)
    events = fields.List(fields.Nested(EventSchema))


class PlacementPageSchema(PageMeta):
    items = fields.List(fields.Nested(PlacementSchema), required=True)


class PlacementQueryArgs(PageArgs):
    market = _text(32)
    stall = _text(60)  # a stall reference: KLEWER-A-012
    vendor_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_ID))
    status = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in PlacementStatus])
    )


class PlacementDetailSchema(PlacementSchema):
    chain = fields.List(fields.String(), metadata={"description": "SHP numbers, oldest first"})


class VendorDetailSchema(Schema):
    """``vendors show --json``; later packages add keys (VA numbers, bills, balance)."""

    class Meta:
        # INCLUDE: the document allows the keys later packages add (additionalProperties).
        unknown = INCLUDE

    vendor = fields.Dict(required=True)
    stalls = fields.List(fields.Nested(StallSchema), required=True)
    placements = fields.List(fields.Nested(PlacementSchema), required=True)

    @post_dump(pass_original=True)
    def keep_registered_parts(
        self, data: dict[str, Any], original: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        # The parts later packages register (vendors.services.register_summary_part) are not
        # declared here; dump would drop them.
        return {**original, **data}


# --- SHP lifecycle ----------------------------------------------------------------------------


class IssueArgs(Schema):
    vendor_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**62))
    stall = _text(80, required=True)
    number = _text(40)
    start_on = fields.Date(required=True)
    occupant_name = _text(MAX_NAME_LEN)


class RenewArgs(Schema):
    on = fields.Date(load_default=None)
    number = _text(40)


class TransferArgs(Schema):
    nik = _text(40, required=True)
    full_name = _text(MAX_NAME_LEN)
    phone = _text(32)
    on = fields.Date(load_default=None)
    number = _text(40)
    fee_idr = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**12)
    )


class RevokeArgs(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(["vacancy", "arrears", "breach"]))
    vacant_since = fields.Date(load_default=None)
    on = fields.Date(load_default=None)
    note = fields.String(load_default="", validate=validate.Length(max=500))


class ReturnArgs(Schema):
    on = fields.Date(load_default=None)


class OccupantArgs(Schema):
    occupant_name = _text(MAX_NAME_LEN)
