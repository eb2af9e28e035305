"""Argon2id hashing for passwords and PINs."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

# The test suite hashes thousands of secrets; its profile is cheap. Stored hashes carry their own
# parameters, so verification works whatever the profile that made them.
_PROFILES = {
    "standard": PasswordHasher(),
    "fast": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}


@cache
def _dummy() -> str:
    """Verified against when the account does not exist, so a wrong username costs the same time
    as a wrong password and does not reveal which accounts exist. Made on first need, not at
    import: every command line run would otherwise pay a full hash (0.1-0.4 s) before it starts."""
    return _PROFILES["standard"].hash("no such account")


def _hasher() -> PasswordHasher:
    return _PROFILES[str(current_app.config["ARGON2_PROFILE"])]


def hash_secret(secret: str) -> str:
    return _hasher().hash(secret)


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    try:
        return _hasher().verify(secret_hash or _dummy(), secret) and secret_hash is not None
    except (VerificationError, InvalidHashError):
        return False
