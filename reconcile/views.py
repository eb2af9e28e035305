"""Finance pages: upload, runs, a run's detail, the exception queue and its resolve actions, a
line, the daily report. Finance and admin only. Thin: parse, authorize, call a service, render;
a refused action comes back as a message in the reader's language and changes nothing."""

from __future__ import annotations

import os
from datetime import date
from typing import IO, Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from reconcile import actions, forms, queries
from reconcile.config import upload_max_bytes
from reconcile.importing import import_file
from reconcile.models import EventAction, ExceptionStatus, ExceptionType
from reconcile.report import AGE_BUCKETS, daily_report, report_pdf, report_xlsx
from reconcile.runs import run_reconciliation
from retribusi import clock
from retribusi.auth.access import current_account, roles_required
from retribusi.auth.models import Role
from retribusi.db import parse_id
from retribusi.errors import DomainError
from retribusi.extensions import db
from retribusi.levy.errors import invalid, reason_of

bp = Blueprint(
    "reconcile",
    __name__,
    url_prefix="/rekonsiliasi",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/reconcile",
)

FINANCE = (Role.FINANCE, Role.ADMIN)

REASONS = {
    # the importers' refusals (reconcile.formats.RefusalReason)
    "too_large": _l("The file is larger than allowed."),
    "too_many_lines": _l("The file has more lines than allowed."),
    "empty": _l("The file is empty."),
    "encoding": _l("The file is not in the encoding the profile expects."),
    "delimiter": _l("The columns are separated by another character than the profile expects."),
    "header": _l("The header row with the profile's columns was not found."),
    "malformed": _l("The file cannot be read in this format."),
    "xml_forbidden": _l(
        "The XML declares a document type or entities (an attack or an unsafe file); refused."
    ),
    "xml_malformed": _l("The XML is not well formed."),
    "xml_namespace": _l("The XML is not a camt.053 statement."),
    "xlsx_invalid": _l("The workbook cannot be read."),
    "sheet": _l("The workbook has no sheet the profile can use."),
    "currency": _l("Only statements in rupiah (IDR) are imported."),
    "account_missing": _l("The account is not in the file: give the account number."),
    "account_mismatch": _l("The file is for another account."),
    "balance_missing": _l("The statement has no opening or closing balance."),
    "balance_mismatch": _l("Opening balance plus the lines does not give the closing balance."),
    "balance_discontinuity": _l(
        "The statement does not open at the closing balance of the previous one."
    ),
    "amount_fraction": _l("An amount has a fraction of a rupiah."),
    "line_amount_unreadable": _l(
        "A line's amount cannot be read, so the balance cannot be proven."
    ),
    "statement_number_missing": _l("The statement has no statement number."),
    "statement_gap": _l("A statement is missing between the last one imported and this one."),
    "statement_order": _l("This statement is older than the last one imported for the account."),
    "statement_conflict": _l("This statement was imported before with other balances."),
    "period_unknown": _l("The statement period is unknown (dates without a year)."),
    "batch_mismatch": _l("A settlement batch does not add up."),
    "batch_missing": _l("A settlement batch has no total row, or no transactions."),
    "batch_duplicate": _l("A settlement batch has two total rows."),
    "batch_unverifiable": _l("A settlement batch cannot be proven to add up."),
    "batch_conflict": _l("This settlement batch was imported before with other totals."),
    "profile_invalid": _l("The bank profile is invalid."),
    "profile_unknown": _l("Choose a format, and a bank profile for a CSV or XLSX file."),
    "format_mismatch": _l("The file is not in the chosen format."),
    # actions
    "required": _l("Give a reason of 10 to 300 characters."),
    "one_target": _l("Choose exactly one payment, deposit or batch."),
    "already_matched": _l("This is matched already."),
    "not_matched": _l("This match does not stand (any more)."),
    "reversed": _l("This payment was reversed."),
    "not_credit": _l("Only money in can be matched or turned into a payment."),
    "not_bank": _l("A settlement line is matched to a QRIS payment."),
    "not_qris": _l("A settlement line is matched to a QRIS payment."),
    "resolved": _l("This exception is resolved already."),
    "unchanged": _l("Nothing to change."),
    "not_staff": _l("Assign to an active finance or admin user."),
    "not_found": _l("Not found."),
    "not_vendors": _l("These bills are not this vendor's."),
    "concurrent": _l("Something changed meanwhile: try again."),
    "future": _l("The date is in the future."),
}

TYPE_NAMES = {
    ExceptionType.UNKNOWN_CREDIT.value: _l("Unknown credit"),
    ExceptionType.UNKNOWN_DEBIT.value: _l("Unknown debit"),
    ExceptionType.AMBIGUOUS.value: _l("Several candidates"),
    ExceptionType.AMOUNT_MISMATCH.value: _l("Amount mismatch"),
    ExceptionType.DUPLICATE.value: _l("Duplicate"),
    ExceptionType.MISSING_BANK_LINE.value: _l("No bank line yet"),
    ExceptionType.SETTLEMENT_RESIDUAL.value: _l("Settlement not explained"),
}
STATUS_NAMES = {
    ExceptionStatus.OPEN.value: _l("open"),
    ExceptionStatus.RESOLVED.value: _l("resolved"),
    ExceptionStatus.IGNORED.value: _l("ignored"),
    ExceptionStatus.ACCEPTED.value: _l("accepted"),
    "matched": _l("matched"),
    "pending": _l("pending (not yet reconciled)"),
}


def _refused(error: DomainError) -> str:
    message = REASONS.get(reason_of(error))
    return str(message) if message is not None else error.message


def _actor() -> str:
    return f"user:{current_account().id}"


@bp.app_context_processor
def _names() -> dict[str, Any]:
    return {"recon_type_names": TYPE_NAMES, "recon_status_names": STATUS_NAMES}


def _page_arg() -> int:
    return min(parse_id(request.args.get("page")) or 1, 100_000)


# --- overview, upload, run ---------------------------------------------------------------------


@bp.route("/")
@roles_required(*FINANCE)
def index() -> ResponseReturnValue:
    session = db.session
    return render_template(
        "reconcile/index.html",
        runs=queries.runs_page(session, 1, 10),
        files=queries.files_page(session, 1, 10),
        counts=queries.exception_counts(session),
        form=forms.RunForm(),
    )


def _read_upload(stream: IO[bytes], max_bytes: int) -> bytes | None:
    """The uploaded bytes, or None when the file is over the limit (by its real size)."""
    if stream.seekable():
        size = stream.seek(0, os.SEEK_END)
        stream.seek(0)
        if size > max_bytes:
            return None
    data = stream.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


@bp.route("/unggah", methods=["GET", "POST"])
@roles_required(*FINANCE)
def upload() -> ResponseReturnValue:
    form = forms.UploadForm()
    form.profile.choices = forms.profile_choices()
    max_bytes = upload_max_bytes()
    summary = None
    problem: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            problem = {"message": _("The form expired or is incomplete. Reload and try again.")}
            status = 400
        elif form.file.data is None or not getattr(form.file.data, "filename", ""):
            problem = {"message": _("Choose a file.")}
            status = 422
        else:
            upload_file = form.file.data
            data = _read_upload(upload_file.stream, max_bytes)
            if data is None:
                problem = {
                    "message": _(
                        "The file is larger than %(max)s bytes, the limit for uploads.",
                        max=max_bytes,
                    )
                }
                status = 413
            else:
                try:
                    summary = import_file(
                        data,
                        form.format.data,
                        actor=_actor(),
                        file_name=str(upload_file.filename or ""),
                        profile=form.profile.data or None,
                        account_id=(form.account.data or "").strip() or None,
                        acquirer_id=(form.acquirer.data or "").strip() or None,
                        dry_run=bool(form.dry_run.data),
                        max_bytes=max_bytes,
                    )
                except DomainError as error:
                    detail = (error.details.get("errors") or [{}])[0]
                    problem = {"message": _refused(error), "detail": detail}
                    status = 422 if error.status == 422 else error.status
    return render_template(
        "reconcile/upload.html",
        form=form,
        summary=summary,
        problem=problem,
        max_bytes=max_bytes,
    ), status


@bp.route("/jalankan", methods=["POST"])
@roles_required(*FINANCE)
def run_page() -> ResponseReturnValue:
    form = forms.RunForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Reload the page and try again."), "error")
        return redirect(url_for("reconcile.index"))
    dry_run = not bool(form.run.data)
    try:
        result = run_reconciliation(actor=_actor(), dry_run=dry_run)
    except DomainError as error:
        flash(_refused(error), "error")
        return redirect(url_for("reconcile.index"))
    if not dry_run and result.run_id is not None:
        flash(_("Run %(id)s done.", id=result.run_id), "info")
        return redirect(url_for("reconcile.run_detail", run_id=result.run_id))
    return render_template("reconcile/preview.html", result=result, form=form)


@bp.route("/run/<int:run_id>")
@roles_required(*FINANCE)
def run_detail(run_id: int) -> ResponseReturnValue:
    session = db.session
    run = queries.get_run(session, run_id)
    return render_template(
        "reconcile/run.html",
        run=run,
        matches=queries.run_matches(session, run_id, _page_arg(), 50),
    )


# --- exceptions -------------------------------------------------------------------------------


@bp.route("/pengecualian")
@roles_required(*FINANCE)
def exceptions() -> ResponseReturnValue:
    args = request.args
    kind = (args.get("type") or "").strip()[:30] or None
    status = (args.get("status") or "open").strip()[:12] or None
    age = (args.get("age") or "").strip()[:8] or None
    assignee = (args.get("assignee") or "").strip()[:15]
    me = current_account()
    assignee_id = me.id if assignee == "me" else parse_id(assignee)
    try:
        page = queries.exceptions_page(
            db.session,
            type=kind,
            status=status if status != "all" else None,
            age=age,
            assignee_id=assignee_id,
            unassigned=assignee == "none",
            page=_page_arg(),
            size=50,
        )
    except DomainError as error:
        flash(_refused(error), "error")
        return redirect(url_for("reconcile.exceptions"))
    return render_template(
        "reconcile/exceptions.html",
        page=page,
        filters={
            "type": kind or "",
            "status": status or "",
            "age": age or "",
            "assignee": assignee,
        },
        types=[t.value for t in ExceptionType],
        statuses=[s.value for s in ExceptionStatus],
        ages=[b[2] for b in AGE_BUCKETS],
        today=clock.today_wib(),
    )


@bp.route("/pengecualian/<exc_id>")
@roles_required(*FINANCE)
def exception_detail(exc_id: str) -> ResponseReturnValue:
    return _render_exception(exc_id, forms.ActionForm(), 200)


def _render_exception(exc_id: str, form: forms.ActionForm, status: int) -> ResponseReturnValue:
    session = db.session
    if len(exc_id) > 24:
        abort(404)
    exc = queries.get_exception(session, exc_id)
    line = queries.get_line(session, exc.line_id) if exc.line_id is not None else None
    return render_template(
        "reconcile/exception.html",
        exc=exc,
        line=line,
        state=queries.line_state(session, line) if line is not None else None,
        history=queries.history(session, exc),
        suggestions=queries.suggestions(session, exc),
        lines=queries.lines_for(session, exc),
        vendor_hint=queries.vendor_hint(session, line) if line is not None else None,
        form=form,
        today=clock.today_wib(),
    ), status


@bp.route("/pengecualian/<exc_id>/tindakan", methods=["POST"])
@roles_required(*FINANCE)
def exception_action(exc_id: str) -> ResponseReturnValue:
    form = forms.ActionForm()
    if not form.validate_on_submit():
        flash(_("The form is incomplete or expired. Reload the page and try again."), "error")
        return _render_exception(exc_id, form, 400)
    session = db.session
    exc = queries.get_exception(session, exc_id)
    action = form.action.data
    reason = form.reason.data or ""
    actor = _actor()
    try:
        if action == "match":
            if exc.line_id is None:
                raise invalid("line", "not_credit", "match from the line's exception")
            actions.match_line(
                line_id=exc.line_id,
                actor=actor,
                reason=reason,
                payment_id=parse_id(form.payment_id.data),
                deposit_id=parse_id(form.deposit_id.data),
                batch_id=parse_id(form.batch_id.data),
            )
            flash(_("Matched."), "info")
        elif action in ("ignore", "accept", "reopen"):
            actions.decide(
                exception_id=exc_id, action=EventAction(action), actor=actor, reason=reason
            )
            flash(_("Saved."), "info")
        elif action == "assign":
            actions.assign(
                exception_id=exc_id, assignee_id=parse_id(form.assignee_id.data), actor=actor
            )
            flash(_("Assigned."), "info")
        elif action == "create_payment":
            vendor_id = parse_id(form.vendor_id.data)
            if exc.line_id is None or vendor_id is None:
                raise invalid("vendor_id", "required", "choose the vendor")
            bills = tuple(
                int(b) for b in (form.bill_ids.data or "").replace(" ", "").split(",") if b
            )
            created = actions.create_payment(
                line_id=exc.line_id,
                vendor_id=vendor_id,
                actor=actor,
                reason=reason,
                bill_ids=bills[:24],
            )
            flash(_("Payment %(id)s recorded and matched.", id=created.payment_id), "info")
        else:
            abort(400)
    except DomainError as error:
        db.session.rollback()
        flash(_refused(error), "error")
        return _render_exception(exc_id, form, error.status)
    return redirect(url_for("reconcile.exception_detail", exc_id=exc_id))


# --- lines ------------------------------------------------------------------------------------


@bp.route("/baris/<int:line_id>")
@roles_required(*FINANCE)
def line_detail(line_id: int) -> ResponseReturnValue:
    session = db.session
    line = queries.get_line(session, line_id)
    return render_template(
        "reconcile/line.html",
        line=line,
        state=queries.line_state(session, line),
        form=forms.UnmatchForm(),
    )


@bp.route("/baris/<int:line_id>/lepas", methods=["POST"])
@roles_required(*FINANCE)
def unmatch_line(line_id: int) -> ResponseReturnValue:
    form = forms.UnmatchForm()
    session = db.session
    line = queries.get_line(session, line_id)
    state = queries.line_state(session, line)
    if not form.validate_on_submit():
        flash(_("Give a reason of 10 to 300 characters."), "error")
        return redirect(url_for("reconcile.line_detail", line_id=line_id))
    if state["state"] != "matched":
        flash(_("This line is not matched."), "error")
        return redirect(url_for("reconcile.line_detail", line_id=line_id))
    try:
        done = actions.unmatch(
            match_id=state["match"].id, actor=_actor(), reason=form.reason.data or ""
        )
    except DomainError as error:
        db.session.rollback()
        flash(_refused(error), "error")
        return redirect(url_for("reconcile.line_detail", line_id=line_id))
    flash(_("Unmatched: the line is open again."), "info")
    return redirect(url_for("reconcile.exception_detail", exc_id=done.exception_id))


# --- report -----------------------------------------------------------------------------------


def _day_arg() -> date:
    text = (request.args.get("date") or "").strip()[:10]
    if not text:
        return clock.today_wib()
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400)


@bp.route("/laporan")
@roles_required(*FINANCE)
def report_page() -> ResponseReturnValue:
    day = _day_arg()
    return render_template("reconcile/report.html", report=daily_report(day), day=day)


@bp.route("/laporan/<day>.<kind>")
@roles_required(*FINANCE)
def report_file(day: str, kind: str) -> ResponseReturnValue:
    try:
        chosen = date.fromisoformat(day[:10])
    except ValueError:
        abort(404)
    report = daily_report(chosen)
    if kind == "pdf":
        content, mimetype = report_pdf(report), "application/pdf"
    elif kind == "xlsx":
        content = report_xlsx(report)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        abort(404)
    name = f"rekonsiliasi-{chosen.isoformat()}.{kind}"
    return Response(
        content,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
