"""Levy pages: arrears, bills, billing runs, tariffs, tickets, reliefs and outages.

Thin: parse, authorize, call a service, render. A refused action comes back as a message in the
reader's language (from the service's stable reason code) and changes nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs lag 3.3

from retribusi import clock
from retribusi.auth.access import authenticated, current_account, require_market, roles_required
from retribusi.auth.models import Role, User
from retribusi.db import parse_id
from retribusi.errors import DomainError
from retribusi.extensions import db
from retribusi.levy import forms
from retribusi.levy.arrears import arrears, arrears_xlsx, market_scope
from retribusi.levy.billing import (
    bill_figures,
    close_period,
    get_bill,
    issue_bills,
    record_ticket,
    void_bill,
)
from retribusi.levy.errors import invalid, reason_of
from retribusi.levy.letters import bill_pdf, notice_pdf
from retribusi.levy.models import Bill, BillStatus
from retribusi.levy.notices import get_notice, issue_notices, notices_for_bill
from retribusi.levy.reliefs import (
    ReliefInput,
    add_outage,
    add_relief,
    list_outages,
    list_reliefs,
)
from retribusi.levy.rules import AGE_BUCKETS, Period
from retribusi.levy.tariffs import TariffInput, add_tariff_version, list_tariffs
from vendors.models import Block, Market, Placement, Stall, StallType, Vendor

bp = Blueprint(
    "levy",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/levy",
)

STAFF = (Role.ADMIN, Role.FINANCE, Role.OFFICER)
BACK_OFFICE = (Role.ADMIN, Role.FINANCE)

REASONS = {
    "malformed": _l("The value is not written the right way."),
    "not_positive": _l("The rate must be above zero."),
    "too_precise": _l("The rate has more than 4 decimal places."),
    "too_large": _l("The value is too large."),
    "overlapping": _l("This version overlaps an existing version of the same scope."),
    "backdated": _l("Days from this date are already billed: a new version must start later."),
    "closed": _l("This period is closed for billing."),
    "not_over": _l("This period is not over yet."),
    "has_payments": _l("This bill has payments: reverse them before voiding it."),
    "already_voided": _l("This bill is already voided."),
    "already_billed": _l("A ticket for this day exists already."),
    "not_pelataran": _l("Tickets are for pelataran only."),
    "not_covered": _l("The occupancy right does not cover this day."),
    "no_tariff": _l("No tariff applies."),
    "no_tntd": _l("The stall has no TNTD and the tariff gives no default."),
    "required": _l("A required value is missing."),
    "unknown": _l("Unknown value."),
    "before_start": _l("The end is before the start."),
    "future": _l("The date is in the future."),
    "two_scopes": _l("Choose a market or a class, not both."),
    "concurrent": _l("Another billing run wrote the same bills: run it again."),
}


@bp.app_template_filter("decimal")
def decimal_filter(value: Decimal) -> str:
    """A rate or quantity in the reader's notation, without trailing zeros: 2,25 / 150 / 0,1."""
    return format_decimal(value.normalize(), locale=str(get_locale()), decimal_quantization=False)


def _refused(error: DomainError) -> str:
    message = REASONS.get(reason_of(error))
    return str(message) if message is not None else error.message


def _actor(user: User) -> str:
    return f"user:{user.id}"


def _markets_for(user: User) -> list[Market]:
    scope = market_scope(user)
    query = select(Market).order_by(Market.code)
    if scope is not None:
        query = query.where(Market.code.in_(sorted(scope)))
    return list(db.session.scalars(query))


def _market_choices(user: User, empty: str) -> list[SelectChoice]:
    markets = _markets_for(user)
    return [SelectChoice("", empty)] + [
        SelectChoice(m.code, f"{m.code} · {m.name}") for m in markets
    ]


def _as_of() -> date:
    return clock.today_wib()


# --- arrears -----------------------------------------------------------------------------------


def _arg(name: str, limit: int) -> str | None:
    value = (request.args.get(name) or "").strip()[:limit]
    return value or None


@bp.route("/tunggakan")
@roles_required(*STAFF)
def arrears_page() -> ResponseReturnValue:
    user = current_account()
    vendor = _arg("vendor", 18)
    vendor_id = parse_id(vendor)
    report = arrears(
        user,
        as_of=_as_of(),
        market_code=_arg("market", 32),
        block_code=_arg("block", 20),
        vendor_id=vendor_id,
    )
    vendor_row = db.session.get(Vendor, vendor_id) if vendor_id else None
    return render_template(
        "levy/arrears.html",
        report=report,
        buckets=AGE_BUCKETS,
        vendor=vendor_row,
        markets=_markets_for(user) if report.level == "market" else [],
    )


@bp.route("/tunggakan.xlsx")
@roles_required(*STAFF)
def arrears_export() -> ResponseReturnValue:
    user = current_account()
    market = _arg("market", 32)
    as_of = _as_of()
    content = arrears_xlsx(user, as_of=as_of, market_code=market)
    name = f"tunggakan-{market or 'semua'}-{as_of.isoformat()}.xlsx"
    return Response(
        content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- bills -------------------------------------------------------------------------------------


@bp.route("/tagihan/<int:bill_id>")
@authenticated
def bill_page(bill_id: int) -> ResponseReturnValue:
    user = current_account()
    bill = get_bill(bill_id, user)
    return _render_bill(bill, user, forms.VoidForm(), 200)


def _render_bill(bill: Bill, user: User, form: forms.VoidForm, status: int) -> ResponseReturnValue:
    notices = notices_for_bill(bill) if user.role is not Role.VENDOR else []
    can_void = user.role in BACK_OFFICE and bill.status is BillStatus.ISSUED
    replaced_by = db.session.scalars(select(Bill).where(Bill.replaces_id == bill.id)).first()
    return (
        render_template(
            "levy/bill.html",
            bill=bill,
            account=bill_figures(bill),
            notices=notices,
            form=form,
            can_void=can_void,
            replaced_by=replaced_by,
            today=_as_of(),
        ),
        status,
    )


@bp.route("/tagihan/<int:bill_id>/batal", methods=["POST"])
@roles_required(*BACK_OFFICE)
def void_page(bill_id: int) -> ResponseReturnValue:
    user = current_account()
    bill = get_bill(bill_id, user)
    form = forms.VoidForm()
    if not form.validate_on_submit():
        flash(_("Give a reason of 10 to 300 characters."), "error")
        return _render_bill(bill, user, form, 422)
    try:
        result = void_bill(
            bill.id,
            reason=form.reason.data or "",
            actor=_actor(user),
            reissue=bool(form.reissue.data),
            user=user,
        )
    except DomainError as error:
        flash(_refused(error), "error")
        return _render_bill(bill, user, form, error.status)
    if result.reissued is not None:
        flash(_("Bill voided and reissued as %(number)s.", number=result.reissued.number), "info")
        return redirect(url_for("levy.bill_page", bill_id=result.reissued.id))
    flash(_("Bill voided."), "info")
    return redirect(url_for("levy.bill_page", bill_id=bill.id))


@bp.route("/tagihan/<int:bill_id>/skrd.pdf")
@authenticated
def bill_pdf_page(bill_id: int) -> ResponseReturnValue:
    bill = get_bill(bill_id, current_account())
    content = bill_pdf(bill, bill_figures(bill), _as_of())
    return _pdf(content, bill.number)


@bp.route("/surat/<int:notice_id>.pdf")
@authenticated
def notice_pdf_page(notice_id: int) -> ResponseReturnValue:
    notice = get_notice(notice_id, current_account())
    return _pdf(notice_pdf(notice), notice.number)


def _pdf(content: bytes, number: str) -> Response:
    name = number.replace("/", "-") + ".pdf"
    return Response(
        content,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


# --- billing run -------------------------------------------------------------------------------


@bp.route("/penagihan", methods=["GET", "POST"])
@roles_required(*BACK_OFFICE)
def billing_page() -> ResponseReturnValue:
    user = current_account()
    form = forms.BillingRunForm()
    form.market.choices = _market_choices(user, str(_l("All markets")))
    if request.method == "GET":
        form.period.data = Period.of(_as_of()).label
    summary: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("The form expired. Reload the page and try again."), "error")
            status = 400
        else:
            dry_run = not form.issue.data
            try:
                summary = issue_bills(
                    form.period.data or "",
                    market_code=form.market.data or None,
                    dry_run=dry_run,
                    actor=_actor(user),
                ).to_dict()
            except DomainError as error:
                flash(_refused(error), "error")
                status = error.status
            else:
                if not dry_run:
                    flash(_("%(count)s bills issued.", count=summary["bills"]), "info")
    return (
        render_template(
            "levy/billing.html",
            form=form,
            summary=summary,
            notice_form=forms.NoticeRunForm(),
            close_form=forms.ClosePeriodForm(),
        ),
        status,
    )


@bp.route("/penagihan/surat", methods=["POST"])
@roles_required(*BACK_OFFICE)
def notices_page() -> ResponseReturnValue:
    form = forms.NoticeRunForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Reload the page and try again."), "error")
        return redirect(url_for("levy.billing_page"))
    summary = issue_notices(actor=_actor(current_account())).to_dict()
    flash(_("%(count)s letters issued.", count=summary["total"]), "info")
    return redirect(url_for("levy.billing_page"))


@bp.route("/penagihan/tutup", methods=["POST"])
@roles_required(*BACK_OFFICE)
def close_page() -> ResponseReturnValue:
    form = forms.ClosePeriodForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Reload the page and try again."), "error")
        return redirect(url_for("levy.billing_page"))
    try:
        close_period(form.period.data or "", actor=_actor(current_account()))
    except DomainError as error:
        flash(_refused(error), "error")
    else:
        flash(_("Period %(period)s closed.", period=form.period.data), "info")
    return redirect(url_for("levy.billing_page"))


# --- tariffs -----------------------------------------------------------------------------------


@bp.route("/tarif")
@roles_required(*BACK_OFFICE)
def tariffs_page() -> ResponseReturnValue:
    versions = list_tariffs()
    return render_template(
        "levy/tariffs.html",
        versions=versions,
        any_illustrative=any(v.illustrative for v in versions),
        can_add=current_account().role is Role.ADMIN,
    )


@bp.route("/tarif/baru", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def tariff_new_page() -> ResponseReturnValue:
    user = current_account()
    form = forms.TariffForm()
    form.market.choices = _market_choices(user, str(_l("(no single market)")))
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 422
        else:
            try:
                version = add_tariff_version(
                    TariffInput(
                        stall_type=form.stall_type.data,
                        component=form.component.data,
                        basis=form.basis.data,
                        rate=form.rate.data,
                        legal_basis=form.legal_basis.data or "",
                        valid_from=form.valid_from.data,
                        valid_to=form.valid_to.data,
                        market_code=form.market.data or None,
                        market_class=form.market_class.data or None,
                        default_tntd_idr_per_m2=form.default_tntd.data or None,
                        note=form.note.data,
                    ),
                    actor=_actor(user),
                )
            except DomainError as error:
                flash(_refused(error), "error")
                status = error.status
            else:
                flash(_("Tariff version %(id)s added.", id=version.id), "info")
                return redirect(url_for("levy.tariffs_page"))
    return render_template("levy/tariff_new.html", form=form), status


# --- tickets -----------------------------------------------------------------------------------


@bp.route("/karcis", methods=["GET", "POST"])
@roles_required(*STAFF)
def tickets_page() -> ResponseReturnValue:
    user = current_account()
    markets = _markets_for(user)
    market_code = _arg("market", 32) or (markets[0].code if len(markets) == 1 else None)
    status = 200
    if request.method == "POST":
        form = forms.TicketForm()
        placement = form.placement_id.data or ""
        try:
            placement_id = parse_id(placement)
            if not form.validate_on_submit() or placement_id is None:
                raise invalid("placement", "required", "choose a placement")
            bill = record_ticket(placement_id, user=user, actor=_actor(user))
        except DomainError as error:
            flash(_refused(error), "error")
            status = error.status
        else:
            flash(_("Ticket %(number)s issued.", number=bill.number), "info")
            return redirect(url_for("levy.bill_page", bill_id=bill.id))
    rows: list[Any] = []
    if market_code:
        require_market(user, market_code)
        rows = _pelataran_today(market_code)
    return (
        render_template(
            "levy/tickets.html",
            markets=markets,
            market_code=market_code,
            rows=rows,
            form=forms.TicketForm(),
            today=_as_of(),
        ),
        status,
    )


def _pelataran_today(market_code: str) -> list[Any]:
    today = _as_of()
    query = (
        select(Placement.id, Block.code, Stall.number, Vendor.full_name, Stall.area_m2)
        .join(Stall, Stall.id == Placement.stall_id)
        .join(Block, Block.id == Stall.block_id)
        .join(Market, Market.id == Stall.market_id)
        .join(Vendor, Vendor.id == Placement.vendor_id)
        .where(
            Market.code == market_code,
            Stall.stall_type == StallType.PELATARAN,
            Placement.start_on <= today,
            Placement.ended_on.is_(None),
            Placement.expires_on > today,
        )
        .order_by(Block.code, Stall.number)
        .limit(500)
    )
    return list(db.session.execute(query))


# --- reliefs and outages -----------------------------------------------------------------------


@bp.route("/keringanan", methods=["GET", "POST"])
@roles_required(*BACK_OFFICE)
def reliefs_page() -> ResponseReturnValue:
    user = current_account()
    relief_form = forms.ReliefForm(prefix="relief")
    outage_form = forms.OutageForm(prefix="outage")
    relief_form.market.choices = _market_choices(user, str(_l("(whole city)")))
    outage_form.market.choices = _market_choices(user, str(_l("(every market)")))
    status = 200
    if request.method == "POST":
        try:
            if request.form.get("relief-decision_number") is not None:
                _add_relief(relief_form, user)
            else:
                _add_outage(outage_form, user)
        except DomainError as error:
            flash(_refused(error), "error")
            status = error.status
        else:
            flash(_("Recorded."), "info")
            return redirect(url_for("levy.reliefs_page"))
    return (
        render_template(
            "levy/reliefs.html",
            reliefs=list_reliefs(),
            outages=list_outages(),
            relief_form=relief_form,
            outage_form=outage_form,
        ),
        status,
    )


def _add_relief(form: forms.ReliefForm, user: User) -> None:
    if not form.validate_on_submit():
        raise invalid("relief", "required", "fill in the kind, letter number and dates")
    vendor = (form.vendor_id.data or "").strip()
    if vendor and parse_id(vendor) is None:
        raise invalid("vendor", "malformed", "a vendor id is a number")
    add_relief(
        ReliefInput(
            kind=form.kind.data,
            decision_number=form.decision_number.data or "",
            decided_on=form.decided_on.data,
            valid_from=form.valid_from.data,
            valid_to=form.valid_to.data,
            market_code=form.market.data or None,
            block_code=(form.block.data or "").strip() or None,
            vendor_id=int(vendor) if vendor else None,
            reduction_pct=form.reduction_pct.data or None,
            note=form.note.data,
        ),
        actor=_actor(user),
    )


def _add_outage(form: forms.OutageForm, user: User) -> None:
    if not form.validate_on_submit():
        raise invalid("outage", "required", "fill in the channel, dates and reference")
    add_outage(
        market_code=form.market.data or None,
        channel=form.channel.data,
        started_on=form.started_on.data,
        ended_on=form.ended_on.data,
        reference=form.reference.data or "",
        actor=_actor(user),
    )
