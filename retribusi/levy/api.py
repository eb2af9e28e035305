"""Levy API under /api/v1: bills, arrears and tariffs (read-only; OpenAPI at /api/v1/openapi.json).

Officers see their markets only; a vendor sees only the bills addressed to them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select

from retribusi import clock
from retribusi.auth.access import authenticated, current_account, require_market, roles_required
from retribusi.auth.models import Role, User
from retribusi.errors import Forbidden
from retribusi.extensions import db
from retribusi.levy import schemas
from retribusi.levy.arrears import arrears
from retribusi.levy.balances import BillFigures, figures_for
from retribusi.levy.billing import get_bill
from retribusi.levy.models import Bill, BillKind, BillLine, BillStatus
from retribusi.levy.tariffs import list_tariffs, tariff_dict
from vendors.models import Market, Vendor

blp = Blueprint(
    "levy_api", __name__, url_prefix="/api/v1", description="Bills, arrears and tariffs"
)

STAFF = (Role.ADMIN, Role.FINANCE, Role.OFFICER)


def account_dict(account: BillFigures, as_of: date) -> dict[str, Any]:
    return {
        "principal_idr": account.principal_idr,
        "principal_paid_idr": account.principal_paid_idr,
        "principal_outstanding_idr": account.principal_outstanding_idr,
        "sanction_idr": account.sanction_idr,
        "sanction_paid_idr": account.sanction_paid_idr,
        "sanction_outstanding_idr": account.sanction_outstanding_idr,
        "outstanding_idr": account.outstanding_idr,
        "months_late": account.months_late,
        "days_overdue": account.days_overdue,
        "as_of": as_of,
    }


def bill_dict(bill: Bill, account: BillFigures, as_of: date) -> dict[str, Any]:
    return {
        "id": bill.id,
        "number": bill.number,
        "kind": bill.kind.value,
        "period": bill.period,
        "service_from": bill.service_from,
        "service_to": bill.service_to,
        "market": bill.market.code,
        "stall": bill.stall.reference,
        "vendor_id": bill.vendor_id,
        "placement_id": bill.placement_id,
        "principal_idr": bill.principal_idr,
        "issued_on": bill.issued_on,
        "due_on": bill.due_on,
        "status": bill.status.value,
        "illustrative": bill.illustrative,
        "month_days_rule": bill.month_days_rule,
        "rounding_rule": bill.rounding_rule,
        "sanction_rate_pct_per_month": bill.sanction_rate_pct_per_month,
        "sanction_cap_months": bill.sanction_cap_months,
        "sanction_part_month_counts": bill.sanction_part_month_counts,
        "void_reason": bill.void_reason,
        "replaces_id": bill.replaces_id,
        "account": account_dict(account, as_of),
    }


def line_dict(line: BillLine) -> dict[str, Any]:
    return {
        "position": line.position,
        "component": line.component.value,
        "basis": line.basis.value,
        "service_from": line.service_from,
        "service_to": line.service_to,
        "days_covered": line.days_covered,
        "month_length": line.month_length,
        "billable_days": line.billable_days,
        "area_m2": line.area_m2,
        "unit": line.unit,
        "quantity": line.quantity,
        "rate_idr": line.rate_idr,
        "tntd_idr_per_m2": line.tntd_idr_per_m2,
        "relief_pct": line.relief_pct,
        "amount_idr": line.amount_idr,
        "legal_basis": line.legal_basis,
        "tariff_id": line.tariff_id,
    }


def _scoped(query: Any, user: User, args: dict[str, Any]) -> Any:
    if user.role is Role.VENDOR:
        own = db.session.scalar(select(Vendor.id).where(Vendor.user_id == user.id))
        if own is None or args.get("vendor_id", own) != own:
            raise Forbidden("vendors see only their own bills")
        return query.where(Bill.vendor_id == own)
    market = args.get("market")
    if market is not None:
        require_market(user, market)
        query = query.where(Market.code == market)
    elif user.role is Role.OFFICER:
        query = query.where(Market.code.in_(sorted(user.market_codes)))
    if "vendor_id" in args:
        query = query.where(Bill.vendor_id == args["vendor_id"])
    return query


@blp.route("/bills")
@authenticated
class Bills(MethodView):
    @blp.arguments(schemas.BillQuery, location="query")
    @blp.response(200, schemas.BillPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Bills by vendor or by market (officers: their markets; vendors: their own), newest
        first, with what each still owes today."""
        user = current_account()
        query = select(Bill).join(Market, Market.id == Bill.market_id)
        query = _scoped(query, user, args)
        if "period" in args:
            query = query.where(Bill.period == args["period"])
        if "status" in args:
            query = query.where(Bill.status == BillStatus(args["status"]))
        if "kind" in args:
            query = query.where(Bill.kind == BillKind(args["kind"]))
        total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        page, size = args["page"], args["page_size"]
        bills = list(
            db.session.scalars(
                query.order_by(Bill.period_start.desc(), Bill.id.desc())
                .limit(size)
                .offset((page - 1) * size)
            )
        )
        as_of = clock.today_wib()
        accounts = figures_for(db.session, bills, as_of)
        return {
            "items": [bill_dict(b, accounts[b.id], as_of) for b in bills],
            "page": page,
            "page_size": size,
            "total": total,
        }


@blp.route("/bills/<int:bill_id>")
@authenticated
class BillDetail(MethodView):
    @blp.response(200, schemas.BillDetailSchema)
    def get(self, bill_id: int) -> dict[str, Any]:
        """One bill with its lines (quantity, rate, legal basis) and its account today."""
        bill = get_bill(bill_id, current_account())
        as_of = clock.today_wib()
        body = bill_dict(bill, figures_for(db.session, [bill], as_of)[bill.id], as_of)
        body["lines"] = [line_dict(line) for line in bill.lines]
        return body


@blp.route("/arrears")
@roles_required(*STAFF)
class Arrears(MethodView):
    @blp.arguments(schemas.ArrearsQuery, location="query")
    @blp.response(200, schemas.ArrearsSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Overdue amounts one level below what is asked: markets, a market's blocks, a block's
        vendors or a vendor's bills; aged 0-30, 31-90, 91-180, 181-365, >365 days; principal and
        sanction apart."""
        report = arrears(
            current_account(),
            as_of=clock.today_wib(),
            market_code=args.get("market"),
            block_code=args.get("block"),
            vendor_id=args.get("vendor_id"),
        )
        return {**report.to_dict(), "as_of": report.as_of}


@blp.route("/tariffs")
@roles_required(*STAFF)
class Tariffs(MethodView):
    @blp.arguments(schemas.TariffQuery, location="query")
    @blp.response(200, schemas.TariffPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Tariff versions with legal basis and dates (``illustrative`` marks the demo table)."""
        versions = list_tariffs(include_withdrawn=args["include_withdrawn"], limit=10_000)
        page, size = args["page"], args["page_size"]
        chunk = versions[(page - 1) * size : page * size]
        return {
            "items": [tariff_dict(v) for v in chunk],
            "page": page,
            "page_size": size,
            "total": len(versions),
        }
