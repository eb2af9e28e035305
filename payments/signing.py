"""Ed25519 signatures that make a receipt verifiable by anyone holding the public key, offline.

A receipt token is ``base64url(payload) + "." + base64url(signature)`` where the payload is the
receipt's facts as canonical JSON (sorted keys, no spaces, UTF-8) and the signature is Ed25519
over exactly those payload bytes. The QR code on a receipt carries a link with the token; the
public page re-checks it against the database, and ``docs/receipts.md`` shows how to check it
without us.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from retribusi.config import instance_file

MAX_TOKEN_CHARS = 2048  # a QR code at error correction M holds ~2,300 characters


class InvalidToken(ValueError):
    """The token is malformed, or its signature does not verify: not a receipt we issued."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("not base64url") from exc
    # The last character of a base64 string carries spare bits a decoder ignores; insisting on
    # the canonical spelling means that a changed character always changes the token's meaning.
    if _b64encode(raw) != text:
        raise InvalidToken("not canonical base64url")
    return raw


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_token(key: Ed25519PrivateKey, payload: dict[str, Any]) -> str:
    body = canonical(payload)
    return f"{_b64encode(body)}.{_b64encode(key.sign(body))}"


def verify_token(public_key: Ed25519PublicKey, token: str) -> dict[str, Any]:
    """The payload of a token we signed; :class:`InvalidToken` for anything else."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise InvalidToken("malformed receipt token")
    body_text, signature_text = token.split(".")
    body, signature = _b64decode(body_text), _b64decode(signature_text)
    try:
        public_key.verify(signature, body)
    except InvalidSignature as exc:
        raise InvalidToken("signature does not verify") from exc
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:  # pragma: no cover - we signed it
        raise InvalidToken("payload is not JSON") from exc
    if not isinstance(payload, dict) or canonical(payload) != body:
        raise InvalidToken("payload is not canonical")
    return payload


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key kept at ``path`` (PKCS#8 PEM, mode 0600), made on first use."""

    def make() -> bytes:
        return Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    return load_private_key(instance_file(path, make))


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the receipt signing key must be an Ed25519 private key")
    return key


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key
