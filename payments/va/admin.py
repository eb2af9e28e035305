"""Administrator pages for SNAP partner profiles (banks and QRIS acquirers): list, add, issue a
new secret, replace the public key, switch a partner off and on.

A client secret is shown once, on the page that issued it; the form posts are CSRF-protected.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs lag 3.3
from wtforms.validators import InputRequired, Length, NumberRange

from payments.snap.messages import MAX_BILL_DETAILS
from payments.snap.models import PartnerKind, VaType
from payments.snap.partners import (
    PartnerInput,
    add_partner,
    list_partners,
    public_row,
    rotate_secret,
    set_active,
    set_public_key,
)
from payments.snap.signature import MAX_PEM_CHARS, MAX_SKEW_WINDOW_S
from retribusi.auth.access import current_account, roles_required
from retribusi.auth.models import Role
from retribusi.errors import DomainError

bp = Blueprint("va", __name__, template_folder="templates")


class PartnerForm(FlaskForm):  # type: ignore[misc]
    code = StringField(_l("Code (e.g. JATENG)"), validators=[InputRequired(), Length(max=20)])
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice(PartnerKind.BANK.value, _l("Bank (VA)")),
            SelectChoice(PartnerKind.QRIS_ACQUIRER.value, _l("QRIS acquirer")),
        ],
    )
    client_id = StringField(
        _l("Client id (X-CLIENT-KEY)"), validators=[InputRequired(), Length(max=128)]
    )
    partner_id = StringField(_l("Partner id (X-PARTNER-ID), optional"), validators=[Length(max=36)])
    company_code = StringField(_l("Company code (banks)"), validators=[Length(max=8)])
    va_type = SelectField(
        _l("VA type (banks)"),
        choices=[
            SelectChoice(VaType.CLOSED.value, _l("Closed: the exact total")),
            SelectChoice(VaType.PARTIAL.value, _l("Partial: up to the total")),
            SelectChoice(VaType.OPEN.value, _l("Open: any amount")),
        ],
    )
    max_bill_details = IntegerField(
        _l("Bill lines the bank shows"),
        default=MAX_BILL_DETAILS,
        validators=[NumberRange(1, MAX_BILL_DETAILS)],
    )
    channel_id = StringField(_l("Channel id (CHANNEL-ID), optional"), validators=[Length(max=5)])
    path_prefix = StringField(
        _l("Path prefix behind a proxy, optional"), validators=[Length(max=100)]
    )
    skew_window_s = IntegerField(
        _l("Clock-skew window (seconds)"),
        default=300,
        validators=[NumberRange(1, MAX_SKEW_WINDOW_S)],
    )
    public_key = TextAreaField(
        _l("The partner's RSA public key (PEM)"),
        validators=[InputRequired(), Length(max=MAX_PEM_CHARS)],
    )


class RotateForm(FlaskForm):  # type: ignore[misc]
    code = StringField(validators=[InputRequired(), Length(max=20)])


class StatusForm(RotateForm):
    active = SelectField(choices=[SelectChoice("1", "1"), SelectChoice("0", "0")])


class KeyForm(RotateForm):
    public_key = TextAreaField(
        _l("The partner's new RSA public key (PEM)"),
        validators=[InputRequired(), Length(max=MAX_PEM_CHARS)],
    )


def _input(form: PartnerForm) -> PartnerInput:
    kind = PartnerKind(form.kind.data)
    return PartnerInput(
        code=form.code.data or "",
        kind=kind,
        name=form.name.data or "",
        client_id=(form.client_id.data or "").strip(),
        public_key_pem=form.public_key.data or "",
        partner_id=(form.partner_id.data or "").strip() or None,
        channel_id=(form.channel_id.data or "").strip() or None,
        path_prefix=(form.path_prefix.data or "").strip() or None,
        skew_window_s=form.skew_window_s.data or 300,
        company_code=(form.company_code.data or "").strip() or None,
        va_type=VaType(form.va_type.data) if kind is PartnerKind.BANK else None,
        max_bill_details=form.max_bill_details.data or MAX_BILL_DETAILS,
    )


def _page(form: PartnerForm, **extra: object) -> str:
    rows = [public_row(p) for p in list_partners()]
    return render_template(
        "va/partners.html",
        form=form,
        rotate=RotateForm(),
        key_form=KeyForm(formdata=None),
        rows=rows,
        **extra,
    )


@bp.route("/admin/mitra-snap", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def partners() -> ResponseReturnValue:
    form = PartnerForm()
    if not form.is_submitted():
        return _page(form)
    if not form.validate():
        return _page(form), 400
    try:
        issued = add_partner(_input(form), actor=f"user:{current_account().id}")
    except DomainError as error:
        problems = [str(e.get("message")) for e in error.details.get("errors", [])]
        return _page(form, problems=problems or [error.message]), error.status
    return _page(
        PartnerForm(formdata=None), issued_code=issued.partner.code, secret=issued.client_secret
    )


@bp.post("/admin/mitra-snap/rahasia")
@roles_required(Role.ADMIN)
def rotate() -> ResponseReturnValue:
    form = RotateForm()
    if not form.validate_on_submit():
        return _page(
            PartnerForm(formdata=None),
            problems=[_("The form expired. Reload the page and try again.")],
        ), 400
    try:
        issued = rotate_secret(form.code.data or "", actor=f"user:{current_account().id}")
    except DomainError as error:
        return _page(PartnerForm(formdata=None), problems=[error.message]), error.status
    return _page(
        PartnerForm(formdata=None), issued_code=issued.partner.code, secret=issued.client_secret
    )


def _change(form: RotateForm, change: Callable[[str, str], object]) -> ResponseReturnValue:
    """Apply ``change(code, actor)`` to a partner from a row's form; the page again either way."""
    blank = PartnerForm(formdata=None)
    if not form.validate_on_submit():
        return _page(blank, problems=[_("The form expired. Reload the page and try again.")]), 400
    try:
        change(form.code.data or "", f"user:{current_account().id}")
    except DomainError as error:
        problems = [str(e.get("message")) for e in error.details.get("errors", [])]
        return _page(blank, problems=problems or [error.message]), error.status
    return _page(blank, done=_("Saved."))


@bp.post("/admin/mitra-snap/status")
@roles_required(Role.ADMIN)
def status() -> ResponseReturnValue:
    """Switch a partner off (its calls are refused) or on again."""
    form = StatusForm()
    active = form.active.data == "1"
    return _change(form, lambda code, actor: set_active(code, active, actor=actor))


@bp.post("/admin/mitra-snap/kunci")
@roles_required(Role.ADMIN)
def replace_key() -> ResponseReturnValue:
    """Replace a partner's public key (the partner rotated its key pair)."""
    form = KeyForm()
    pem = form.public_key.data or ""
    return _change(form, lambda code, actor: set_public_key(code, pem, actor=actor))
