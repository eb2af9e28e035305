"""Levy forms (Flask-WTF: every form carries a CSRF token). Values are checked by the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs lag 3.3
from wtforms.validators import InputRequired, Length, Optional

from retribusi.levy.models import ReliefKind
from retribusi.levy.reliefs import CHANNELS
from retribusi.levy.rules import Component, TariffBasis
from vendors.models import MarketClass, StallType

STALL_TYPES = [SelectChoice(t.value) for t in StallType]
COMPONENTS = [
    SelectChoice(Component.PELAYANAN_PASAR.value, _l("Market service")),
    SelectChoice(Component.PERSAMPAHAN.value, _l("Waste and cleaning")),
    SelectChoice(Component.LAINNYA.value, _l("Other")),
]
BASES = [
    SelectChoice(TariffBasis.PER_M2_DAY.value, _l("Rp per m² per day")),
    SelectChoice(TariffBasis.TNTD_PCT_DAY.value, _l("Percentage of TNTD per day")),
    SelectChoice(TariffBasis.PER_DAY.value, _l("Rp per day")),
]
CLASSES = [SelectChoice("", _l("(any class)"))] + [SelectChoice(c.value) for c in MarketClass]
RELIEF_KINDS = [
    SelectChoice(ReliefKind.EXEMPTION.value, _l("Exemption")),
    SelectChoice(ReliefKind.REDUCTION.value, _l("Reduction")),
    SelectChoice(ReliefKind.DEFERRAL.value, _l("Deferral")),
]


class TariffForm(FlaskForm):  # type: ignore[misc]
    stall_type = SelectField(_l("Stall type"), choices=STALL_TYPES)
    component = SelectField(_l("Component"), choices=COMPONENTS)
    basis = SelectField(_l("Basis"), choices=BASES)
    rate = StringField(_l("Rate"), validators=[InputRequired(), Length(max=20)])
    default_tntd = StringField(
        _l("Default TNTD (Rp/m²), for stalls without one"), validators=[Length(max=12)]
    )
    legal_basis = StringField(
        _l("Legal basis (Perda/Perwali number)"), validators=[InputRequired(), Length(max=200)]
    )
    valid_from = DateField(_l("Valid from"), validators=[InputRequired()])
    valid_to = DateField(_l("Valid to (optional)"), validators=[Optional()])
    market = SelectField(_l("Market (optional)"), choices=[], validate_choice=False)
    market_class = SelectField(_l("Market class (optional)"), choices=CLASSES)
    note = StringField(_l("Note"), validators=[Length(max=300)])


class BillingRunForm(FlaskForm):  # type: ignore[misc]
    period = StringField(_l("Period (YYYY-MM)"), validators=[InputRequired(), Length(max=7)])
    market = SelectField(_l("Market"), choices=[], validate_choice=False)
    preview = SubmitField(_l("Preview (dry run)"))
    issue = SubmitField(_l("Issue bills"))


class ClosePeriodForm(FlaskForm):  # type: ignore[misc]
    period = StringField(
        _l("Period to close (YYYY-MM)"), validators=[InputRequired(), Length(max=7)]
    )


class NoticeRunForm(FlaskForm):  # type: ignore[misc]
    submit = SubmitField(_l("Issue the STRD and warning letters due today"))


class VoidForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField(_l("Reason"), validators=[InputRequired(), Length(min=10, max=300)])
    reissue = BooleanField(_l("Reissue a corrected bill at once"))


class TicketForm(FlaskForm):  # type: ignore[misc]
    placement_id = HiddenField(validators=[InputRequired(), Length(max=18)])


class ReliefForm(FlaskForm):  # type: ignore[misc]
    kind = SelectField(_l("Kind"), choices=RELIEF_KINDS)
    decision_number = StringField(
        _l("Decision letter number"), validators=[InputRequired(), Length(max=100)]
    )
    decided_on = DateField(_l("Decided on"), validators=[InputRequired()])
    valid_from = DateField(_l("From"), validators=[InputRequired()])
    valid_to = DateField(_l("To"), validators=[InputRequired()])
    market = SelectField(_l("Market (empty: whole city)"), choices=[], validate_choice=False)
    block = StringField(_l("Block code (optional)"), validators=[Length(max=20)])
    vendor_id = StringField(_l("Vendor id (optional)"), validators=[Length(max=18)])
    reduction_pct = StringField(_l("Reduction %"), validators=[Length(max=6)])
    note = StringField(_l("Note"), validators=[Length(max=300)])


class OutageForm(FlaskForm):  # type: ignore[misc]
    market = SelectField(_l("Market (empty: every market)"), choices=[], validate_choice=False)
    channel = SelectField(_l("Channel"), choices=[SelectChoice(c) for c in CHANNELS])
    started_on = DateField(_l("From"), validators=[InputRequired()])
    ended_on = DateField(_l("To (empty: still down)"), validators=[Optional()])
    reference = StringField(
        _l("Report or agreement reference"), validators=[InputRequired(), Length(max=120)]
    )
