"""Payment forms (Flask-WTF: each carries a CSRF token). The services check the values and say
what is wrong, so the fields are plain text with length bounds only."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs lag 3.3
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, ListWidget


class CashForm(FlaskForm):  # type: ignore[misc]
    # Made when the form is opened; a resend of the same form carries the same key. The service
    # checks it (its signature and length): a bad one is refused as forged, with a fresh form.
    idempotency_key = HiddenField()
    market = SelectField(_l("Market"), choices=[], validate_choice=False)
    amount = StringField(_l("Amount received (Rp)"), validators=[Length(max=24)])
    bill_id = SelectField(_l("Pay this bill first (optional)"), choices=[], validate_choice=False)


class ReversalForm(FlaskForm):  # type: ignore[misc]
    reference = StringField(_l("Reversal reference (bank or office)"), validators=[Length(max=128)])
    reason = TextAreaField(_l("Reason (10-300 characters)"), validators=[Length(max=300)])


class PickedField(SelectMultipleField):
    """Checkboxes, one per undeposited collection."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


SELECTIONS = [
    SelectChoice("day", _l("All undeposited cash of one day")),
    SelectChoice("all", _l("All undeposited cash")),
    SelectChoice("picked", _l("The payments I tick below")),
]


class DepositForm(FlaskForm):  # type: ignore[misc]
    slip_ref = StringField(_l("Bank slip reference"), validators=[Length(max=60)])
    amount = StringField(_l("Amount on the slip (Rp)"), validators=[Length(max=24)])
    deposited_on = StringField(_l("Day deposited"), validators=[Length(max=10)])
    selection = RadioField(_l("What this deposit covers"), choices=SELECTIONS, default="day")
    collected_on = SelectField(_l("Day of the collections"), choices=[], validate_choice=False)
    payment_ids = PickedField(_l("Collections"), choices=[], validate_choice=False)
    note = StringField(_l("Note (optional)"), validators=[Length(max=300)])


class VerifyForm(FlaskForm):  # type: ignore[misc]
    received = StringField(_l("Amount the bank credited (Rp)"), validators=[Length(max=24)])
    note = StringField(_l("Note (optional)"), validators=[Length(max=300)])


class VerifyLinkForm(FlaskForm):  # type: ignore[misc]
    class Meta:
        csrf = False  # a GET that only looks something up

    link = StringField(_l("Receipt link or code"), validators=[Length(max=2300)])
