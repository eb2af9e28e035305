"""NIK structure: region, birth date (women +40), sequence."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vendors.nik import NikError, Sex, make_nik, parse_nik

TODAY = date(2026, 11, 23)


def test_a_womans_nik_adds_40_to_the_day() -> None:
    nik = parse_nik("3372 0547 0380 0001", today=TODAY)
    assert nik.value == "3372054703800001"
    assert nik.region_code == "337205"
    assert nik.birth_date == date(1980, 3, 7)
    assert nik.sex is Sex.FEMALE and nik.sequence == 1


def test_a_mans_nik() -> None:
    nik = parse_nik("3311011709650123", today=TODAY)
    assert (nik.birth_date, nik.sex, nik.sequence) == (date(1965, 9, 17), Sex.MALE, 123)


def test_recent_birth_years_are_this_century() -> None:
    assert parse_nik("3372010101200001", today=TODAY).birth_date == date(2020, 1, 1)
    # 29 February exists in 2000 but not in 1900.
    assert parse_nik("3372012902000001", today=TODAY).birth_date == date(2000, 2, 29)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("337201470380001", "NIK must be 16 digits, not 15"),
        ("33720147038000011", "NIK must be 16 digits, not 17"),
        ("3372O14703800001", "NIK must be 16 digits"),
        ("", "NIK must be 16 digits"),
        ("x" * 100, "NIK must be 16 digits"),
        ("٣٣٧٢٠١٤٧٠٣٨٠٠٠٠١", "NIK must be 16 digits"),  # Arabic-Indic digits are not a NIK
        ("0072014703800001", "NIK starts with 00, which is not a province code"),
        ("2072014703800001", "NIK starts with 20, which is not a province code"),
        ("3300014703800001", "NIK region 330001 has no regency or district"),
        ("3372004703800001", "NIK region 337200 has no regency or district"),
        ("3372013203800001", "NIK birth date 320380 is not a date (women add 40 to the day)"),
        ("3372017203800001", "NIK birth date 720380 is not a date (women add 40 to the day)"),
        ("3372010013800001", "NIK birth date 001380 is not a date (women add 40 to the day)"),
        ("3372013102800001", "NIK birth date 310280 is not a date (women add 40 to the day)"),
        ("3372012902010001", "NIK birth date 290201 is not a date (women add 40 to the day)"),
        ("3372014003800001", "NIK birth date 400380 is not a date (women add 40 to the day)"),
        ("3372014703800000", "NIK sequence number 0000 is never issued"),
    ],
)
def test_broken_niks_say_what_is_wrong(raw: str, reason: str) -> None:
    with pytest.raises(NikError) as caught:
        parse_nik(raw, today=TODAY)
    assert str(caught.value) == reason


def test_a_birth_date_in_the_future_is_refused() -> None:
    tomorrow = TODAY + timedelta(days=1)
    nik = make_nik("337201", tomorrow.replace(year=1926), Sex.MALE, 5)
    assert parse_nik(nik, today=TODAY).birth_date.year == 1926  # same day a century ago: fine
    with pytest.raises(NikError):
        parse_nik(f"33720199{TODAY.month:02d}{TODAY.year % 100:02d}0001", today=TODAY)


@given(
    born=st.dates(min_value=date(1927, 1, 1), max_value=TODAY),
    sex=st.sampled_from(list(Sex)),
    sequence=st.integers(min_value=1, max_value=9999),
    district=st.integers(min_value=1, max_value=99),
)
def test_every_composed_nik_parses_back(born: date, sex: Sex, sequence: int, district: int) -> None:
    nik = parse_nik(make_nik(f"3372{district:02d}", born, sex, sequence), today=TODAY)
    assert (nik.birth_date, nik.sex, nik.sequence) == (born, sex, sequence)


@given(st.text(max_size=60))
def test_any_text_gives_a_nik_or_a_nik_error(raw: str) -> None:
    with contextlib.suppress(NikError):  # anything else escaping would fail the test
        assert parse_nik(raw, today=TODAY).value.isdigit()
