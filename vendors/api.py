"""Registry API under /api/v1: markets, stalls, vendors and SHPs (OpenAPI at /api/v1/openapi.json).

Staff read; administrators and officers write. Officers see and touch only their markets: lists
are filtered, and a record in another market answers 403.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from retribusi.auth.access import current_account, roles_required
from retribusi.auth.models import Role
from retribusi.errors import Forbidden
from retribusi.extensions import db
from vendors import schemas
from vendors.models import Placement, PlacementStatus, StallStatus, StallType
from vendors.placements import (
    get_placement,
    issue_placement,
    list_placements,
    placement_chain,
    record_occupant,
    renew_placement,
    return_placement,
    revoke_placement,
    transfer_placement,
)
from vendors.services import (
    Actor,
    FirstPlacement,
    MarketOverview,
    Page,
    VendorInput,
    create_stall,
    create_vendor,
    get_market,
    get_stall,
    get_vendor,
    list_markets,
    list_stalls,
    placement_dict,
    search_vendors,
    set_market_class,
    stall_dict,
    stall_for_reference,
    today,
    update_stall,
    update_vendor,
    vendor_summary,
)

blp = Blueprint(
    "vendors_api",
    __name__,
    url_prefix="/api/v1",
    description="Markets, stalls, vendors and occupancy rights (SHP)",
)

STAFF = (Role.ADMIN, Role.FINANCE, Role.OFFICER)


def _actor() -> Actor:
    return Actor.of(current_account())


def _require_editor() -> Actor:
    actor = _actor()
    if current_account().role not in {Role.ADMIN, Role.OFFICER}:
        raise Forbidden("finance staff read the registry; officers and administrators change it")
    return actor


def _page(page: Page[Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": items, "page": page.page, "page_size": page.page_size, "total": page.total}


def _market_dict(overview: MarketOverview) -> dict[str, Any]:
    market = overview.market
    return {
        "code": market.code,
        "name": market.name,
        "kecamatan": market.kecamatan,
        "market_class": overview.market_class.value if overview.market_class else None,
        "stalls": overview.stalls,
        "stalls_by_status": overview.by_status,
        "active_placements": overview.active_placements,
    }


# --- markets ----------------------------------------------------------------------------------


@blp.route("/markets")
@roles_required(*STAFF)
class Markets(MethodView):
    @blp.arguments(schemas.PageArgs, location="query")
    @blp.response(200, schemas.MarketPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Markets the caller may see, with their class today and stall counts."""
        overviews = list_markets(_actor())
        size, number = args["page_size"], args["page"]
        chunk = overviews[(number - 1) * size : number * size]
        page = Page(chunk, number, size, len(overviews))
        return _page(page, [_market_dict(o) for o in chunk])


@blp.route("/markets/<code>")
@roles_required(*STAFF)
class MarketDetail(MethodView):
    @blp.response(200, schemas.MarketDetailSchema)
    def get(self, code: str) -> dict[str, Any]:
        """One market: its class history and blocks."""
        market = get_market(code[:32], _actor())
        overview = next(o for o in list_markets(_actor()) if o.market.id == market.id)
        body = _market_dict(overview)
        body["classes"] = [
            {
                "market_class": p.market_class.value,
                "valid_from": p.valid_from,
                "valid_to": p.valid_to,
                "source": p.source,
            }
            for p in market.classes
        ]
        body["blocks"] = [{"code": b.code, "name": b.name} for b in market.blocks]
        return body


@blp.route("/markets/<code>/class")
@roles_required(Role.ADMIN)
class MarketClassChange(MethodView):
    @blp.arguments(schemas.MarketClassArgs)
    @blp.response(201, schemas.ClassPeriodSchema)
    def post(self, args: dict[str, Any], code: str) -> dict[str, Any]:
        """Move the market to another class from a date (administrators)."""
        period = set_market_class(
            code[:32],
            args["market_class"],
            valid_from=args["valid_from"],
            source=args["source"],
            actor=_actor(),
        )
        return {
            "market_class": period.market_class.value,
            "valid_from": period.valid_from,
            "valid_to": period.valid_to,
            "source": period.source,
        }


# --- stalls -----------------------------------------------------------------------------------


@blp.route("/stalls")
@roles_required(*STAFF)
class Stalls(MethodView):
    @blp.arguments(schemas.StallQueryArgs, location="query")
    @blp.response(200, schemas.StallPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Stalls, filtered by market, block, status and type."""
        page = list_stalls(
            _actor(),
            market_code=args["market"],
            block_code=args["block"],
            status=StallStatus(args["status"]) if args["status"] else None,
            stall_type=StallType(args["type"]) if args["type"] else None,
            page=args["page"],
            page_size=args["page_size"],
        )
        return _page(page, [stall_dict(s) for s in page.items])

    @blp.arguments(schemas.StallCreateArgs)
    @blp.response(201, schemas.StallSchema)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Add a stall (vacant until an SHP is issued on it)."""
        stall = create_stall(
            market_code=args["market"],
            block_code=args["block"],
            number=args["number"],
            stall_type=args["type"],
            area_m2=args["area_m2"],
            tntd_idr_per_m2=args["tntd_idr_per_m2"],
            actor=_require_editor(),
        )
        return stall_dict(stall)


@blp.route("/stalls/<int:stall_id>")
@roles_required(*STAFF)
class StallDetail(MethodView):
    @blp.response(200, schemas.StallSchema)
    def get(self, stall_id: int) -> dict[str, Any]:
        return stall_dict(get_stall(stall_id, _actor()))

    @blp.arguments(schemas.StallUpdateArgs)
    @blp.response(200, schemas.StallSchema)
    def patch(self, args: dict[str, Any], stall_id: int) -> dict[str, Any]:
        """Correct type, area or TNTD, or change the status; ``reason`` is required."""
        actor = _require_editor()
        stall = get_stall(stall_id, actor)
        tntd = args.get("tntd_idr_per_m2", stall.tntd_idr_per_m2)
        updated = update_stall(
            stall.id,
            stall_type=args["type"] or stall.stall_type.value,
            area_m2=args["area_m2"] or str(stall.area_m2),
            tntd_idr_per_m2=tntd,
            status=args["status"] or stall.status.value,
            reason=args["reason"],
            actor=actor,
        )
        return stall_dict(updated)


# --- vendors ----------------------------------------------------------------------------------


def _held_stalls(vendor_ids: list[int]) -> dict[int, list[str]]:
    held: dict[int, list[str]] = {}
    if not vendor_ids:
        return held
    for placement in db.session.scalars(
        select(Placement).where(
            Placement.vendor_id.in_(vendor_ids), Placement.status == PlacementStatus.ACTIVE
        )
    ):
        held.setdefault(placement.vendor_id, []).append(placement.stall.reference)
    return held


@blp.route("/vendors")
@roles_required(*STAFF)
class Vendors(MethodView):
    @blp.arguments(schemas.VendorQueryArgs, location="query")
    @blp.response(200, schemas.VendorPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search by name, NIK, phone or stall; officers get only their markets' vendors."""
        page = search_vendors(args["q"], _actor(), page=args["page"], page_size=args["page_size"])
        held = _held_stalls([v.id for v in page.items])
        items = [
            {
                "id": v.id,
                "nik": v.nik,
                "full_name": v.full_name,
                "phone": v.phone,
                "proxy_name": v.proxy_name,
                "proxy_phone": v.proxy_phone,
                "has_login": v.user_id is not None,
                "stalls": held.get(v.id, []),
            }
            for v in page.items
        ]
        return _page(page, items)

    @blp.arguments(schemas.VendorCreateArgs)
    @blp.response(201, schemas.VendorDetailSchema)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Register a vendor; officers must give the first stall (``stall``, ``shp_start``)."""
        actor = _require_editor()
        first = None
        if args["stall"]:
            first = FirstPlacement(
                stall=stall_for_reference("stall", args["stall"]),
                number=args["shp_number"],
                start_on=args["shp_start"] or today(),
            )
        vendor = create_vendor(_vendor_input(args), actor=actor, first_stall=first)
        return vendor_summary(vendor)


def _vendor_input(args: dict[str, Any]) -> VendorInput:
    return VendorInput(
        nik=args["nik"],
        full_name=args["full_name"],
        phone=args["phone"],
        proxy_name=args.get("proxy_name"),
        proxy_phone=args.get("proxy_phone"),
    )


@blp.route("/vendors/<int:vendor_id>")
@roles_required(*STAFF)
class VendorDetail(MethodView):
    @blp.response(200, schemas.VendorDetailSchema)
    def get(self, vendor_id: int) -> dict[str, Any]:
        """The vendor, their stalls and SHPs with history (as ``vendors show --json``)."""
        return vendor_summary(get_vendor(vendor_id, _actor()))

    @blp.arguments(schemas.VendorArgs)
    @blp.response(200, schemas.VendorDetailSchema)
    def put(self, args: dict[str, Any], vendor_id: int) -> dict[str, Any]:
        """Replace the vendor's NIK, name, phone and proxy payer."""
        vendor = update_vendor(vendor_id, _vendor_input(args), actor=_require_editor())
        return vendor_summary(vendor)


# --- SHPs -------------------------------------------------------------------------------------


def _placement_body(placement: Placement) -> dict[str, Any]:
    body = placement_dict(placement, events=True)
    body["chain"] = [p.number for p in placement_chain(placement)]
    return body


@blp.route("/placements")
@roles_required(*STAFF)
class Placements(MethodView):
    @blp.arguments(schemas.PlacementQueryArgs, location="query")
    @blp.response(200, schemas.PlacementPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """SHPs, newest first, by market, stall, vendor and status (officers: their markets)."""
        page = list_placements(
            _actor(),
            market_code=args["market"],
            stall_reference=args["stall"],
            vendor_id=args["vendor_id"],
            status=PlacementStatus(args["status"]) if args["status"] else None,
            page=args["page"],
            page_size=args["page_size"],
        )
        return _page(page, [placement_dict(p) for p in page.items])

    @blp.arguments(schemas.IssueArgs)
    @blp.response(201, schemas.PlacementDetailSchema)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Issue an SHP to a vendor on a stall (expires three years after ``start_on``)."""
        actor = _require_editor()
        stall = stall_for_reference("stall", args["stall"])
        placement = issue_placement(
            vendor_id=args["vendor_id"],
            stall_id=stall.id,
            start_on=args["start_on"],
            number=args["number"],
            occupant_name=args["occupant_name"],
            actor=actor,
        )
        return _placement_body(placement)


@blp.route("/placements/<int:placement_id>")
@roles_required(*STAFF)
class PlacementDetail(MethodView):
    @blp.response(200, schemas.PlacementDetailSchema)
    def get(self, placement_id: int) -> dict[str, Any]:
        """An SHP with its history and the chain of renewals and transfers."""
        return _placement_body(get_placement(placement_id, _actor()))


@blp.route("/placements/<int:placement_id>/renew")
@roles_required(*STAFF)
class PlacementRenew(MethodView):
    @blp.arguments(schemas.RenewArgs)
    @blp.response(201, schemas.PlacementDetailSchema)
    def post(self, args: dict[str, Any], placement_id: int) -> dict[str, Any]:
        """Herregistrasi: a new SHP for three more years; returns the new SHP."""
        placement = renew_placement(
            placement_id, on=args["on"], number=args["number"], actor=_require_editor()
        )
        return _placement_body(placement)


@blp.route("/placements/<int:placement_id>/transfer")
@roles_required(*STAFF)
class PlacementTransfer(MethodView):
    @blp.arguments(schemas.TransferArgs)
    @blp.response(201, schemas.PlacementDetailSchema)
    def post(self, args: dict[str, Any], placement_id: int) -> dict[str, Any]:
        """Balik nama to another vendor (registered if the NIK is new); returns the new SHP."""
        placement = transfer_placement(
            placement_id,
            to=VendorInput(
                nik=args["nik"], full_name=args["full_name"] or "", phone=args["phone"] or ""
            ),
            on=args["on"],
            number=args["number"],
            fee_idr=args["fee_idr"],
            actor=_require_editor(),
        )
        return _placement_body(placement)


@blp.route("/placements/<int:placement_id>/revoke")
@roles_required(*STAFF)
class PlacementRevoke(MethodView):
    @blp.arguments(schemas.RevokeArgs)
    @blp.response(200, schemas.PlacementDetailSchema)
    def post(self, args: dict[str, Any], placement_id: int) -> dict[str, Any]:
        """Revoke for vacancy (after the configured months unused), arrears or breach."""
        placement = revoke_placement(
            placement_id,
            reason=args["reason"],
            vacant_since=args["vacant_since"],
            on=args["on"],
            note=args["note"],
            actor=_require_editor(),
        )
        return _placement_body(placement)


@blp.route("/placements/<int:placement_id>/return")
@roles_required(*STAFF)
class PlacementReturn(MethodView):
    @blp.arguments(schemas.ReturnArgs)
    @blp.response(200, schemas.PlacementDetailSchema)
    def post(self, args: dict[str, Any], placement_id: int) -> dict[str, Any]:
        """The holder gives the SHP back; the stall becomes vacant."""
        placement = return_placement(placement_id, on=args["on"], actor=_require_editor())
        return _placement_body(placement)


@blp.route("/placements/<int:placement_id>/occupant")
@roles_required(*STAFF)
class PlacementOccupant(MethodView):
    @blp.arguments(schemas.OccupantArgs)
    @blp.response(200, schemas.PlacementDetailSchema)
    def put(self, args: dict[str, Any], placement_id: int) -> dict[str, Any]:
        """Record who actually trades there (the bill still goes to the holder)."""
        placement = record_occupant(
            placement_id, occupant_name=args["occupant_name"], actor=_require_editor()
        )
        return _placement_body(placement)
