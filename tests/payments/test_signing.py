from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from payments.signing import (
    InvalidToken,
    load_or_create_private_key,
    load_public_key,
    public_key_pem,
    sign_token,
    verify_token,
)

PAYLOAD = {
    "n": "SSRD/2026/000001",
    "a": 157500,
    "t": "2026-11-23T10:00:00+07:00",
    "v": "Sri Rahayu",
}


def test_round_trip_and_offline_verification_with_the_public_pem() -> None:
    key = Ed25519PrivateKey.generate()
    token = sign_token(key, PAYLOAD)
    public = load_public_key(public_key_pem(key).encode())
    assert verify_token(public, token) == PAYLOAD


def test_every_single_character_change_is_caught() -> None:
    key = Ed25519PrivateKey.generate()
    token = sign_token(key, PAYLOAD)
    for index, char in enumerate(token):
        for replacement in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=":
            if replacement == char:
                continue
            forged = token[:index] + replacement + token[index + 1 :]
            with pytest.raises(InvalidToken):
                verify_token(key.public_key(), forged)


def test_another_key_does_not_verify() -> None:
    token = sign_token(Ed25519PrivateKey.generate(), PAYLOAD)
    with pytest.raises(InvalidToken):
        verify_token(Ed25519PrivateKey.generate().public_key(), token)


@given(st.text(max_size=300))
def test_garbage_tokens_are_refused_cleanly(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        verify_token(Ed25519PrivateKey.generate().public_key(), garbage)


def test_key_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "receipt.pem"
    first = load_or_create_private_key(path)
    second = load_or_create_private_key(path)
    assert public_key_pem(first) == public_key_pem(second)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_wrong_key_types_are_refused() -> None:
    other = X25519PrivateKey.generate().public_key()
    pem = other.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError, match="Ed25519"):
        load_public_key(pem)
