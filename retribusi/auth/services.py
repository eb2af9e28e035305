"""Account use cases. Each public function is one transaction.

A refused input raises :class:`AccountInvalid` (or :class:`AccountConflict` for a login that is
taken): each :class:`FieldProblem` keeps an English message id marked with :func:`N_` and its
parameters, so the CLI and the API get English and a page shows the reader's language.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from retribusi import clock
from retribusi.audit import record_event
from retribusi.auth.models import STAFF_ROLES, ApiToken, Role, User, UserMarket
from retribusi.auth.passwords import hash_secret, verify_secret
from retribusi.db import transaction
from retribusi.errors import Conflict, Forbidden, NotFound, ValidationFailed
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


# app.extensions[MARKET_CHOICES]: a function returning the known markets as {code: name}. The
# registry (which owns markets) fills it; the kernel knows market codes, not market rows.
MARKET_CHOICES = "retribusi.market_choices"
USERS_PAGE_SIZE = 50

Param = str | int


def N_(message: str) -> str:
    """Mark a message id for extraction; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class FieldProblem:
    """A field and why its value is refused: an English message id and its parameters."""

    field: str
    message: str
    params: Mapping[str, Param] = dataclasses.field(default_factory=dict)

    @property
    def reason(self) -> str:
        return self.message % dict(self.params) if self.params else self.message

    def localized(self) -> str:
        text: str = gettext(self.message, **self.params) if self.params else gettext(self.message)
        return text


class AccountInvalid(ValidationFailed):
    def __init__(self, problem: FieldProblem) -> None:
        self.problems = (problem,)
        super().__init__(
            problem.reason, details={"errors": [{"field": problem.field, "reason": problem.reason}]}
        )


class AccountConflict(Conflict):
    def __init__(self, problem: FieldProblem) -> None:
        self.problems = (problem,)
        super().__init__(
            problem.reason, details={"errors": [{"field": problem.field, "reason": problem.reason}]}
        )


def _fail(field: str, message: str, **params: Param) -> AccountInvalid:
    return AccountInvalid(FieldProblem(field, message, params))


def check_secret(role: Role, secret: str) -> None:
    if len(secret) > MAX_SECRET_LEN:
        raise _fail("secret", N_("too long"))
    if role is Role.VENDOR:
        if not PIN_RE.fullmatch(secret):
            raise _fail("pin", N_("a PIN is exactly 6 digits"))
        if len(set(secret)) == 1 or any(secret in run for run in _SEQUENTIAL_DIGITS):
            raise _fail("pin", N_("the PIN is too easy to guess"))
    elif len(secret) < MIN_PASSWORD_LEN:
        raise _fail("password", N_("a password has at least %(n)d characters"), n=MIN_PASSWORD_LEN)


def _check_name(full_name: str) -> str:
    full_name = full_name.strip()
    if not 1 <= len(full_name) <= 200:
        raise _fail("full_name", N_("a name of 1 to 200 characters is required"))
    return full_name


def _check_markets(
    role: Role, market_codes: Iterable[str], known: Collection[str] | None
) -> list[str]:
    """The officer's market codes, sorted. ``known`` (the pages pass the registry's markets)
    also refuses a well-formed code of no market; the CLI checks the form only."""
    markets = sorted({code.strip() for code in market_codes if code.strip()})
    if markets and role is not Role.OFFICER:
        raise _fail("markets", N_("only officers are scoped to markets"))
    if role is Role.OFFICER and not markets:
        raise _fail("markets", N_("an officer needs at least one market"))
    for code in markets:
        if not MARKET_CODE_RE.fullmatch(code) or (known is not None and code not in known):
            raise _fail("markets", N_("not a market code: %(code)s"), code=repr(code[:40]))
    return markets


def create_user(
    *,
    role: Role,
    full_name: str,
    secret: str,
    username: str | None = None,
    phone: str | None = None,
    market_codes: Iterable[str] = (),
    known_markets: Collection[str] | None = None,
    actor: str = "system",
) -> User:
    full_name = _check_name(full_name)
    if role is Role.VENDOR:
        if username is not None or phone is None:
            raise _fail("phone", N_("a vendor signs in with a phone number, not a username"))
        try:
            phone = normalise_phone(phone)
        except PhoneError as exc:
            raise _fail(
                "phone",
                N_("%(value)s is not an Indonesian phone number (e.g. 0812-3456-7890)"),
                value=phone[:32],
            ) from exc
        login_field, taken = "phone", User.phone == phone
    else:
        if username is None or not USERNAME_RE.fullmatch(username):
            raise _fail("username", N_("3-64 characters: lowercase letters, digits, . _ -"))
        phone = None
        login_field, taken = "username", User.username == username
    markets = _check_markets(role, market_codes, known_markets)
    check_secret(role, secret)
    login = username or phone or ""
    duplicate = AccountConflict(
        FieldProblem(login_field, N_("an account for %(login)s already exists"), {"login": login})
    )
    if db.session.scalar(select(User.id).where(taken)) is not None:
        raise duplicate

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
    except IntegrityError as exc:  # created by someone else since the check above
        raise duplicate from exc
    return user


def known_market_codes() -> dict[str, str]:
    """The markets an officer may be scoped to, as {code: name}: the registry's markets (through
    the :data:`MARKET_CHOICES` hook) and any code an officer already holds."""
    source: Callable[[], Mapping[str, str]] | None = current_app.extensions.get(MARKET_CHOICES)
    found = dict(source()) if source is not None else {}
    for code in db.session.scalars(select(UserMarket.market_code).distinct()):
        found.setdefault(code, code)
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class UserPage:
    items: list[User]
    page: int
    pages: int
    total: int


def list_users(*, page: int = 1, page_size: int = USERS_PAGE_SIZE) -> UserPage:
    """Accounts by role, then oldest first, one page at a time."""
    total = db.session.scalar(select(func.count()).select_from(User)) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(page, 1), pages)
    items = db.session.scalars(
        select(User).order_by(User.role, User.id).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return UserPage(list(items), page, pages, total)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    return user


def _admin(by: User) -> str:
    # Views already allow only admins; the service says so too, and names the actor.
    if by.role is not Role.ADMIN:
        raise Forbidden("only an administrator manages accounts")
    return f"user:{by.id}"


def update_user(
    user_id: int,
    *,
    full_name: str,
    market_codes: Iterable[str] = (),
    known_markets: Collection[str] | None = None,
    by: User,
) -> User:
    """Change an account's name and, for an officer, its markets. The role and the login stay:
    a person who changes role gets a new account and the old one is deactivated."""
    actor = _admin(by)
    user = get_user(user_id)
    name = _check_name(full_name)
    markets = _check_markets(user.role, market_codes, known_markets)
    before = sorted(user.market_codes)
    changes: dict[str, object] = {}
    if name != user.full_name:
        changes["full_name"] = {"before": user.full_name, "after": name}
    if markets != before:
        changes["markets"] = {"before": before, "after": markets}
    if not changes:
        return user
    with transaction(db.session):
        user.full_name = name
        if markets != before:
            kept = [m for m in user.markets if m.market_code in markets]
            added = [UserMarket(market_code=c) for c in markets if c not in user.market_codes]
            user.markets = kept + added
        record_event(
            db.session,
            actor=actor,
            action="user.updated",
            subject_type="user",
            subject_id=user.id,
            details=changes,
        )
    return user


def set_active(user_id: int, *, active: bool, by: User) -> User:
    """Deactivate an account (it can no longer sign in, and its open sessions end at their next
    request) or reactivate it. An administrator cannot deactivate their own account."""
    actor = _admin(by)
    user = get_user(user_id)
    if not active and user.id == by.id:
        raise _fail("active", N_("you cannot deactivate your own account"))
    if user.active == active:
        return user
    with transaction(db.session):
        user.active = active
        user.failed_logins = 0
        user.locked_until = None
        record_event(
            db.session,
            actor=actor,
            action="user.reactivated" if active else "user.deactivated",
            subject_type="user",
            subject_id=user.id,
            details={},
        )
    return user


def reset_secret(user_id: int, secret: str, confirm: str, *, by: User) -> User:
    """An administrator sets a new password or PIN, typed twice. The secret is never logged."""
    actor = _admin(by)
    user = get_user(user_id)
    check_secret(user.role, secret)
    if not secrets.compare_digest(secret.encode(), confirm.encode()):
        raise _fail("confirm", N_("the two entries differ"))
    return set_secret(user.id, secret, actor=actor)


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
        raise _fail("user", N_("API tokens are for staff accounts"))
    if not 1 <= len(name.strip()) <= 100:
        raise _fail("name", N_("a token name of 1 to 100 characters is required"))
    max_days = int(current_app.config["API_TOKEN_MAX_DAYS"])
    if valid_days is not None and not 1 <= valid_days <= max_days:
        raise _fail("valid_days", N_("between 1 and %(n)d days"), n=max_days)
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
