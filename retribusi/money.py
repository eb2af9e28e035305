"""Money: whole rupiah as ``int``, parsed from external text with ``Decimal``, shown as Rp15.000.

Every amount billed or paid is an integer number of rupiah (TigerBeetle's "asset scale 0"). External
systems send strings such as ``"15000.00"`` (SNAP BI), ``"15000"`` (QRIS tag 54) or bank-statement
figures; they are parsed exactly, and a non-zero fraction is refused rather than rounded, because a
rounded rupiah is a rupiah that went missing.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

from babel.numbers import format_currency

#: Upper bound for any single amount the platform accepts (Rp1 trillion). A market stall never
#: owes or pays more; anything larger is a typo or an attack, and would overflow JSON consumers
#: that use doubles (2^53).
MAX_AMOUNT_IDR: Final = 1_000_000_000_000

# Plain decimal notation only: optional sign, digits, optional fraction. No exponent ("1e9"),
# no thousands separators, no spaces, no "NaN"/"Infinity" that Decimal would otherwise accept.
_AMOUNT_RE: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


class MoneyError(ValueError):
    """An external amount that cannot be taken as whole rupiah. ``reason`` is a stable code."""

    def __init__(self, reason: str, value: object, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.value = value


def parse_idr(
    value: str | int,
    *,
    allow_zero: bool = False,
    allow_negative: bool = False,
    max_idr: int = MAX_AMOUNT_IDR,
) -> int:
    """Parse an external amount into whole rupiah.

    Accepts ``int`` (but not ``bool``) and strings like ``"15000"``, ``"15000.00"``, ``"-1500"``.
    Refuses a non-zero fraction, exponents, separators, values outside ``[-max_idr, max_idr]``,
    zero unless ``allow_zero`` and negatives unless ``allow_negative``.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MoneyError("type", value, "amount must be a string or an integer")
    if isinstance(value, int):
        amount = value
    else:
        if len(value) > 40 or not _AMOUNT_RE.fullmatch(value):
            raise MoneyError("format", value, f"not a plain decimal amount: {value[:40]!r}")
        try:
            exact = Decimal(value)
        except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
            raise MoneyError("format", value, f"not a decimal amount: {value!r}") from exc
        if exact != exact.to_integral_value():
            raise MoneyError("fraction", value, f"amount has a fraction of a rupiah: {value!r}")
        amount = int(exact)
    if amount == 0 and not allow_zero:
        raise MoneyError("zero", value, "amount must not be zero")
    if amount < 0 and not allow_negative:
        raise MoneyError("negative", value, "amount must not be negative")
    if abs(amount) > max_idr:
        raise MoneyError("range", value, f"amount exceeds the limit of {max_idr} rupiah")
    return amount


def format_idr(amount_idr: int) -> str:
    """``15000`` → ``"Rp15.000"``; ``-2500`` → ``"-Rp2.500"``.

    CLDR gives IDR two decimals, so Babel's default would print ``Rp15.000,00``; the explicit
    pattern and ``currency_digits=False`` show whole rupiah as Indonesians write them.
    """
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int):
        raise TypeError("format_idr takes whole rupiah as int")
    return format_currency(
        amount_idr, "IDR", format="¤#,##0", locale="id_ID", currency_digits=False
    )


def format_idr_plain(amount_idr: int) -> str:
    """``15000`` → ``"15000.00"``: the two-decimal string SNAP BI and QRIS settlement files use."""
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int):
        raise TypeError("format_idr_plain takes whole rupiah as int")
    return f"{amount_idr}.00"
