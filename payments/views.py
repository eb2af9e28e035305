"""Payment pages: payments and their receipts, the public receipt check, officer cash, deposits.

Thin: parse the form, call a service with the signed-in account (which keeps officers in their
markets and vendors with their own), render. A refusal comes back as a message in the reader's
language, from the service's stable reason code, and nothing is written.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import IO, Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs lag 3.3

from payments import forms
from payments.cash import CashIn, check_form_key, new_form_key, parse_typed_amount, record_cash
from payments.deposits import (
    DepositIn,
    Selection,
    create_deposit,
    deposit_items,
    deposit_status,
    deposits_query,
    get_deposit,
    undeposited,
    undeposited_days,
    verify_deposit,
)
from payments.exports import (
    MIME,
    DepositsWanted,
    PaymentsWanted,
    default_period,
    deposits_xlsx,
    parse_period,
    payments_xlsx,
)
from payments.ledger import credit_balance
from payments.models import Channel, DepositStatus, Payment
from payments.queries import PaymentFilter, count, get_payment, payments_query, today
from payments.receipts import (
    PAPERS,
    VERIFY_PATH,
    Paper,
    ReceiptView,
    public_pem,
    qr_svg,
    receipt_pdf,
    receipt_view,
    verify_receipt,
)
from payments.reversals import REVERSERS, reverse
from payments.signing import MAX_TOKEN_CHARS
from retribusi import clock
from retribusi.auth.access import authenticated, current_account, public, roles_required
from retribusi.auth.models import Role, User
from retribusi.db import parse_id
from retribusi.errors import Conflict, DomainError
from retribusi.extensions import db, limiter
from retribusi.levy.billing import open_bills_for_vendor
from retribusi.levy.errors import invalid, reason_of
from retribusi.money import format_idr
from vendors.models import Market, Vendor
from vendors.services import Actor, get_vendor, search_vendors, vendor_markets

bp = Blueprint(
    "payments",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/payments",
)

STAFF = (Role.ADMIN, Role.FINANCE, Role.OFFICER)
PAGE_SIZE = 25
MAX_PAGE = 10_000
VERIFY_LIMIT = "60 per minute"

REASONS = {
    "required": _l("A required value is missing."),
    "type": _l("Write a whole number of rupiah."),
    "format": _l("Write the amount as 15000 or 15.000."),
    "fraction": _l("Rupiah are whole: no cents."),
    "not_positive": _l("The amount must be more than zero."),
    "too_large": _l("This amount is above the limit for cash; it must be paid at the bank."),
    "forged": _l("This form was not issued to you. It has been opened again: check and send."),
    "not_vendors_market": _l("This vendor has no stall in that market."),
    "not_vendors": _l("That bill is not this vendor's."),
    "future": _l("The date is in the future."),
    "too_old": _l("That is too long ago: finance records it."),
    "length": _l("The text is too long or empty."),
    "characters": _l("The text has characters that cannot be printed."),
    "already_reversed": _l("This payment is already reversed."),
    "duplicate": _l("A payment is ticked twice."),
    "not_your_cash": _l("One of these payments is not cash you took."),
    "already_deposited": _l("One of these payments is already in a deposit."),
    "reversed": _l("One of these payments was reversed and is not cash to deposit."),
    "nothing_to_deposit": _l("There is no undeposited cash for this choice."),
    "before_collection": _l("The deposit is dated before cash it includes."),
    "already_verified": _l("This deposit is already verified."),
    "too_many": _l("Too many payments in one deposit."),
    "not_found": _l("Not found."),
    "period_missing": _l("Choose the first and the last day of the period."),
    "period_format": _l("Write each day of the period as YYYY-MM-DD, a real calendar day."),
    "period_order": _l("The period ends before it starts."),
    "period_too_long": _l("An export covers at most 366 days: choose a shorter period."),
}


@bp.app_template_filter("wib_time")
def wib_time(at: datetime) -> datetime:
    """A stored instant (UTC) as people in Solo read it."""
    return clock.to_wib(at)


def _refused(error: DomainError) -> str:
    message = REASONS.get(reason_of(error))
    return str(message) if message is not None else error.message


def _field_of(error: DomainError) -> str:
    errors = error.details.get("errors") or [{}]
    return str(errors[0].get("field", "form"))


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return parse_id(raw, maximum=MAX_PAGE) or 1


def _date_arg(name: str) -> date | None:
    raw = (request.args.get(name) or "").strip()[:10]
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _int_arg(name: str) -> int | None:
    return parse_id(request.args.get(name))


def _channel_arg() -> Channel | None:
    raw = request.args.get("channel", "")
    return Channel(raw) if raw in {c.value for c in Channel} else None


def _market_arg() -> str | None:
    return (request.args.get("market") or "").strip()[:32] or None


def _deposit_status_arg() -> DepositStatus | None:
    raw = request.args.get("status", "")
    return DepositStatus(raw) if raw in {s.value for s in DepositStatus} else None


def _filters() -> dict[str, str]:
    """A list page's query without its page number: what its pager and export link carry."""
    return {k: v for k, v in request.args.items() if k != "page"}


@bp.app_template_global()
def export_args(args: dict[str, Any] | None = None) -> dict[str, Any]:
    """A list page's filters for its export link, with this month so far for a missing end."""
    carried = {k: v for k, v in (args or {}).items() if k != "page" and v}
    period = default_period(today())
    carried.setdefault("from", period.start.isoformat())
    carried.setdefault("to", period.end.isoformat())
    return carried


def _period_refused(endpoint: str, error: DomainError) -> ResponseReturnValue:
    """A missing, malformed or too long period: say why and offer the period again (400)."""
    kept = {k: v for k, v in request.args.items() if k not in {"from", "to"}}
    return render_template(
        "payments/export_period.html",
        message=_refused(error),
        action=url_for(endpoint),
        kept=kept,
        start=(request.args.get("from") or "")[:10],
        end=(request.args.get("to") or "")[:10],
    ), 400


def _xlsx(file: IO[bytes], name: str) -> ResponseReturnValue:
    return send_file(file, mimetype=MIME, as_attachment=True, download_name=name, etag=False)


# --- payments and receipts --------------------------------------------------------------------


@bp.route("/pembayaran")
@authenticated
def payments_page() -> ResponseReturnValue:
    user = current_account()
    staff = user.role is not Role.VENDOR
    wanted = PaymentFilter(
        vendor_id=_int_arg("vendor") if staff else None,
        channel=_channel_arg(),
        paid_from=_date_arg("from"),
        paid_to=_date_arg("to"),
        market_code=_market_arg() if staff else None,
    )
    query = payments_query(user, wanted)
    page = _page_number()
    total = count(query)
    rows = list(db.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    vendors = {
        v.id: v.full_name
        for v in db.session.scalars(
            db.select(Vendor).where(Vendor.id.in_({p.vendor_id for p in rows}))
        )
    }
    own_credit = None
    if user.role is Role.VENDOR and rows:
        own_credit = credit_balance(rows[0].vendor_id)
    return render_template(
        "payments/list.html",
        payments=rows,
        vendors=vendors,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        wanted=wanted,
        channels=[c.value for c in Channel],
        markets=_visible_markets(user) if staff else [],
        own_credit=own_credit,
        args=_filters(),
    )


def _visible_markets(user: User) -> list[Market]:
    query = db.select(Market).order_by(Market.code)
    if user.role is Role.OFFICER:
        query = query.where(Market.code.in_(sorted(user.market_codes)))
    return list(db.session.scalars(query))


@bp.route("/pembayaran.xlsx")
@roles_required(*STAFF)
def payments_export() -> ResponseReturnValue:
    """The payments of a period, with the list page's filters, for auditors."""
    try:
        period = parse_period(request.args.get("from"), request.args.get("to"))
    except DomainError as error:
        return _period_refused("payments.payments_export", error)
    wanted = PaymentsWanted(
        period, channel=_channel_arg(), market_code=_market_arg(), vendor_id=_int_arg("vendor")
    )
    return _xlsx(payments_xlsx(current_account(), wanted), f"pembayaran-{period.slug}.xlsx")


def _share_text(view: ReceiptView) -> str:
    return str(
        _(
            "Payment receipt %(number)s, %(amount)s for %(name)s. Check it: %(url)s",
            number=view.number,
            amount=format_idr(view.amount_idr),
            name=view.vendor_name,
            url=view.verify_url,
        )
    )


def _render_payment(
    payment: Payment, form: forms.ReversalForm, errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    user = current_account()
    view = receipt_view(payment)
    text = _share_text(view)
    return render_template(
        "payments/payment.html",
        payment=payment,
        view=view,
        qr=qr_svg(view.verify_url, label=_("Receipt verification code")),
        papers=PAPERS,
        share_url="https://wa.me/?text=" + quote(text),
        share_vendor_url=f"https://wa.me/{view.vendor_phone}?text=" + quote(text),
        staff=user.role is not Role.VENDOR,
        can_reverse=user.role in REVERSERS and payment.reversal is None,
        form=form,
        errors=errors,
        allocations=list(payment.allocations),
    ), status


@bp.route("/pembayaran/<int:payment_id>")
@authenticated
def payment_page(payment_id: int) -> ResponseReturnValue:
    payment = get_payment(payment_id, current_account())
    return _render_payment(payment, forms.ReversalForm(), {})


@bp.route("/pembayaran/<int:payment_id>/kuitansi-<any(58mm,a6):paper>.pdf")
@authenticated
def receipt_pdf_page(payment_id: int, paper: str) -> ResponseReturnValue:
    payment = get_payment(payment_id, current_account())
    chosen: Paper = "58mm" if paper == "58mm" else "a6"
    view = receipt_view(payment)
    name = f"{view.number.replace('/', '-')}-{paper}.pdf"
    return Response(
        receipt_pdf(view, chosen),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@bp.route("/pembayaran/<int:payment_id>/batal", methods=["POST"])
@roles_required(*REVERSERS)
def reverse_page(payment_id: int) -> ResponseReturnValue:
    user = current_account()
    payment = get_payment(payment_id, user)
    form = forms.ReversalForm()
    if not form.validate_on_submit():
        return _render_payment(
            payment, form, {"form": _("The form expired. Reload the page.")}, 400
        )
    try:
        done = reverse(
            payment.id,
            reference=form.reference.data or "",
            reason=form.reason.data or "",
            user=user,
        )
    except DomainError as error:
        db.session.rollback()
        payment = get_payment(payment_id, user)
        return _render_payment(payment, form, {_field_of(error): _refused(error)}, error.status)
    if done.replayed:
        flash(_("This reversal was already recorded."), "info")
    else:
        flash(
            _(
                "Payment reversed: %(count)s bills reopened.",
                count=len(done.reopened_bill_ids),
            ),
            "info",
        )
    return redirect(url_for("payments.payment_page", payment_id=payment.id))


# --- the public receipt check -----------------------------------------------------------------


@bp.route("/kuitansi")
@public
def verify_help_page() -> ResponseReturnValue:
    form = forms.VerifyLinkForm(request.args)
    link = (form.link.data or "").strip()
    if link:
        token = link.rsplit(VERIFY_PATH, 1)[-1].split("?")[0].strip()
        if token and len(token) <= MAX_TOKEN_CHARS and "/" not in token:
            return redirect(url_for("payments.verify_page", token=token))
        return render_template("payments/verify_help.html", form=form, bad_link=True), 400
    return render_template("payments/verify_help.html", form=form, bad_link=False)


@bp.route("/kuitansi/v/<token>")
@public
@limiter.limit(VERIFY_LIMIT)
def verify_page(token: str) -> ResponseReturnValue:
    verdict = verify_receipt(token[: MAX_TOKEN_CHARS + 1])
    view = receipt_view(verdict.receipt.payment) if verdict.valid and verdict.receipt else None
    return render_template(
        "payments/verify.html", verdict=verdict, view=view
    ), 200 if verdict.valid else 404


@bp.route("/kuitansi/kunci-publik.pem")
@public
def public_key_page() -> ResponseReturnValue:
    return Response(
        public_pem(),
        mimetype="application/x-pem-file",
        headers={"Content-Disposition": 'inline; filename="kunci-publik-kuitansi.pem"'},
    )


# --- officer cash -----------------------------------------------------------------------------


@bp.route("/kas")
@roles_required(Role.OFFICER)
def cash_page() -> ResponseReturnValue:
    user = current_account()
    today_rows = undeposited(user.id, on=today())
    days = undeposited_days(user.id)
    return render_template(
        "payments/cash_home.html",
        today_rows=today_rows,
        days=days,
        undeposited_idr=sum(d.total_idr for d in days),
    )


def _cash_markets(user: User, vendor: Vendor) -> list[Market]:
    codes = sorted(user.market_codes & vendor_markets(vendor.id))
    return list(db.session.scalars(db.select(Market).where(Market.code.in_(codes))))


def _cash_form(user: User, vendor: Vendor, form: forms.CashForm) -> list[Any]:
    markets = _cash_markets(user, vendor)
    form.market.choices = [SelectChoice(m.code, f"{m.code} · {m.name}") for m in markets]
    bills = open_bills_for_vendor(vendor.id, today())
    form.bill_id.choices = [SelectChoice("", _("(oldest first)"))] + [
        SelectChoice(str(b.bill_id), f"{b.number} · {format_idr(b.outstanding_idr)}") for b in bills
    ]
    if not form.idempotency_key.data:
        form.idempotency_key.data = new_form_key(user.id)
    return bills


def _render_cash(
    vendor: Vendor, form: forms.CashForm, errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    user = current_account()
    bills = _cash_form(user, vendor, form)
    return render_template(
        "payments/cash_form.html",
        vendor=vendor,
        form=form,
        bills=bills,
        owed_idr=sum(b.outstanding_idr for b in bills),
        credit_idr=credit_balance(vendor.id),
        errors=errors,
    ), status


@bp.route("/kas/baru", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def cash_new_page() -> ResponseReturnValue:
    user = current_account()
    vendor_id = _int_arg("vendor")
    if vendor_id is None:
        text = (request.args.get("q") or "")[:80]
        results = search_vendors(text, Actor.of(user), page=_page_number(), page_size=PAGE_SIZE)
        return render_template("payments/cash_search.html", q=text, results=results)
    vendor = get_vendor(vendor_id, Actor.of(user))
    form = forms.CashForm()
    if request.method != "POST":
        return _render_cash(vendor, form, {})
    if not form.validate_on_submit():
        return _render_cash(vendor, form, {"form": _("The form expired. Reload the page.")}, 400)
    try:
        key = check_form_key(user.id, form.idempotency_key.data)
        amount = parse_typed_amount(form.amount.data)
        bill = form.bill_id.data or ""
        if bill and parse_id(bill) is None:
            raise invalid("target_bill_ids", "not_vendors", "not a bill of this vendor")
        raw = {
            "vendor_id": vendor.id,
            "market": form.market.data,
            "amount": form.amount.data,
            "bill_id": bill or None,
            "idempotency_key": key,
        }
        recorded = record_cash(
            CashIn(
                officer=user,
                vendor_id=vendor.id,
                market_code=form.market.data or "",
                amount_idr=amount,
                key=key,
                raw=raw,
                bill_ids=(int(bill),) if bill else (),
            )
        )
    except Conflict as error:
        db.session.rollback()
        if reason_of(error) != "reused":
            raise
        return render_template(
            "payments/cash_conflict.html", vendor=vendor, details=error.details
        ), 409
    except DomainError as error:
        db.session.rollback()
        if error.status == 403:
            raise
        if reason_of(error) == "forged":
            form.idempotency_key.data = ""  # a fresh form, so the officer can send it
        return _render_cash(vendor, form, {_field_of(error): _refused(error)}, error.status)
    if recorded.replayed:
        flash(_("This payment was already recorded: here is its receipt."), "info")
    else:
        flash(
            _("Cash of %(amount)s recorded.", amount=format_idr(recorded.amount_idr)),
            "info",
        )
    return redirect(url_for("payments.payment_page", payment_id=recorded.payment_id))


# --- deposits ---------------------------------------------------------------------------------


@bp.route("/setoran")
@roles_required(*STAFF)
def deposits_page() -> ResponseReturnValue:
    user = current_account()
    status = _deposit_status_arg()
    status_arg = status.value if status else ""
    deposited_from, deposited_to = _date_arg("from"), _date_arg("to")
    query = deposits_query(
        user, status=status, deposited_from=deposited_from, deposited_to=deposited_to
    )
    page = _page_number()
    total = count(query)
    rows = list(db.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    officers = {
        u.id: u.full_name
        for u in db.session.scalars(
            db.select(User).where(User.id.in_({d.officer_id for d in rows}))
        )
    }
    days = undeposited_days(user.id) if user.role is Role.OFFICER else []
    return render_template(
        "payments/deposits.html",
        deposits=rows,
        officers=officers,
        status_of=deposit_status,
        status=status_arg,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        days=days,
        undeposited_idr=sum(d.total_idr for d in days),
        statuses=[s.value for s in DepositStatus],
        deposited_from=deposited_from,
        deposited_to=deposited_to,
        args=_filters(),
    )


@bp.route("/setoran.xlsx")
@roles_required(*STAFF)
def deposits_export() -> ResponseReturnValue:
    """The deposits of a period (by the slip's day) with finance's check, for auditors."""
    try:
        period = parse_period(request.args.get("from"), request.args.get("to"))
    except DomainError as error:
        return _period_refused("payments.deposits_export", error)
    wanted = DepositsWanted(period, status=_deposit_status_arg())
    return _xlsx(deposits_xlsx(current_account(), wanted), f"setoran-{period.slug}.xlsx")


def _deposit_form(user: User, form: forms.DepositForm) -> list[Any]:
    rows = undeposited(user.id)
    days = undeposited_days(user.id)
    form.collected_on.choices = [
        SelectChoice(
            d.day.isoformat(),
            f"{d.day.strftime('%d-%m-%Y')} · {d.count} × · {format_idr(d.total_idr)}",
        )
        for d in days
    ]
    form.payment_ids.choices = [
        SelectChoice(
            str(c.payment_id),
            f"{c.paid_at.strftime('%d-%m %H:%M')} · {c.vendor_name} · {format_idr(c.amount_idr)}",
        )
        for c in rows
    ]
    if not form.deposited_on.data:
        form.deposited_on.data = today().isoformat()
    return rows


def _parse_day(name: str, raw: str | None) -> date:
    try:
        return date.fromisoformat((raw or "").strip()[:10])
    except ValueError:
        raise invalid(name, "format", "a day is written YYYY-MM-DD") from None


@bp.route("/setoran/baru", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def deposit_new_page() -> ResponseReturnValue:
    user = current_account()
    form = forms.DepositForm()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            errors, status = {"form": _("The form expired. Reload the page.")}, 400
        else:
            try:
                selection = Selection(form.selection.data or "")
            except ValueError:
                selection = Selection.DAY
            try:
                picked = tuple(
                    number
                    for number in (parse_id(str(i)) for i in form.payment_ids.data or [])
                    if number is not None
                )
                result = create_deposit(
                    DepositIn(
                        officer=user,
                        slip_ref=form.slip_ref.data or "",
                        amount_idr=parse_typed_amount(form.amount.data),
                        deposited_on=_parse_day("deposited_on", form.deposited_on.data),
                        selection=selection,
                        collected_on=(
                            _parse_day("collected_on", form.collected_on.data)
                            if selection is Selection.DAY
                            else None
                        ),
                        payment_ids=picked if selection is Selection.PICKED else (),
                        note=form.note.data or None,
                    )
                )
            except DomainError as error:
                db.session.rollback()
                if error.status == 403:
                    raise
                errors, status = {_field_of(error): _refused(error)}, error.status
            else:
                if result.replayed:
                    flash(_("This deposit was already recorded."), "info")
                else:
                    flash(_("Deposit %(slip)s recorded.", slip=result.deposit.slip_ref), "info")
                return redirect(url_for("payments.deposit_page", deposit_id=result.deposit.id))
    rows = _deposit_form(user, form)
    return render_template(
        "payments/deposit_form.html",
        form=form,
        rows=rows,
        undeposited_idr=sum(c.amount_idr for c in rows),
        errors=errors,
    ), status


def _render_deposit(
    deposit_id: int, form: forms.VerifyForm, errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    from payments.deposits import collected_idr

    user = current_account()
    deposit = get_deposit(deposit_id, user)
    collected = collected_idr(deposit)
    if not form.received.data:
        form.received.data = str(deposit.amount_idr)
    officer = db.session.get(User, deposit.officer_id)
    return render_template(
        "payments/deposit.html",
        deposit=deposit,
        officer=officer,
        items=deposit_items(deposit),
        collected_idr=collected,
        status=deposit_status(deposit).value,
        can_verify=user.role in {Role.FINANCE, Role.ADMIN} and deposit.verification is None,
        form=form,
        errors=errors,
    ), status


@bp.route("/setoran/<int:deposit_id>")
@roles_required(*STAFF)
def deposit_page(deposit_id: int) -> ResponseReturnValue:
    return _render_deposit(deposit_id, forms.VerifyForm(), {})


@bp.route("/setoran/<int:deposit_id>/verifikasi", methods=["POST"])
@roles_required(Role.FINANCE, Role.ADMIN)
def verify_deposit_page(deposit_id: int) -> ResponseReturnValue:
    user = current_account()
    get_deposit(deposit_id, user)
    form = forms.VerifyForm()
    if not form.validate_on_submit():
        return _render_deposit(deposit_id, form, {"form": _("The form expired. Reload.")}, 400)
    try:
        result = verify_deposit(
            deposit_id,
            received_idr=parse_typed_amount(form.received.data),
            note=form.note.data or None,
            user=user,
        )
    except DomainError as error:
        db.session.rollback()
        return _render_deposit(deposit_id, form, {_field_of(error): _refused(error)}, error.status)
    verification = result.verification
    if verification.difference_idr:
        flash(
            _(
                "Verified with a difference of %(amount)s.",
                amount=format_idr(verification.difference_idr),
            ),
            "error",
        )
    else:
        flash(_("Deposit verified: it matches the collections."), "info")
    return redirect(url_for("payments.deposit_page", deposit_id=deposit_id))
