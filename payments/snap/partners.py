"""Partner profiles: add one (the secret is shown once), list them, rotate a secret, deactivate.

Endpoints never hold an ORM row of a partner: they get a frozen :class:`PartnerInfo`, read in
one query, so nothing they do can change a profile by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError

from payments.snap.messages import MAX_BILL_DETAILS
from payments.snap.models import (
    CHANNEL_ID_MAX_CHARS,
    CLIENT_KEY_MAX_CHARS,
    PARTNER_CODE_MAX_CHARS,
    PARTNER_ID_MAX_CHARS,
    PATH_PREFIX_MAX_CHARS,
    Partner,
    PartnerKind,
    SignatureMode,
    VaType,
)
from payments.snap.numbering import (
    CUSTOMER_NO_MAX_CHARS,
    DEFAULT_CUSTOMER_NO_WIDTH,
    MIN_CUSTOMER_NO_WIDTH,
    make_partner_service_id,
)
from payments.snap.secrets import generate_client_secret, secret_box
from payments.snap.signature import (
    DEFAULT_SKEW_WINDOW_S,
    MAX_SKEW_WINDOW_S,
    SignatureEncoding,
    SnapKeyError,
    load_bank_public_key,
    public_key_pem,
)
from retribusi import clock
from retribusi.audit import record_event
from retribusi.db import transaction
from retribusi.errors import ValidationFailed
from retribusi.extensions import db
from retribusi.levy.errors import conflict, invalid, not_found

_CODE_RE: Final = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,19}", re.ASCII)
# Header values: printable ASCII without spaces (what payments.snap.signature accepts).
_HEADER_VALUE_RE: Final = re.compile(r"[\x21-\x7e]+", re.ASCII)
_PREFIX_RE: Final = re.compile(r"(/[A-Za-z0-9._~-]+)+", re.ASCII)
_COMPANY_CODE_RE: Final = re.compile(r"[0-9]{1,8}", re.ASCII)


@dataclass(frozen=True)
class PartnerInfo:
    """What an endpoint knows about the calling partner (a snapshot; never written back)."""

    id: int
    code: str
    kind: PartnerKind
    name: str
    client_id: str
    partner_id: str
    channel_id: str | None
    public_key_pem: str
    client_secret_enc: str
    signature_mode: SignatureMode
    signature_encoding: SignatureEncoding
    path_prefix: str | None
    skew_window_s: int
    company_code: str | None
    customer_no_width: int
    va_type: VaType | None
    max_bill_details: int
    active: bool

    @classmethod
    def of(cls, row: Partner) -> PartnerInfo:
        return cls(
            id=row.id,
            code=row.code,
            kind=row.kind,
            name=row.name,
            client_id=row.client_id,
            partner_id=row.partner_id,
            channel_id=row.channel_id,
            public_key_pem=row.public_key_pem,
            client_secret_enc=row.client_secret_enc,
            signature_mode=row.signature_mode,
            signature_encoding=row.signature_encoding,
            path_prefix=row.path_prefix,
            skew_window_s=row.skew_window_s,
            company_code=row.company_code,
            customer_no_width=row.customer_no_width,
            va_type=row.va_type,
            max_bill_details=row.max_bill_details,
            active=row.active,
        )

    def client_secret(self) -> str:
        """The decrypted client secret (HMAC key). Never log or store the result."""
        return secret_box().decrypt(self.client_secret_enc)

    def public_key(self) -> rsa.RSAPublicKey:
        return _public_key(self.public_key_pem)


_KEY_CACHE: dict[str, rsa.RSAPublicKey] = {}
_KEY_CACHE_MAX = 64


def _public_key(pem: str) -> rsa.RSAPublicKey:
    # Parsing a PEM costs more than verifying one signature; profiles change rarely.
    key = _KEY_CACHE.get(pem)
    if key is None:
        if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
            _KEY_CACHE.clear()
        key = _KEY_CACHE[pem] = load_bank_public_key(pem)
    return key


@dataclass(frozen=True)
class PartnerInput:
    """What an administrator gives for a new profile (from the CLI or the admin page)."""

    code: str
    kind: PartnerKind
    name: str
    client_id: str
    public_key_pem: str
    partner_id: str | None = None  # default: the company code (banks) or the client id
    channel_id: str | None = None
    path_prefix: str | None = None
    skew_window_s: int = DEFAULT_SKEW_WINDOW_S
    company_code: str | None = None
    customer_no_width: int = DEFAULT_CUSTOMER_NO_WIDTH
    va_type: VaType | None = None
    max_bill_details: int = MAX_BILL_DETAILS
    signature_mode: SignatureMode = SignatureMode.SYMMETRIC
    signature_encoding: SignatureEncoding = SignatureEncoding.BASE64


@dataclass(frozen=True)
class Issued:
    """A profile with the client secret just issued: the only time the secret is readable."""

    partner: PartnerInfo
    client_secret: str


def _errors(problems: list[tuple[str, str, str]]) -> ValidationFailed:
    items = [{"field": f, "reason": r, "message": m} for f, r, m in problems]
    return ValidationFailed("; ".join(m for _f, _r, m in problems), details={"errors": items})


def _check_text(
    problems: list[tuple[str, str, str]],
    field: str,
    value: str | None,
    most: int,
    pattern: re.Pattern[str] = _HEADER_VALUE_RE,
) -> None:
    if value is None:
        return
    if not 0 < len(value) <= most or not pattern.fullmatch(value):
        problems.append((field, "format", f"{field} must be 1-{most} allowed characters"))


def _check_bank(problems: list[tuple[str, str, str]], data: PartnerInput) -> None:
    company_code = data.company_code
    if company_code is None or not _COMPANY_CODE_RE.fullmatch(company_code):
        problems.append(("company_code", "format", "a bank's company code is 1-8 digits"))
    else:
        try:
            make_partner_service_id(company_code)
        except ValueError:
            problems.append(("company_code", "format", "company code may not be all zeros"))
    if data.va_type is None:
        problems.append(("va_type", "required", "a bank needs a VA type"))


def _check(data: PartnerInput) -> tuple[PartnerInput, str]:
    """Validate everything, collecting each problem; returns the input with defaults filled
    and the public key as SPKI PEM."""
    problems: list[tuple[str, str, str]] = []
    code = data.code.strip().upper()
    if not _CODE_RE.fullmatch(code):
        problems.append(
            ("code", "format", f"code is 1-{PARTNER_CODE_MAX_CHARS} of A-Z, 0-9, _ and -")
        )
    name = data.name.strip()
    if not 0 < len(name) <= 120 or not name.isprintable():
        problems.append(("name", "format", "name is 1-120 printable characters"))
    _check_text(problems, "client_id", data.client_id, CLIENT_KEY_MAX_CHARS)
    _check_text(problems, "channel_id", data.channel_id, CHANNEL_ID_MAX_CHARS)
    prefix = data.path_prefix.rstrip("/") if data.path_prefix else None
    _check_text(problems, "path_prefix", prefix, PATH_PREFIX_MAX_CHARS, _PREFIX_RE)
    if not 1 <= data.skew_window_s <= MAX_SKEW_WINDOW_S:
        problems.append(("skew_window_s", "range", f"skew window is 1-{MAX_SKEW_WINDOW_S} s"))
    if not MIN_CUSTOMER_NO_WIDTH <= data.customer_no_width <= CUSTOMER_NO_MAX_CHARS:
        problems.append(("customer_no_width", "range", "customerNo width is 2-20 digits"))
    if not 1 <= data.max_bill_details <= MAX_BILL_DETAILS:
        problems.append(("max_bill_details", "range", f"bill details 1-{MAX_BILL_DETAILS}"))
    company_code = data.company_code
    va_type = data.va_type
    if data.kind is PartnerKind.BANK:
        _check_bank(problems, data)
    partner_id = data.partner_id or (company_code if data.kind is PartnerKind.BANK else None)
    partner_id = partner_id or data.client_id
    _check_text(problems, "partner_id", partner_id, PARTNER_ID_MAX_CHARS)
    pem = ""
    try:
        pem = public_key_pem(load_bank_public_key(data.public_key_pem))
    except SnapKeyError as exc:
        problems.append(("public_key", exc.kind.value, f"public key: {exc}"))
    if problems:
        raise _errors(problems)
    filled = PartnerInput(
        code=code,
        kind=data.kind,
        name=name,
        client_id=data.client_id,
        public_key_pem=pem,
        partner_id=partner_id,
        channel_id=data.channel_id,
        path_prefix=prefix,
        skew_window_s=data.skew_window_s,
        company_code=company_code if data.kind is PartnerKind.BANK else None,
        customer_no_width=data.customer_no_width,
        va_type=va_type if data.kind is PartnerKind.BANK else None,
        max_bill_details=data.max_bill_details,
        signature_mode=data.signature_mode,
        signature_encoding=data.signature_encoding,
    )
    return filled, pem


def add_partner(data: PartnerInput, *, actor: str) -> Issued:
    """Create a profile and issue its client secret (returned once, stored encrypted)."""
    filled, pem = _check(data)
    secret = generate_client_secret()
    now = clock.now()
    session = db.session
    try:
        with transaction(session):
            row = Partner(
                code=filled.code,
                kind=filled.kind,
                name=filled.name,
                client_id=filled.client_id,
                partner_id=filled.partner_id,
                channel_id=filled.channel_id,
                public_key_pem=pem,
                client_secret_enc=secret_box().encrypt(secret),
                secret_set_at=now,
                signature_mode=filled.signature_mode,
                signature_encoding=filled.signature_encoding,
                path_prefix=filled.path_prefix,
                skew_window_s=filled.skew_window_s,
                company_code=filled.company_code,
                customer_no_width=filled.customer_no_width,
                va_type=filled.va_type,
                max_bill_details=filled.max_bill_details,
                active=True,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            record_event(
                session,
                actor=actor,
                action="snap_partner.added",
                subject_type="snap_partner",
                subject_id=row.id,
                details=_public_details(row),
            )
            info = PartnerInfo.of(row)
    except IntegrityError as exc:
        raise conflict(
            "code", "taken", "a profile with this code, client id or partner id exists"
        ) from exc
    return Issued(info, secret)


def _public_details(row: Partner) -> dict[str, object]:
    """A profile's facts for the audit trail: everything except the secret."""
    return {
        "code": row.code,
        "kind": row.kind.value,
        "name": row.name,
        "client_id": row.client_id,
        "partner_id": row.partner_id,
        "channel_id": row.channel_id,
        "path_prefix": row.path_prefix,
        "skew_window_s": row.skew_window_s,
        "company_code": row.company_code,
        "customer_no_width": row.customer_no_width,
        "va_type": row.va_type.value if row.va_type else None,
        "max_bill_details": row.max_bill_details,
        "signature_mode": row.signature_mode.value,
        "signature_encoding": row.signature_encoding.value,
        "public_key_pem": row.public_key_pem,
    }


def _locked(code: str) -> Partner:
    query = select(Partner).where(Partner.code == code.strip().upper()[:PARTNER_CODE_MAX_CHARS])
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = db.session.scalars(query).first()
    if row is None:
        raise not_found("code", f"no partner profile {code!r}")
    return row


def rotate_secret(code: str, *, actor: str) -> Issued:
    """Issue a new client secret; the old one stops working at once (tell the bank first)."""
    secret = generate_client_secret()
    session = db.session
    with transaction(session):
        row = _locked(code)
        now = clock.now()
        row.client_secret_enc = secret_box().encrypt(secret)
        row.secret_set_at = now
        row.updated_at = now
        record_event(
            session,
            actor=actor,
            action="snap_partner.secret_rotated",
            subject_type="snap_partner",
            subject_id=row.id,
            details={"code": row.code},
        )
        info = PartnerInfo.of(row)
    return Issued(info, secret)


def set_public_key(code: str, pem: str, *, actor: str) -> PartnerInfo:
    """Replace the partner's RSA public key (the bank rotated its key pair)."""
    try:
        spki = public_key_pem(load_bank_public_key(pem))
    except SnapKeyError as exc:
        raise invalid("public_key", exc.kind.value, f"public key: {exc}") from exc
    session = db.session
    with transaction(session):
        row = _locked(code)
        row.public_key_pem = spki
        row.updated_at = clock.now()
        record_event(
            session,
            actor=actor,
            action="snap_partner.key_replaced",
            subject_type="snap_partner",
            subject_id=row.id,
            details={"code": row.code, "public_key_pem": spki},
        )
        return PartnerInfo.of(row)


def set_active(code: str, active: bool, *, actor: str) -> PartnerInfo:
    session = db.session
    with transaction(session):
        row = _locked(code)
        row.active = active
        row.updated_at = clock.now()
        record_event(
            session,
            actor=actor,
            action="snap_partner.activated" if active else "snap_partner.deactivated",
            subject_type="snap_partner",
            subject_id=row.id,
            details={"code": row.code},
        )
        return PartnerInfo.of(row)


def list_partners(kind: PartnerKind | None = None) -> list[PartnerInfo]:
    query = select(Partner).order_by(Partner.code)
    if kind is not None:
        query = query.where(Partner.kind == kind)
    return [PartnerInfo.of(row) for row in db.session.scalars(query)]


def get_partner(code: str) -> PartnerInfo:
    row = db.session.scalars(
        select(Partner).where(Partner.code == code.strip().upper()[:PARTNER_CODE_MAX_CHARS])
    ).first()
    if row is None:
        raise not_found("code", f"no partner profile {code!r}")
    return PartnerInfo.of(row)


# Built once: every SNAP call looks its partner up (see payments.ledger on why).
_BY_CLIENT_ID = select(Partner).where(Partner.client_id == bindparam("value"))
_BY_PARTNER_ID = select(Partner).where(Partner.partner_id == bindparam("value"))


def find_by_client_id(client_id: str) -> PartnerInfo | None:
    return _find(_BY_CLIENT_ID, client_id)


def find_by_partner_id(partner_id: str) -> PartnerInfo | None:
    """The partner a call's ``X-PARTNER-ID`` names; read before the headers are validated, so a
    value no profile can hold (a NUL, which PostgreSQL refuses in a query) finds none."""
    return _find(_BY_PARTNER_ID, partner_id)


def _find(query: Select[Partner], value: str) -> PartnerInfo | None:
    if _HEADER_VALUE_RE.fullmatch(value) is None:
        return None
    row = db.session.scalars(query, {"value": value}).first()
    return PartnerInfo.of(row) if row is not None else None


def public_row(info: PartnerInfo) -> dict[str, object]:
    """A profile for JSON output (CLI, API): everything but the secret."""
    return {
        "code": info.code,
        "kind": info.kind.value,
        "name": info.name,
        "client_id": info.client_id,
        "partner_id": info.partner_id,
        "channel_id": info.channel_id,
        "path_prefix": info.path_prefix,
        "skew_window_s": info.skew_window_s,
        "company_code": info.company_code,
        "partner_service_id": make_partner_service_id(info.company_code)
        if info.company_code
        else None,
        "customer_no_width": info.customer_no_width,
        "va_type": info.va_type.value if info.va_type else None,
        "max_bill_details": info.max_bill_details,
        "signature_mode": info.signature_mode.value,
        "signature_encoding": info.signature_encoding.value,
        "active": info.active,
    }
