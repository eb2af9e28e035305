"""B2B access tokens: opaque random strings, stored as SHA-256, valid 900 s (ASPI).

A JWT would let a worker check a token without the database, but it could not be revoked and
would put a signing key on every worker; one indexed lookup per call is cheap.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import bindparam, select

from payments.snap.models import AccessToken
from payments.snap.signature import SecurityErrorKind, SnapSecurityError
from retribusi import clock
from retribusi.db import AnySession

TOKEN_LIFETIME_S: Final = 900
#: 32 random bytes, URL-safe base64: 43 characters, well inside ASPI's 2048.
TOKEN_BYTES: Final = 32


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: AnySession, partner_id: int, *, now: datetime) -> tuple[str, int]:
    """Add a new token for the partner to the session; return it and its lifetime in seconds.

    The caller commits (with the call's answer)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        AccessToken(
            partner_id=partner_id,
            token_sha256=token_digest(token),
            issued_at=now,
            expires_at=now + timedelta(seconds=TOKEN_LIFETIME_S),
        )
    )
    return token, TOKEN_LIFETIME_S


# Built once: every SNAP call checks a token (see payments.ledger on why).
_TOKEN = select(AccessToken.partner_id, AccessToken.expires_at).where(
    AccessToken.token_sha256 == bindparam("digest")
)


def check_token(session: AnySession, token: str, partner_id: int) -> None:
    """Refuse a token that is unknown, expired or another partner's: ``401xx01``.

    The three look alike to the caller on purpose: a probe learns nothing about other partners.
    """
    row = session.execute(_TOKEN, {"digest": token_digest(token)}).first()
    if row is None:
        raise SnapSecurityError(SecurityErrorKind.INVALID_TOKEN, "unknown access token")
    owner, expires_at = row
    if owner != partner_id:
        raise SnapSecurityError(SecurityErrorKind.INVALID_TOKEN, "token of another partner")
    if clock.now() >= expires_at:
        raise SnapSecurityError(SecurityErrorKind.INVALID_TOKEN, "access token expired")
