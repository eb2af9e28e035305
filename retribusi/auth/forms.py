"""Login forms and the administrator's account forms (Flask-WTF: CSRF token included)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (  # type: ignore[attr-defined]
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import InputRequired, Length

from retribusi.auth.models import Role


class StaffLoginForm(FlaskForm):  # type: ignore[misc]
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=128)])


class VendorLoginForm(FlaskForm):  # type: ignore[misc]
    phone = StringField(_l("Phone number"), validators=[InputRequired(), Length(max=32)])
    pin = PasswordField(_l("PIN (6 digits)"), validators=[InputRequired(), Length(max=16)])


# The administrator's account pages. Fields are plain: the services check every value and say
# what is wrong, so a refused form comes back with each reason beside its field.
ROLE_CHOICES = [
    SelectChoice(Role.OFFICER.value, _l("Market officer")),
    SelectChoice(Role.FINANCE.value, _l("Finance staff")),
    SelectChoice(Role.ADMIN.value, _l("Administrator")),
    SelectChoice(Role.VENDOR.value, _l("Vendor")),
]


class NewUserForm(FlaskForm):  # type: ignore[misc]
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validate_choice=False)
    full_name = StringField(_l("Full name"))
    username = StringField(_l("Username (staff)"))
    phone = StringField(_l("Phone number (vendor)"))
    markets = SelectMultipleField(_l("Markets"), choices=[], validate_choice=False)
    secret = PasswordField(_l("Initial password or PIN"))
    confirm = PasswordField(_l("The same again"))


class EditUserForm(FlaskForm):  # type: ignore[misc]
    full_name = StringField(_l("Full name"))
    markets = SelectMultipleField(_l("Markets"), choices=[], validate_choice=False)


class ActiveForm(FlaskForm):  # type: ignore[misc]
    """Deactivate or reactivate: the button says which; the form carries only its CSRF token."""


class SecretForm(FlaskForm):  # type: ignore[misc]
    secret = PasswordField(_l("New password or PIN"))
    confirm = PasswordField(_l("The same again"))
