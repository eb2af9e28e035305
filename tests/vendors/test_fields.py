"""Field rules shared by the forms, the API and the import."""

from __future__ import annotations

import contextlib
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vendors import fields
from vendors.models import StallType
from vendors.problems import FieldError

TODAY = date(2026, 11, 23)


def _reason(parse: object, raw: object) -> str:
    with pytest.raises(FieldError) as caught:
        parse(raw)  # type: ignore[operator]
    return str(caught.value)


def test_area_accepts_decimals_with_a_point() -> None:
    assert fields.parse_area("2.25") == Decimal("2.25")
    assert fields.parse_area(" 5 ") == Decimal("5.00")
    assert fields.parse_area(Decimal("1000")) == Decimal("1000.00")
    assert fields.parse_area(4) == Decimal("4.00")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0", "area 0 m² is outside 0.01 to 1000 m²"),
        ("10000", "area 10000 m² is outside 0.01 to 1000 m²"),
        (Decimal("10000"), "area 10000 m² is outside 0.01 to 1000 m²"),
        ("-3", "area -3 m² is outside 0.01 to 1000 m²"),
        ("1,5", "1,5: write decimals with a point, e.g. 1.5"),
        ("2.125", "area 2.125 m² has more than 2 decimals"),
        ("lima", "lima is not a number of m²"),
        ("NaN", "NaN is not a number of m²"),
        ("Infinity", "Infinity is not a number of m²"),
        ("", "required"),
        (True, "expected text, found True"),
    ],
)
def test_bad_areas(raw: object, reason: str) -> None:
    assert _reason(fields.parse_area, raw) == reason


def test_stall_types_include_oprokan() -> None:
    assert fields.parse_stall_type("Kios") is StallType.KIOS
    assert fields.parse_stall_type("oprokan") is StallType.PELATARAN
    assert _reason(fields.parse_stall_type, "warung") == (
        "warung is not a stall type: kios, los, pelataran or oprokan"
    )


def test_phones_are_normalised_or_refused() -> None:
    assert fields.parse_phone("0812-3456-7890") == "6281234567890"
    assert fields.parse_phone(81234567890) == "6281234567890"  # an XLSX number lost its 0
    assert _reason(fields.parse_phone, "12345") == (
        "12345 is not an Indonesian phone number (e.g. 0812-3456-7890)"
    )
    assert _reason(fields.parse_phone, "") == "required"


def test_names_keep_any_script_and_refuse_control_characters() -> None:
    assert fields.parse_name("  Sri   Rahayu ") == "Sri Rahayu"
    assert fields.parse_name("ꦱꦿꦶ ꦫꦲꦪꦸ") == "ꦱꦿꦶ ꦫꦲꦪꦸ"  # Javanese script
    assert fields.parse_name("Nguyễn Thị") == "Nguyễn Thị"
    assert fields.parse_name("Cafe\u0301") == "Café"  # NFC
    assert _reason(fields.parse_name, "Sri\x00") == "the name contains a control character"
    assert _reason(fields.parse_name, "Sri\u202eRahayu") == "the name contains a control character"
    assert _reason(fields.parse_name, "x" * 201) == "a name has at most 200 characters"


def test_dates() -> None:
    assert fields.parse_date("2025-01-06", today=TODAY) == date(2025, 1, 6)
    assert fields.parse_date(datetime(2025, 1, 6), today=TODAY) == date(2025, 1, 6)  # noqa: DTZ001
    for raw, reason in [
        ("06/01/2025", "06/01/2025 is not a date like 2024-01-15"),
        ("2025-02-30", "2025-02-30 is not a date like 2024-01-15"),
        ("1989-12-31", "1989-12-31 is outside 1990-01-01 to 2027-11-23"),
        ("2030-01-01", "2030-01-01 is outside 1990-01-01 to 2027-11-23"),
    ]:
        with pytest.raises(FieldError) as caught:
            fields.parse_date(raw, today=TODAY)
        assert str(caught.value) == reason


def test_tntd_is_whole_rupiah() -> None:
    assert fields.parse_tntd("950000") == 950_000
    assert fields.parse_tntd(Decimal("950000")) == 950_000
    assert fields.parse_tntd("") is None
    for raw in ("950000.50", "1e6", "950.000", "-1", "0", "100000001"):
        assert "is not a whole rupiah amount" in _reason(fields.parse_tntd, raw)


@given(st.one_of(st.text(max_size=400), st.integers(), st.decimals(allow_nan=True)))
def test_untrusted_cells_raise_only_field_errors(raw: object) -> None:
    with contextlib.suppress(FieldError):
        tntd = fields.parse_tntd(raw)  # type: ignore[arg-type]
        assert tntd is None or 1 <= tntd <= fields.MAX_TNTD_IDR_PER_M2
    for parse in (
        fields.parse_area,
        fields.parse_phone,
        fields.parse_name,
        fields.parse_stall_number,
        fields.parse_block_code,
        fields.parse_market_code,
        fields.parse_shp_number,
        fields.parse_stall_type,
    ):
        with contextlib.suppress(FieldError):  # anything else escaping would fail the test
            assert parse(raw) is not None  # type: ignore[arg-type]
