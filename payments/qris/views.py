"""QRIS pages and images: stall cards for staff, dynamic bill codes for vendors and staff.

Thin: parse, authorize (in the services: officers only their markets, a vendor only their own
stalls and codes), call a service, render. Images are served with ``no-store`` for dynamic codes
(each is a payment request) and a day's caching for static ones (they change only with the
merchant configuration).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from payments.portal.services import latest_payment_id
from payments.qris.cards import MAX_CARDS_PER_PDF, Card, cards_pdf
from payments.qris.config import settings
from payments.qris.image import qr_png, qr_svg
from payments.qris.services import (
    StallCode,
    dynamic_code_for,
    get_code,
    get_stall,
    stall_label,
    stalls_for_cards,
    static_payload,
    vendor_for_user,
)
from payments.qris.setup import CODE_EXTRAS
from retribusi import clock
from retribusi.auth.access import authenticated, current_account, roles_required
from retribusi.auth.models import Role, User
from retribusi.errors import DomainError
from retribusi.extensions import db
from retribusi.levy.arrears import market_scope
from retribusi.levy.errors import reason_of
from vendors.models import Block, Market
from vendors.services import vendor_paid_by

bp = Blueprint(
    "qris",
    __name__,
    url_prefix="/qris",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/qris",
)

STAFF: Final = (Role.ADMIN, Role.FINANCE, Role.OFFICER)
_CODE_RE: Final = re.compile(r"[0-9A-Za-z]{1,25}")
_MARKET_RE: Final = re.compile(r"[A-Z][A-Z0-9_]{1,31}")
_BLOCK_RE: Final = re.compile(r"[A-Z0-9][A-Z0-9-]{0,19}")

REASONS: Final = {
    "not_open": _l("A chosen bill is not open any more."),
    "required": _l("Choose at least one bill."),
    "too_many": _l("Too many at once."),
    "two_merchants": _l("Bills of these markets cannot share one code: pay them one by one."),
    "over_limit": _l("The total is over the QRIS limit of Rp10.000.000: choose fewer bills."),
    "not_configured": _l("QRIS payment is not available yet."),
    "type": _l("Unknown value."),
}


@bp.app_template_filter("qris_wib")
def wib_filter(moment: datetime) -> str:
    """A time as people in Solo read it: ``23-11-2026 11:00 WIB``."""
    return clock.to_wib(moment).strftime("%d-%m-%Y %H:%M WIB")


def _refused(error: DomainError) -> str:
    message = REASONS.get(reason_of(error))
    return str(message) if message is not None else error.message


def _image(payload: str, fmt: str, *, cache: bool, name: str) -> Response:
    if fmt == "png":
        response = Response(qr_png(payload), mimetype="image/png")
    else:
        response = Response(qr_svg(payload), mimetype="image/svg+xml")
    response.headers["Content-Disposition"] = f'inline; filename="{name}.{fmt}"'
    response.headers["Cache-Control"] = "private, max-age=86400" if cache else "no-store"
    return response


def _fmt(fmt: str) -> str:
    if fmt not in {"png", "svg"}:
        abort(404)
    return fmt


# --- static stall codes --------------------------------------------------------------------------


@bp.route("/kios/<int:stall_id>.<fmt>")
@authenticated
def stall_image(stall_id: int, fmt: str) -> ResponseReturnValue:
    """The stall's static code as PNG or SVG (staff of its market, or its holder)."""
    fmt = _fmt(fmt)
    stall = get_stall(stall_id, current_account())
    return _image(static_payload(stall), fmt, cache=True, name=f"qris-{stall_label(stall)}")


@bp.route("/kios/<int:stall_id>/kartu.pdf")
@roles_required(*STAFF)
def stall_card(stall_id: int) -> ResponseReturnValue:
    """One stall's printable A6 card."""
    stall = get_stall(stall_id, current_account())
    codes = stalls_for_cards(
        current_account(), stall.market.code, stall.block.code, limit=MAX_CARDS_PER_PDF
    )
    chosen = [c for c in codes if c.stall.id == stall.id]
    return _cards_response(chosen, stall.market.code, f"kartu-qris-{stall_label(stall)}")


def _cards_response(codes: Sequence[StallCode], market_code: str, name: str) -> Response:
    _key, identity = settings().merchant_for(market_code)
    cards = [
        Card(
            payload=c.payload,
            market_name=c.stall.market.name,
            block_name=c.stall.block.name,
            stall_reference=c.stall.reference,
            stall_type=c.stall.stall_type.value,
            holder_name=c.holder_name,
            va_lines=c.va_lines,
        )
        for c in codes
    ]
    content = cards_pdf(cards, identity, title=_("QRIS stall cards"))
    return Response(
        content,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


def _markets_for(user: User) -> list[Market]:
    scope = market_scope(user)
    query = select(Market).order_by(Market.code)
    if scope is not None:
        query = query.where(Market.code.in_(sorted(scope)))
    return list(db.session.scalars(query))


@bp.route("/kartu")
@roles_required(*STAFF)
def cards_page() -> ResponseReturnValue:
    """Choose a market (and a block) to download its stall cards as one PDF."""
    user = current_account()
    markets = _markets_for(user)
    market_code = (request.args.get("market") or "").strip()[:32]
    chosen = next((m for m in markets if m.code == market_code), None)
    blocks = (
        list(
            db.session.execute(
                select(Block.code, Block.name)
                .where(Block.market_id == chosen.id)
                .order_by(Block.code)
            )
        )
        if chosen is not None
        else []
    )
    return render_template(
        "qris/cards.html",
        markets=markets,
        market=chosen,
        blocks=blocks,
        max_cards=MAX_CARDS_PER_PDF,
        enabled=settings().enabled,
    )


@bp.route("/kartu.pdf")
@roles_required(*STAFF)
def cards_pdf_page() -> ResponseReturnValue:
    """Every stall card of a market, or of one block: one PDF, one A6 page per stall."""
    market_code = (request.args.get("market") or "").strip()
    block_code = (request.args.get("block") or "").strip() or None
    if not _MARKET_RE.fullmatch(market_code) or (
        block_code is not None and not _BLOCK_RE.fullmatch(block_code)
    ):
        abort(404)
    try:
        codes = stalls_for_cards(
            current_account(), market_code, block_code, limit=MAX_CARDS_PER_PDF
        )
    except DomainError as error:
        if error.status != 422:
            raise
        flash(_("More than %(n)s stalls: print one block at a time.", n=MAX_CARDS_PER_PDF), "error")
        return redirect(url_for("qris.cards_page", market=market_code))
    if not codes:
        flash(_("No stalls to print."), "error")
        return redirect(url_for("qris.cards_page", market=market_code))
    name = f"kartu-qris-{market_code}" + (f"-{block_code}" if block_code else "")
    return _cards_response(codes, market_code, name)


# --- dynamic bill codes --------------------------------------------------------------------------


def _bill_ids() -> list[int]:
    raw = request.form.getlist("bill_id")
    if (
        not raw
        or len(raw) > 24
        or not all(v.isascii() and v.isdigit() and len(v) <= 18 for v in raw)
    ):
        return []
    return [int(v) for v in raw]


@bp.route("/bayar", methods=["POST"])
@authenticated
def pay_page() -> ResponseReturnValue:
    """Make (or hand out again) a dynamic code for the chosen bills, then show it."""
    user = current_account()
    raw_vendor = request.form.get("vendor_id", "")
    if raw_vendor and not (raw_vendor.isascii() and raw_vendor.isdigit() and len(raw_vendor) <= 18):
        abort(400)
    if user.role is Role.VENDOR:
        # A vendor pays their own bills, or those of a vendor who named them proxy payer.
        if raw_vendor:
            vendor_id = vendor_paid_by(user, int(raw_vendor)).id
        else:
            vendor = vendor_for_user(user)
            if vendor is None:
                abort(403)
            vendor_id = vendor.id
    else:
        if not raw_vendor:
            abort(400)
        vendor_id = int(raw_vendor)
    try:
        code = dynamic_code_for(vendor_id, _bill_ids(), user=user)
    except DomainError as error:
        if error.status in {403, 404}:
            raise
        flash(_refused(error), "error")
        # Back to the page the form was on, never to another site named by a Referer header.
        referrer = request.referrer or ""
        back = referrer if referrer.startswith(request.host_url) else url_for("web.home")
        return redirect(back)
    return redirect(url_for("qris.code_page", reference=code.reference))


@bp.route("/kode/<reference>")
@authenticated
def code_page(reference: str) -> ResponseReturnValue:
    """A dynamic code to scan: the QR, the amount, the bills, until when it may be paid."""
    if not _CODE_RE.fullmatch(reference):
        abort(404)
    code = get_code(reference, current_account())
    return render_template(
        "qris/code.html",
        code=code,
        svg=qr_svg(code.payload),
        latest=latest_payment_id(code.vendor_id),
        extras=current_app.extensions.get(CODE_EXTRAS, []),
    )


@bp.route("/kode/<reference>.<fmt>")
@authenticated
def code_image(reference: str, fmt: str) -> ResponseReturnValue:
    """A dynamic code as PNG (to save or share) or SVG."""
    fmt = _fmt(fmt)
    if not _CODE_RE.fullmatch(reference):
        abort(404)
    code = get_code(reference, current_account())
    return _image(code.payload, fmt, cache=False, name=f"qris-{code.reference}")
