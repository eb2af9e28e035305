"""Officer and admin forms (Flask-WTF: CSRF token included).

Fields are plain text: the registry's own rules (``vendors.fields``, the services) check them and
say what is wrong in the reader's language, so the forms carry no validators of their own.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (  # type: ignore[attr-defined]
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)

from vendors.models import MarketClass, StallStatus, StallType

STALL_TYPES = [
    SelectChoice(StallType.KIOS.value, _l("Kios")),
    SelectChoice(StallType.LOS.value, _l("Los")),
    SelectChoice(StallType.PELATARAN.value, _l("Pelataran / oprokan")),
]
STALL_STATUSES = [
    SelectChoice(StallStatus.ACTIVE.value, _l("Active")),
    SelectChoice(StallStatus.VACANT.value, _l("Vacant")),
    SelectChoice(StallStatus.DAMAGED.value, _l("Damaged")),
    SelectChoice(StallStatus.CLOSED.value, _l("Closed")),
]
REVOCATION_REASONS = [
    SelectChoice("vacancy", _l("Unused (vacancy)")),
    SelectChoice("arrears", _l("Arrears after SP3")),
    SelectChoice("breach", _l("Breach (sold, pledged, sublet)")),
]


class VendorForm(FlaskForm):  # type: ignore[misc]
    nik = StringField(_l("NIK (16 digits)"))
    full_name = StringField(_l("Full name"))
    phone = StringField(_l("Phone number"))
    proxy_name = StringField(_l("Paid for by (optional)"))
    proxy_phone = StringField(_l("Their phone (optional)"))


class NewVendorForm(VendorForm):
    stall = StringField(_l("First stall (e.g. KLEWER-A-012)"))
    number = StringField(_l("SHP number (optional)"))
    start_on = StringField(_l("SHP start date"))


class IssueForm(FlaskForm):  # type: ignore[misc]
    stall = StringField(_l("Stall (e.g. KLEWER-A-012)"))
    number = StringField(_l("SHP number (optional)"))
    start_on = StringField(_l("SHP start date"))
    occupant_name = StringField(_l("Person trading there, if not the holder (optional)"))


class RenewForm(FlaskForm):  # type: ignore[misc]
    on = StringField(_l("Renewed on"))
    number = StringField(_l("New SHP number (optional)"))


class TransferForm(FlaskForm):  # type: ignore[misc]
    nik = StringField(_l("New holder's NIK"))
    full_name = StringField(_l("New holder's name (if not registered yet)"))
    phone = StringField(_l("New holder's phone (if not registered yet)"))
    on = StringField(_l("Transferred on"))
    number = StringField(_l("New SHP number (optional)"))
    fee_idr = StringField(_l("Balik nama fee in rupiah (empty: TNTD × area × 10%)"))


class RevokeForm(FlaskForm):  # type: ignore[misc]
    reason = SelectField(_l("Reason"), choices=REVOCATION_REASONS)
    vacant_since = StringField(_l("Unused since (for vacancy)"))
    on = StringField(_l("Revoked on"))
    note = StringField(_l("Note (e.g. letter number)"))


class ReturnForm(FlaskForm):  # type: ignore[misc]
    on = StringField(_l("Returned on"))


class OccupantForm(FlaskForm):  # type: ignore[misc]
    occupant_name = StringField(_l("Person trading there (empty: the holder)"))


class StallForm(FlaskForm):  # type: ignore[misc]
    block = StringField(_l("Block or floor (e.g. A, B-LD)"))
    stall_number = StringField(_l("Stall number"))
    stall_type = SelectField(_l("Type"), choices=STALL_TYPES)
    area_m2 = StringField(_l("Area in m² (e.g. 4.5)"))
    tntd_idr_per_m2 = StringField(_l("TNTD per m² in rupiah (optional)"))


class StallEditForm(FlaskForm):  # type: ignore[misc]
    stall_type = SelectField(_l("Type"), choices=STALL_TYPES)
    area_m2 = StringField(_l("Area in m² (e.g. 4.5)"))
    tntd_idr_per_m2 = StringField(_l("TNTD per m² in rupiah (optional)"))
    status = SelectField(_l("Status"), choices=STALL_STATUSES)
    reason = StringField(_l("Reason for the change"))


class MarketClassForm(FlaskForm):  # type: ignore[misc]
    market_class = SelectField(
        _l("New class"), choices=[SelectChoice(c.value) for c in MarketClass]
    )
    valid_from = StringField(_l("From"))
    source = StringField(_l("Legal basis (e.g. Perwali number)"))


class MarketNameForm(FlaskForm):  # type: ignore[misc]
    name = StringField(_l("Market name"))
    kecamatan = StringField(_l("Kecamatan"))


class BlockNameForm(FlaskForm):  # type: ignore[misc]
    name = StringField(_l("Block name"))


class ImportForm(FlaskForm):  # type: ignore[misc]
    file = FileField(_l("CSV or XLSX file"))
    dry_run = BooleanField(_l("Only check, write nothing"))


class PinForm(FlaskForm):  # type: ignore[misc]
    pin = PasswordField(_l("New PIN (6 digits)"))
    confirm = PasswordField(_l("The same PIN again"))
