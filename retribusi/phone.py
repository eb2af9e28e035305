"""Indonesian phone numbers, normalised to the international form without '+': ``62…``."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-.()/]")
_NORMALISED = re.compile(r"62[1-9][0-9]{7,12}")


class PhoneError(ValueError):
    pass


def normalise_phone(raw: str) -> str:
    """``0812-3456-7890``, ``+62 812 3456 7890``, ``812345678901`` → ``6281234567890``."""
    if not isinstance(raw, str) or len(raw) > 32:
        raise PhoneError("phone number is too long")
    digits = _SEPARATORS.sub("", raw.strip())
    if digits.startswith("+"):
        digits = digits[1:]
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    elif digits.startswith("8"):
        digits = "62" + digits
    if not _NORMALISED.fullmatch(digits):
        raise PhoneError(f"not an Indonesian phone number: {raw!r}")
    return digits
