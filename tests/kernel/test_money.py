from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retribusi.money import MAX_AMOUNT_IDR, MoneyError, format_idr, format_idr_plain, parse_idr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15000", 15000),
        ("15000.00", 15000),
        ("15000.0", 15000),
        ("1", 1),
        ("+20", 20),
        (str(MAX_AMOUNT_IDR), MAX_AMOUNT_IDR),
        (15000, 15000),
    ],
)
def test_parse_accepts_whole_rupiah(text: str | int, expected: int) -> None:
    assert parse_idr(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10000.5", "fraction"),
        ("0.01", "fraction"),
        ("1e9", "format"),
        ("1E3", "format"),
        ("NaN", "format"),
        ("Infinity", "format"),
        ("1.500.000", "format"),
        ("1,500", "format"),
        (" 100", "format"),
        ("", "format"),
        ("0", "zero"),
        ("0.00", "zero"),
        ("-1", "negative"),
        (str(MAX_AMOUNT_IDR + 1), "range"),
        ("9" * 41, "format"),
    ],
)
def test_parse_refuses_what_is_not_whole_rupiah(text: str, reason: str) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_idr(text)
    assert caught.value.reason == reason


def test_parse_refuses_float_and_bool() -> None:
    with pytest.raises(MoneyError):
        parse_idr(1.0)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        parse_idr(True)


def test_parse_options_allow_zero_and_negative() -> None:
    assert parse_idr("0", allow_zero=True) == 0
    assert parse_idr("-2500.00", allow_negative=True) == -2500
    with pytest.raises(MoneyError):
        parse_idr("100", max_idr=99)


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (15000, "Rp15.000"),
        (157500, "Rp157.500"),
        (0, "Rp0"),
        (1_000_000, "Rp1.000.000"),
        (-2500, "-Rp2.500"),
    ],
)
def test_format_idr(amount: int, shown: str) -> None:
    assert format_idr(amount) == shown


@given(st.integers(min_value=1, max_value=MAX_AMOUNT_IDR))
def test_plain_format_round_trips(amount: int) -> None:
    assert parse_idr(format_idr_plain(amount)) == amount
    digits = format_idr(amount).removeprefix("Rp").replace(".", "")
    assert int(digits) == amount
