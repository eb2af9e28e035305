"""Login forms (Flask-WTF: CSRF token included)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length


class StaffLoginForm(FlaskForm):  # type: ignore[misc]
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=128)])


class VendorLoginForm(FlaskForm):  # type: ignore[misc]
    phone = StringField(_l("Phone number"), validators=[InputRequired(), Length(max=32)])
    pin = PasswordField(_l("PIN (6 digits)"), validators=[InputRequired(), Length(max=16)])
