"""Officer and admin pages: search, vendor and SHP pages, a market's stalls, forms, import.

Thin: parse the form, call a service with the signed-in :class:`~vendors.services.Actor` (which
keeps officers inside their markets), render. A refused form is shown again with each reason
next to its field, in the reader's language.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from typing import IO, Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from retribusi.auth.access import current_account, roles_required
from retribusi.auth.models import Role
from retribusi.db import parse_id
from retribusi.errors import DomainError, Forbidden
from retribusi.extensions import db
from retribusi.web import FieldErrors, submit_form
from vendors import fields, forms
from vendors.importer import file_problem, import_vendors, limits
from vendors.models import Placement, PlacementStatus, StallStatus
from vendors.placements import (
    balik_nama_fee_idr,
    get_placement,
    issue_placement,
    placement_chain,
    record_occupant,
    renew_placement,
    return_placement,
    revoke_placement,
    transfer_placement,
)
from vendors.problems import N_, FieldError, Problem, VendorConflict, VendorInvalid
from vendors.services import (
    VENDOR_ACTIONS,
    Actor,
    FirstPlacement,
    VendorInput,
    create_stall,
    create_vendor,
    get_market,
    get_stall,
    get_vendor,
    list_markets,
    market_stalls,
    placements_of,
    rename_block,
    rename_market,
    search_vendors,
    set_market_class,
    set_vendor_pin,
    stall_for_reference,
    today,
    update_stall,
    update_vendor,
    vendor_summary,
)

bp = Blueprint(
    "vendors",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/vendors",
)

STAFF = (Role.ADMIN, Role.FINANCE, Role.OFFICER)
EDITORS = (Role.ADMIN, Role.OFFICER)
Refused = (VendorInvalid, VendorConflict)
SEARCH_PAGE_SIZE = 25


def _actor() -> Actor:
    return Actor.of(current_account())


def _can_edit() -> bool:
    return current_account().role in EDITORS


def _errors(error: DomainError) -> FieldErrors | None:
    if not isinstance(error, VendorInvalid | VendorConflict):
        return None
    found: FieldErrors = {}
    for problem in error.problems:
        found.setdefault(problem.column, []).append(problem.localized())
    return found


def _date(column: str, raw: str | None, default: date | None = None) -> date:
    text = (raw or "").strip()
    if not text and default is not None:
        return default
    try:
        return fields.parse_date(text, today=today())
    except FieldError as error:
        raise VendorInvalid([Problem.of(column, error)]) from None


def _submit(
    form: Any, work: Callable[[], ResponseReturnValue]
) -> tuple[ResponseReturnValue | None, FieldErrors, int]:
    return submit_form(form, work, _errors)


# --- search and vendor pages ------------------------------------------------------------------


@bp.route("/pedagang")
@roles_required(*STAFF)
def search() -> ResponseReturnValue:
    text = request.args.get("q", "")[:80]
    page = request.args.get("page", "1")
    number = parse_id(page, maximum=99_999) or 1
    results = search_vendors(text, _actor(), page=number, page_size=SEARCH_PAGE_SIZE)
    stalls = _active_stalls([v.id for v in results.items])
    return render_template(
        "vendors/search.html", q=text, results=results, stalls=stalls, can_edit=_can_edit()
    )


def _active_stalls(vendor_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if not vendor_ids:
        return found
    for placement in db.session.scalars(
        select(Placement)
        .where(Placement.vendor_id.in_(vendor_ids), Placement.status == PlacementStatus.ACTIVE)
        .order_by(Placement.id)
    ):
        found.setdefault(placement.vendor_id, []).append(placement.stall.reference)
    return found


@bp.route("/pedagang/<int:vendor_id>")
@roles_required(*STAFF)
def vendor_page(vendor_id: int) -> ResponseReturnValue:
    vendor = get_vendor(vendor_id, _actor())
    placements = placements_of(vendor.id)
    history = sorted(
        ((e, p) for p in placements for e in p.events),
        key=lambda item: (item[0].effective_on, item[0].id),
        reverse=True,
    )
    return render_template(
        "vendors/vendor.html",
        vendor=vendor,
        placements=placements,
        history=history,
        can_edit=_can_edit(),
        summary=vendor_summary(vendor),
        actions=current_app.extensions.get(VENDOR_ACTIONS, []),
    )


@bp.route("/pedagang/baru", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new_vendor() -> ResponseReturnValue:
    form = forms.NewVendorForm()

    def work() -> ResponseReturnValue:
        first = None
        if form.stall.data or _actor().market_scope is not None:
            first = FirstPlacement(
                stall=stall_for_reference("stall", form.stall.data),
                number=form.number.data or None,
                start_on=_date("start_on", form.start_on.data),
            )
        vendor = create_vendor(_vendor_input(form), actor=_actor(), first_stall=first)
        flash(_("Vendor %(name)s registered.", name=vendor.full_name), "info")
        return redirect(url_for("vendors.vendor_page", vendor_id=vendor.id))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    return render_template(
        "vendors/vendor_form.html", form=form, errors=errors, vendor=None, officer=_is_officer()
    ), status


def _is_officer() -> bool:
    return current_account().role is Role.OFFICER


def _vendor_input(form: forms.VendorForm) -> VendorInput:
    return VendorInput(
        nik=form.nik.data or "",
        full_name=form.full_name.data or "",
        phone=form.phone.data or "",
        proxy_name=form.proxy_name.data or None,
        proxy_phone=form.proxy_phone.data or None,
    )


@bp.route("/pedagang/<int:vendor_id>/ubah", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit_vendor(vendor_id: int) -> ResponseReturnValue:
    vendor = get_vendor(vendor_id, _actor())
    form = forms.VendorForm(obj=vendor)

    def work() -> ResponseReturnValue:
        update_vendor(vendor.id, _vendor_input(form), actor=_actor())
        flash(_("Changes saved."), "info")
        return redirect(url_for("vendors.vendor_page", vendor_id=vendor.id))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    return render_template(
        "vendors/vendor_form.html", form=form, errors=errors, vendor=vendor, officer=False
    ), status


@bp.route("/pedagang/<int:vendor_id>/pin", methods=["GET", "POST"])
@roles_required(*EDITORS)
def vendor_pin(vendor_id: int) -> ResponseReturnValue:
    """The officer sets or resets a vendor's PIN at the stall; the vendor types it."""
    vendor = get_vendor(vendor_id, _actor())
    form = forms.PinForm()

    def work() -> ResponseReturnValue:
        set_vendor_pin(vendor.id, form.pin.data or "", form.confirm.data or "", actor=_actor())
        flash(
            _("The PIN is set. The vendor signs in with their phone number and this PIN."), "info"
        )
        return redirect(url_for("vendors.vendor_page", vendor_id=vendor.id))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    return render_template(
        "vendors/vendor_pin.html", form=form, errors=errors, vendor=vendor
    ), status


@bp.route("/pedagang/<int:vendor_id>/shp", methods=["GET", "POST"])
@roles_required(*EDITORS)
def issue(vendor_id: int) -> ResponseReturnValue:
    vendor = get_vendor(vendor_id, _actor())
    form = forms.IssueForm()

    def work() -> ResponseReturnValue:
        stall = stall_for_reference("stall", form.stall.data)
        placement = issue_placement(
            vendor_id=vendor.id,
            stall_id=stall.id,
            start_on=_date("start_on", form.start_on.data),
            number=form.number.data or None,
            occupant_name=form.occupant_name.data or None,
            actor=_actor(),
        )
        flash(_("SHP %(number)s issued.", number=placement.number), "info")
        return redirect(url_for("vendors.placement_page", placement_id=placement.id))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    return render_template("vendors/issue.html", form=form, errors=errors, vendor=vendor), status


# --- SHP page and its lifecycle ---------------------------------------------------------------


def _placement_page(
    placement: Placement, errors: dict[str, list[str]], status: int, **action_forms: Any
) -> ResponseReturnValue:
    defaults = {
        "renew": forms.RenewForm(formdata=None),
        "transfer": forms.TransferForm(formdata=None),
        "revoke": forms.RevokeForm(formdata=None),
        "give_back": forms.ReturnForm(formdata=None),
        "occupant": forms.OccupantForm(formdata=None, occupant_name=placement.occupant_name),
    }
    defaults.update(action_forms)
    return render_template(
        "vendors/placement.html",
        placement=placement,
        chain=placement_chain(placement),
        fee_idr=balik_nama_fee_idr(placement.stall),
        errors=errors,
        can_edit=_can_edit(),
        forms=defaults,
        open_form=next(iter(action_forms), None),
    ), status


@bp.route("/shp/<int:placement_id>")
@roles_required(*STAFF)
def placement_page(placement_id: int) -> ResponseReturnValue:
    return _placement_page(get_placement(placement_id, _actor()), {}, 200)


def _action(
    placement_id: int, name: str, form: Any, run: Callable[[Placement], Placement]
) -> ResponseReturnValue:
    placement = get_placement(placement_id, _actor())

    def work() -> ResponseReturnValue:
        result = run(placement)
        flash(_("Done: SHP %(number)s.", number=result.number), "info")
        return redirect(url_for("vendors.placement_page", placement_id=result.id))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    db.session.rollback()
    return _placement_page(get_placement(placement_id, _actor()), errors, status, **{name: form})


@bp.route("/shp/<int:placement_id>/perpanjang", methods=["POST"])
@roles_required(*EDITORS)
def renew(placement_id: int) -> ResponseReturnValue:
    form = forms.RenewForm()
    return _action(
        placement_id,
        "renew",
        form,
        lambda p: renew_placement(
            p.id,
            on=_date("on", form.on.data, today()),
            number=form.number.data or None,
            actor=_actor(),
        ),
    )


@bp.route("/shp/<int:placement_id>/balik-nama", methods=["POST"])
@roles_required(*EDITORS)
def transfer(placement_id: int) -> ResponseReturnValue:
    form = forms.TransferForm()
    return _action(
        placement_id,
        "transfer",
        form,
        lambda p: transfer_placement(
            p.id,
            to=VendorInput(
                nik=form.nik.data or "",
                full_name=form.full_name.data or "",
                phone=form.phone.data or "",
            ),
            on=_date("on", form.on.data, today()),
            number=form.number.data or None,
            fee_idr=form.fee_idr.data or None,
            actor=_actor(),
        ),
    )


@bp.route("/shp/<int:placement_id>/cabut", methods=["POST"])
@roles_required(*EDITORS)
def revoke(placement_id: int) -> ResponseReturnValue:
    form = forms.RevokeForm()
    return _action(
        placement_id,
        "revoke",
        form,
        lambda p: revoke_placement(
            p.id,
            reason=form.reason.data or "",
            vacant_since=(
                _date("vacant_since", form.vacant_since.data) if form.vacant_since.data else None
            ),
            on=_date("on", form.on.data, today()),
            note=form.note.data or "",
            actor=_actor(),
        ),
    )


@bp.route("/shp/<int:placement_id>/kembali", methods=["POST"])
@roles_required(*EDITORS)
def give_back(placement_id: int) -> ResponseReturnValue:
    form = forms.ReturnForm()
    return _action(
        placement_id,
        "give_back",
        form,
        lambda p: return_placement(p.id, on=_date("on", form.on.data, today()), actor=_actor()),
    )


@bp.route("/shp/<int:placement_id>/penghuni", methods=["POST"])
@roles_required(*EDITORS)
def occupant(placement_id: int) -> ResponseReturnValue:
    form = forms.OccupantForm()
    return _action(
        placement_id,
        "occupant",
        form,
        lambda p: record_occupant(
            p.id, occupant_name=form.occupant_name.data or None, actor=_actor()
        ),
    )


# --- markets and stalls -----------------------------------------------------------------------


@bp.route("/pasar")
@roles_required(*STAFF)
def markets() -> ResponseReturnValue:
    return render_template("vendors/markets.html", markets=list_markets(_actor()))


@bp.route("/pasar/<code>")
@roles_required(*STAFF)
def market_page(code: str) -> ResponseReturnValue:
    return _market_page(code, forms.MarketClassForm(formdata=None), {}, 200)


def _market_page(
    code: str,
    class_form: forms.MarketClassForm,
    errors: FieldErrors,
    status: int,
    *,
    name_form: forms.MarketNameForm | None = None,
    name_errors: FieldErrors | None = None,
    block_code: str | None = None,
    block_form: forms.BlockNameForm | None = None,
    block_errors: FieldErrors | None = None,
) -> ResponseReturnValue:
    block_code = block_code or request.args.get("blok", "")[:20] or None
    market, blocks, active = market_stalls(code[:32], _actor())
    if name_form is None:
        name_form = forms.MarketNameForm(
            formdata=None, data={"name": market.name, "kecamatan": market.kecamatan}
        )
    chosen = next((b for b in blocks if b.code == block_code), blocks[0] if blocks else None)
    if block_form is None:
        current = {"name": chosen.name if chosen else ""}
        block_form = forms.BlockNameForm(formdata=None, data=current)
    return render_template(
        "vendors/market.html",
        market=market,
        market_class=market.class_on(today()),
        blocks=blocks,
        chosen=chosen,
        active=active,
        statuses=list(StallStatus),
        can_edit=_can_edit(),
        is_admin=current_account().role is Role.ADMIN,
        class_form=class_form,
        errors=errors,
        name_form=name_form,
        name_errors=name_errors or {},
        block_form=block_form,
        block_errors=block_errors or {},
    ), status


@bp.route("/pasar/<code>/kelas", methods=["POST"])
@roles_required(Role.ADMIN)
def market_class(code: str) -> ResponseReturnValue:
    form = forms.MarketClassForm()

    def work() -> ResponseReturnValue:
        period = set_market_class(
            code,
            form.market_class.data or "",
            valid_from=_date("valid_from", form.valid_from.data),
            source=form.source.data or "",
            actor=_actor(),
        )
        flash(_("Class %(value)s recorded.", value=period.market_class.value), "info")
        return redirect(url_for("vendors.market_page", code=code))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    db.session.rollback()
    return _market_page(code, form, errors, status)


@bp.route("/pasar/<code>/nama", methods=["POST"])
@roles_required(Role.ADMIN)
def market_name(code: str) -> ResponseReturnValue:
    form = forms.MarketNameForm()

    def work() -> ResponseReturnValue:
        market = rename_market(
            code[:32],
            name=form.name.data or "",
            kecamatan=form.kecamatan.data or "",
            actor=_actor(),
        )
        flash(_("%(name)s saved.", name=market.name), "info")
        return redirect(url_for("vendors.market_page", code=market.code))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    db.session.rollback()
    class_form = forms.MarketClassForm(formdata=None)
    return _market_page(code, class_form, {}, status, name_form=form, name_errors=errors)


@bp.route("/pasar/<code>/blok/<blok>/nama", methods=["POST"])
@roles_required(Role.ADMIN)
def block_name(code: str, blok: str) -> ResponseReturnValue:
    form = forms.BlockNameForm()

    def work() -> ResponseReturnValue:
        block = rename_block(code[:32], blok[:20], name=form.name.data or "", actor=_actor())
        flash(_("%(name)s saved.", name=block.name), "info")
        return redirect(url_for("vendors.market_page", code=code[:32], blok=block.code))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    db.session.rollback()
    class_form = forms.MarketClassForm(formdata=None)
    return _market_page(
        code, class_form, {}, status, block_code=blok[:20], block_form=form, block_errors=errors
    )


@bp.route("/pasar/<code>/tempat/baru", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new_stall(code: str) -> ResponseReturnValue:
    market = get_market(code[:32], _actor())
    form = forms.StallForm()

    def work() -> ResponseReturnValue:
        stall = create_stall(
            market_code=market.code,
            block_code=form.block.data or "",
            number=form.stall_number.data or "",
            stall_type=form.stall_type.data or "",
            area_m2=form.area_m2.data or "",
            tntd_idr_per_m2=form.tntd_idr_per_m2.data or None,
            actor=_actor(),
        )
        flash(_("Stall %(reference)s added.", reference=stall.reference), "info")
        return redirect(url_for("vendors.stall_page", stall_id=stall.id))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    return render_template(
        "vendors/stall_form.html", form=form, errors=errors, market=market
    ), status


@bp.route("/tempat/<int:stall_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def stall_page(stall_id: int) -> ResponseReturnValue:
    stall = get_stall(stall_id, _actor())
    form = forms.StallEditForm(
        obj=stall,
        stall_type=stall.stall_type.value,
        status=stall.status.value,
        area_m2=str(stall.area_m2),
    )
    if request.method == "POST" and not _can_edit():
        raise Forbidden("finance staff read the registry; officers and administrators change it")

    def work() -> ResponseReturnValue:
        update_stall(
            stall.id,
            stall_type=form.stall_type.data or "",
            area_m2=form.area_m2.data or "",
            tntd_idr_per_m2=form.tntd_idr_per_m2.data or None,
            status=form.status.data or "",
            reason=form.reason.data or "",
            actor=_actor(),
        )
        flash(_("Changes saved."), "info")
        return redirect(url_for("vendors.stall_page", stall_id=stall.id))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    db.session.rollback()
    history = list(
        db.session.scalars(
            select(Placement).where(Placement.stall_id == stall.id).order_by(Placement.start_on)
        )
    )
    return render_template(
        "vendors/stall.html",
        stall=get_stall(stall_id, _actor()),
        placements=history,
        form=form,
        errors=errors,
        can_edit=_can_edit(),
    ), status


# --- import -----------------------------------------------------------------------------------


@bp.route("/pedagang/impor", methods=["GET", "POST"])
@roles_required(*EDITORS)
def import_page() -> ResponseReturnValue:
    form = forms.ImportForm()
    max_bytes, max_rows = limits()
    report = None
    problems: list[Problem] = []
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            problems = [Problem("form", N_("The form expired. Reload the page and try again."))]
            status = 400
        elif form.file.data is None or not getattr(form.file.data, "filename", ""):
            problems = [Problem("file", N_("choose a file"))]
            status = 422
        else:
            upload = form.file.data
            try:
                report = import_vendors(
                    _read_upload(upload.stream, max_bytes),
                    actor=_actor(),
                    filename=str(upload.filename or ""),
                    dry_run=bool(form.dry_run.data),
                )
            except Refused as error:
                problems = list(error.problems)
                status = 422 if isinstance(error, VendorInvalid) else 409
    return render_template(
        "vendors/import.html",
        form=form,
        report=report,
        problems=problems,
        max_bytes=max_bytes,
        max_rows=max_rows,
    ), status


def _read_upload(stream: IO[bytes], max_bytes: int) -> bytes:
    """The uploaded bytes, refusing a file over the limit by its real size without reading it."""
    if stream.seekable():
        size = stream.seek(0, os.SEEK_END)
        stream.seek(0)
        if size > max_bytes:
            raise file_problem(
                N_("the file is %(size)s bytes; the limit is %(max)s bytes"),
                size=size,
                max=max_bytes,
            )
    return stream.read(max_bytes + 1)
