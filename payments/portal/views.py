"""The vendor's pages (``/saya``) and the officer's day (``/petugas``): thin views over
``payments.portal.services``; every write goes through the ledger and the channels."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from payments.models import Channel
from payments.portal.charts import MAX_BARS, Series, horizontal_bars, stacked_columns
from payments.portal.services import (
    arrears_trend,
    collection_by_market,
    collection_by_month,
    latest_payment_id,
    list_market_codes,
    officer_day,
    payment_history,
    recent_months,
    vendor_account,
)
from payments.portal.setup import (
    ADMIN_LINKS,
    ADMIN_NOTICES,
    FINANCE_LINKS,
    OFFICER_LINKS,
    PAY_OPTIONS,
    RECEIPT_LINKS,
)
from retribusi import clock
from retribusi.auth.access import current_account, roles_required
from retribusi.auth.models import Role
from retribusi.levy.arrears import arrears
from retribusi.levy.notices import notices_in_market
from retribusi.levy.rules import AGE_BUCKETS
from vendors.services import vendor_paid_by, vendors_paid_by

bp = Blueprint(
    "portal",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/portal",
)


@bp.context_processor
def _extension_points() -> dict[str, Any]:
    return {
        "receipt_links": current_app.extensions.get(RECEIPT_LINKS, []),
        "officer_links": current_app.extensions.get(OFFICER_LINKS, []),
        "finance_links": current_app.extensions.get(FINANCE_LINKS, []),
        "admin_links": current_app.extensions.get(ADMIN_LINKS, []),
    }


@bp.route("/saya")
@roles_required(Role.VENDOR)
def mine() -> ResponseReturnValue:
    vendors = vendors_paid_by(current_account())
    if len(vendors) == 1:
        return redirect(url_for("portal.account", vendor_id=vendors[0].id))
    return render_template("portal/choose.html", vendors=vendors)


@bp.route("/saya/<int:vendor_id>")
@roles_required(Role.VENDOR)
def account(vendor_id: int) -> ResponseReturnValue:
    user = current_account()
    vendor = vendor_paid_by(user, vendor_id)
    owed = vendor_account(vendor)
    options = [option(owed) for option in current_app.extensions.get(PAY_OPTIONS, [])]
    return render_template(
        "portal/account.html",
        account=owed,
        pay_options=[o for o in options if o is not None],
        latest=latest_payment_id(vendor.id),
        proxy=vendor.user_id != user.id,
    )


@bp.route("/saya/<int:vendor_id>/riwayat")
@roles_required(Role.VENDOR)
def history(vendor_id: int) -> ResponseReturnValue:
    vendor = vendor_paid_by(current_account(), vendor_id)
    return render_template("portal/history.html", vendor=vendor, entries=payment_history(vendor.id))


@bp.route("/saya/<int:vendor_id>/status.json")
@roles_required(Role.VENDOR)
def status(vendor_id: int) -> ResponseReturnValue:
    """Polled by the pay page so the vendor sees the payment land without reloading."""
    vendor = vendor_paid_by(current_account(), vendor_id)
    owed = vendor_account(vendor)
    return jsonify(
        latest_payment_id=latest_payment_id(vendor.id),
        outstanding_idr=owed.outstanding_idr,
        credit_idr=owed.credit_idr,
    )


@bp.route("/petugas")
@roles_required(Role.OFFICER, Role.ADMIN, Role.FINANCE)
def officer() -> ResponseReturnValue:
    user = current_account()
    today = clock.today_wib()
    return render_template(
        "portal/officer.html",
        day=officer_day(user, today),
        arrears=arrears(user, as_of=today),
        buckets=AGE_BUCKETS,
    )


def _month_arg(today: date) -> tuple[str, date, date]:
    """``?bulan=YYYY-MM`` among the months shown; anything else falls back to this month."""
    months = recent_months(today)
    wanted = request.args.get("bulan", "")[:7]
    for month in months:
        if month[0] == wanted:
            return month
    return months[-1]


@bp.route("/keuangan")
@roles_required(Role.FINANCE, Role.ADMIN)
def finance() -> ResponseReturnValue:
    today = clock.today_wib()
    collection = collection_by_month(today)
    channels = [c for c in Channel if any(collection.by_channel[c])] or [Channel.VA]
    label, first, last = _month_arg(today)
    markets = collection_by_market(first, last)
    trend = arrears_trend(today)
    names = {
        Channel.VA: _("Virtual account"),
        Channel.QRIS: "QRIS",
        Channel.CASH: _("Cash to the officer"),
        Channel.COUNTER: _("Office counter"),
    }
    return render_template(
        "portal/finance.html",
        today=today,
        collection=collection,
        channels=channels,
        names=names,
        month=label,
        months=[m[0] for m in recent_months(today)],
        markets=markets,
        trend=trend,
        collection_chart=stacked_columns(
            _("Collection per month, by channel"),
            collection.months,
            [Series(names[c], collection.by_channel[c]) for c in channels],
        ),
        market_chart=horizontal_bars(
            _("Collection per market, %(month)s", month=label),
            [(code, total) for code, _name, total in markets[:MAX_BARS]],
        ),
        trend_chart=stacked_columns(
            _("Principal overdue at each month's end"),
            [m for m, _v in trend],
            [Series(_("Principal overdue"), tuple(v for _m, v in trend))],
        ),
    )


@bp.route("/admin")
@roles_required(Role.ADMIN)
def admin() -> ResponseReturnValue:
    notices = [text for notice in current_app.extensions[ADMIN_NOTICES] for text in notice()]
    return render_template("portal/admin.html", notices=notices)


@bp.route("/petugas/teguran")
@roles_required(Role.OFFICER, Role.ADMIN, Role.FINANCE)
def notices() -> ResponseReturnValue:
    """The letters issued for a market (STRD and Surat Teguran 1-3), newest first, to hand out."""
    user = current_account()
    codes = sorted(user.market_codes) if user.role is Role.OFFICER else None
    markets = list_market_codes(codes)
    wanted = request.args.get("pasar", "")[:32]
    market = wanted if wanted in markets else (markets[0] if markets else None)
    letters = notices_in_market(user, market) if market else []
    return render_template("portal/notices.html", markets=markets, market=market, letters=letters)
