"""The client secrets we issue to partners, encrypted at rest with Fernet.

The HMAC of every symmetric SNAP call is keyed with the client secret, so we must be able to read
it back (a hash would not do). It is encrypted with ``RETRIBUSI_PARTNER_SECRET_KEY``: one Fernet
key, or several separated by commas for key rotation (the first encrypts, every one decrypts:
``cryptography``'s MultiFernet). Production refuses to start without it; development generates
one into the instance folder, as it does the session secret.

A secret is shown once, when it is issued or rotated, and never logged.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app

from retribusi.config import instance_file

EXTENSION_KEY: Final = "payments.snap.secret_box"
CONFIG_KEY: Final = "PARTNER_SECRET_KEY"
INSTANCE_FILE: Final = "partner_secret_key"
#: 32 random bytes as URL-safe base64 (43 characters): far beyond guessing, and printable ASCII,
#: which every bank's HMAC library takes as the key.
CLIENT_SECRET_BYTES: Final = 32


class SecretBoxError(RuntimeError):
    """The configured key is missing or unusable, or a stored secret cannot be decrypted."""


class SecretBox:
    """Encrypts and decrypts client secrets with the configured Fernet key(s)."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise SecretBoxError("no partner secret key")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError as exc:
            raise SecretBoxError(
                "RETRIBUSI_PARTNER_SECRET_KEY must be Fernet keys (32 bytes, URL-safe base64),"
                " separated by commas"
            ) from exc
        # Decrypting on every call would cost more than the HMAC it keys; stored ciphertexts are
        # immutable (rotation writes a new one), so caching by ciphertext is exact.
        self._decrypt = lru_cache(maxsize=256)(self._decrypt_uncached)

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        return self._decrypt(token)

    def _decrypt_uncached(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretBoxError(
                "a stored client secret cannot be decrypted with RETRIBUSI_PARTNER_SECRET_KEY"
            ) from exc


def generate_client_secret() -> str:
    return secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def _instance_key(instance: Path) -> bytes:
    """A development key kept in the instance folder, so stored secrets survive a restart."""
    return instance_file(instance / INSTANCE_FILE, Fernet.generate_key).strip()


def init_secret_box(app: Flask) -> None:
    configured = app.config.get(CONFIG_KEY)
    if configured:
        text = configured.decode("ascii") if isinstance(configured, bytes) else str(configured)
        keys = [part.strip().encode("ascii") for part in text.split(",") if part.strip()]
    elif app.config.get("ENV") == "production":
        raise RuntimeError(
            "RETRIBUSI_PARTNER_SECRET_KEY must be set when RETRIBUSI_ENV=production "
            "(a Fernet key: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        )
    else:
        keys = [_instance_key(Path(app.instance_path))]
    app.extensions[EXTENSION_KEY] = SecretBox(keys)


def secret_box() -> SecretBox:
    box: SecretBox = current_app.extensions[EXTENSION_KEY]
    return box
