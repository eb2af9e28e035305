"""Reconciliation forms (Flask-WTF: every form carries a CSRF token). Values are checked again by
the services; these bound what a browser may send."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs lag 3.3
from wtforms.validators import InputRequired, Length, Optional, Regexp

from reconcile.formats import FileFormat, available_profiles

FORMATS = [
    SelectChoice(FileFormat.MT940.value, "MT940"),
    SelectChoice(FileFormat.CAMT053.value, "camt.053"),
    SelectChoice(FileFormat.BANK_CSV.value, _l("Bank CSV (by profile)")),
    SelectChoice(FileFormat.BANK_XLSX.value, _l("Bank XLSX (by profile)")),
    SelectChoice(FileFormat.QRIS_SETTLEMENT.value, _l("QRIS settlement report")),
]


def profile_choices() -> list[SelectChoice]:
    return [SelectChoice("", _l("(not a bank CSV/XLSX)"))] + [
        SelectChoice(p, p) for p in available_profiles()
    ]


class UploadForm(FlaskForm):  # type: ignore[misc]
    file = FileField(_l("Statement or settlement file"))
    format = SelectField(_l("Format"), choices=FORMATS)
    profile = SelectField(_l("Bank profile"), choices=[], validate_choice=False)
    account = StringField(
        _l("Account number (when the file does not say it)"), validators=[Length(max=64)]
    )
    acquirer = StringField(_l("QRIS acquirer id (settlement reports)"), validators=[Length(max=64)])
    dry_run = BooleanField(_l("Check only (store nothing)"))


class RunForm(FlaskForm):  # type: ignore[misc]
    preview = SubmitField(_l("Preview (dry run)"))
    run = SubmitField(_l("Run reconciliation"))


_REASON = [InputRequired(), Length(min=10, max=300)]
_ID = [Optional(), Regexp(r"^[0-9]{1,15}$")]


class ActionForm(FlaskForm):  # type: ignore[misc]
    action = HiddenField(validators=[InputRequired(), Length(max=20)])
    reason = TextAreaField(_l("Reason"), validators=[Length(max=300)])
    payment_id = StringField(_l("Payment id"), validators=_ID)
    deposit_id = StringField(_l("Deposit id"), validators=_ID)
    batch_id = StringField(_l("Settlement batch id"), validators=_ID)
    vendor_id = StringField(_l("Vendor id"), validators=_ID)
    bill_ids = StringField(
        _l("Bill ids (optional, separated by commas)"),
        validators=[Optional(), Length(max=300), Regexp(r"^[0-9, ]*$")],
    )
    assignee_id = StringField(_l("User id (empty: nobody)"), validators=_ID)


class UnmatchForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField(_l("Reason"), validators=_REASON)
