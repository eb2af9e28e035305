"""Account use cases. Each public function is one transaction."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from retribusi import clock
from retribusi.audit import record_event
from retribusi.auth.models import STAFF_ROLES, ApiToken, Role, User, UserMarket
from retribusi.auth.passwords import hash_secret, verify_secret
from retribusi.db import transaction
from retribusi.errors import Conflict, NotFound, ValidationFailed
from retribusi.extensions import db
from retribusi.phone import PhoneError, normalise_phone

USERNAME_RE = re.compile(r"[a-z][a-z0-9._-]{2,63}")
MARKET_CODE_RE = re.compile(r"[A-Z][A-Z0-9_]{1,31}")
PIN_RE = re.compile(r"[0-9]{6}")
MIN_PASSWORD_LEN = 10
# A PIN inside either string (123456, 654321, ...) is the first one a thief tries.
_SEQUENTIAL_DIGITS = ("0123456789", "9876543210")
MAX_SECRET_LEN = 128  # argon2 would hash a megabyte happily; nobody types that
TOKEN_PREFIX = "rtb_"  # noqa: S105 - a public marker that makes leaked tokens greppable


def _fail(field: str, reason: str) -> ValidationFailed:
    return ValidationFailed(reason, details={"errors": [{"field": field, "reason": reason}]})


def check_secret(role: Role, secret: str) -> None:
    if len(secret) > MAX_SECRET_LEN:
        raise _fail("secret", "too long")
    if role is Role.VENDOR:
        if not PIN_RE.fullmatch(secret):
            raise _fail("pin", "a PIN is exactly 6 digits")
        if len(set(secret)) == 1 or any(secret in run for run in _SEQUENTIAL_DIGITS):
            raise _fail("pin", "the PIN is too easy to guess")
    elif len(secret) < MIN_PASSWORD_LEN:
        raise _fail("password", f"a password has at least {MIN_PASSWORD_LEN} characters")


def create_user(
    *,
    role: Role,
    full_name: str,
    secret: str,
    username: str | None = None,
    phone: str | None = None,
    market_codes: Iterable[str] = (),
    actor: str = "system",
) -> User:
    full_name = full_name.strip()
    if not 1 <= len(full_name) <= 200:
        raise _fail("full_name", "a name of 1 to 200 characters is required")
    markets = sorted(set(market_codes))
    if role is Role.VENDOR:
        if username is not None or phone is None:
            raise _fail("phone", "a vendor signs in with a phone number, not a username")
        try:
            phone = normalise_phone(phone)
        except PhoneError as exc:
            raise _fail("phone", str(exc)) from exc
    else:
        if username is None or not USERNAME_RE.fullmatch(username):
            raise _fail("username", "3-64 characters: lowercase letters, digits, . _ -")
        phone = None
    if markets and role is not Role.OFFICER:
        raise _fail("markets", "only officers are scoped to markets")
    if role is Role.OFFICER and not markets:
        raise _fail("markets", "an officer needs at least one market")
    for code in markets:
        if not MARKET_CODE_RE.fullmatch(code):
            raise _fail("markets", f"not a market code: {code!r}")
    check_secret(role, secret)

    user = User(
        role=role,
        username=username,
        phone=phone,
        full_name=full_name,
        secret_hash=hash_secret(secret),
        created_at=clock.now(),
        markets=[UserMarket(market_code=code) for code in markets],
    )
    try:
        with transaction(db.session):
            db.session.add(user)
            db.session.flush()
            record_event(
                db.session,
                actor=actor,
                action="user.created",
                subject_type="user",
                subject_id=user.id,
                details={"role": role.value, "login": user.login_name, "markets": markets},
            )
    except IntegrityError as exc:
        raise Conflict(f"an account for {user.login_name} already exists") from exc
    return user


def find_user(login: str) -> User | None:
    """A staff username or a vendor phone number, in any of the forms people type."""
    login = login.strip()
    if not login or len(login) > 64:
        return None
    user = db.session.scalar(select(User).where(User.username == login.lower()))
    if user is None:
        try:
            phone = normalise_phone(login)
        except PhoneError:
            return None
        user = db.session.scalar(select(User).where(User.phone == phone))
    return user


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    locked: bool = False


def authenticate(login: str, secret: str, *, vendor: bool) -> LoginResult:
    """Check a login. After ``LOCKOUT_AFTER_FAILURES`` wrong tries the account waits ``LOCKOUT_S``.

    A 6-digit PIN has a million values; the IP rate limit alone would let a patient attacker
    through, so each account also locks itself.
    """
    now = clock.now()
    with transaction(db.session):
        user = find_user(login) if len(secret) <= MAX_SECRET_LEN else None
        if user is not None and (user.role is Role.VENDOR) != vendor:
            user = None
        if user is not None and user.locked_until is not None and user.locked_until > now:
            return LoginResult(None, locked=True)
        ok = verify_secret(user.secret_hash if user else None, secret)
        if user is None:
            return LoginResult(None)
        if not ok or not user.active:
            user.failed_logins += 1
            if user.failed_logins >= int(current_app.config["LOCKOUT_AFTER_FAILURES"]):
                user.failed_logins = 0
                user.locked_until = now + timedelta(seconds=int(current_app.config["LOCKOUT_S"]))
                record_event(
                    db.session,
                    actor="system",
                    action="user.locked",
                    subject_type="user",
                    subject_id=user.id,
                    details={"until": user.locked_until.isoformat()},
                )
            return LoginResult(
                None, locked=user.locked_until is not None and user.locked_until > now
            )
        user.failed_logins = 0
        user.locked_until = None
        return LoginResult(user)


def set_secret(user_id: int, secret: str, *, actor: str) -> User:
    """Set or reset a password or PIN (an officer resets a vendor's PIN at the market)."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    check_secret(user.role, secret)
    with transaction(db.session):
        user.secret_hash = hash_secret(secret)
        user.failed_logins = 0
        user.locked_until = None
        record_event(
            db.session,
            actor=actor,
            action="user.secret_reset",
            subject_type="user",
            subject_id=user.id,
            details={},
        )
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(
    user_id: int, *, name: str, valid_days: int | None, actor: str
) -> tuple[ApiToken, str]:
    """Issue a bearer token; the plain token is returned once and never stored."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    if user.role not in STAFF_ROLES:
        raise _fail("user", "API tokens are for staff accounts")
    if not 1 <= len(name.strip()) <= 100:
        raise _fail("name", "a token name of 1 to 100 characters is required")
    max_days = int(current_app.config["API_TOKEN_MAX_DAYS"])
    if valid_days is not None and not 1 <= valid_days <= max_days:
        raise _fail("valid_days", f"between 1 and {max_days} days")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    token = ApiToken(
        user_id=user.id,
        name=name.strip(),
        token_hash=_token_digest(plain),
        created_at=now,
        expires_at=now + timedelta(days=valid_days if valid_days else max_days),
    )
    with transaction(db.session):
        db.session.add(token)
        db.session.flush()
        record_event(
            db.session,
            actor=actor,
            action="api_token.created",
            subject_type="user",
            subject_id=user.id,
            details={"token_id": token.id, "name": token.name},
        )
    return token, plain


def user_for_token(plain: str) -> User | None:
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(plain)))
    now: datetime = clock.now()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    return token.user if token.user.active else None


def revoke_api_token(token_id: int, *, actor: str) -> None:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("no such token")
    with transaction(db.session):
        if token.revoked_at is None:
            token.revoked_at = clock.now()
            record_event(
                db.session,
                actor=actor,
                action="api_token.revoked",
                subject_type="user",
                subject_id=token.user_id,
                details={"token_id": token.id},
            )
