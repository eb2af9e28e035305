"""Bulk import: every row checked, all or nothing, idempotent, bounded."""

from __future__ import annotations

import codecs
import io
import zipfile
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from retribusi.audit import AuditEvent
from retribusi.auth.models import Role
from retribusi.extensions import db
from tests.factories import make_user
from tests.vendors import factories as f
from vendors.importer import ImportRefused, import_vendors
from vendors.models import Block, Placement, PlacementEvent, Stall, StallStatus, Vendor
from vendors.services import Actor

TABLES = (Block, Stall, Vendor, Placement, PlacementEvent, AuditEvent)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        f.markets()
        yield app


def counts() -> dict[str, int]:
    return {
        m.__tablename__: int(db.session.scalar(sa.select(sa.func.count()).select_from(m)) or 0)
        for m in TABLES
    }


def refused(data: bytes, **kwargs: Any) -> list[dict[str, Any]]:
    """Import, expect a refusal, check nothing was written, return the problems."""
    before = counts()
    with pytest.raises(ImportRefused) as caught:
        import_vendors(data, actor=kwargs.pop("actor", f.ADMIN), **kwargs)
    assert counts() == before, "a refused file wrote something"
    errors: list[dict[str, Any]] = caught.value.details["errors"]
    assert errors and all({"row", "column", "reason"} <= set(e) for e in errors)
    return errors


def only(errors: list[dict[str, Any]]) -> tuple[int, str, str]:
    assert len(errors) == 1, errors
    return errors[0]["row"], errors[0]["column"], errors[0]["reason"]


def test_a_clean_file_creates_blocks_stalls_vendors_and_shps(ctx: Flask) -> None:
    rows = [f.row(1), f.row(2, block="B", stall_type="los", area_m2="2.25", tntd_idr_per_m2="")]
    # One vendor with two stalls: the rows agree on who she is.
    rows.append(f.row(3, nik=f.nik(1), name="Pedagang 1", phone=f.phone(1)))
    report = import_vendors(f.csv_bytes(rows), actor=f.ADMIN, filename="pasar.csv")
    assert report.created == {"blocks": 2, "stalls": 3, "vendors": 2, "placements": 3}
    assert report.rows == 3 and report.unchanged_rows == 0 and not report.dry_run
    stall = db.session.scalar(sa.select(Stall).where(Stall.number == "002"))
    assert stall is not None
    assert (stall.reference, stall.stall_type.value, str(stall.area_m2)) == (
        "KLEWER-B-002",
        "los",
        "2.25",
    )
    assert stall.tntd_idr_per_m2 is None and stall.status is StallStatus.ACTIVE
    shp = db.session.scalar(sa.select(Placement).where(Placement.number == "SHP/KLEWER/2025/00001"))
    assert shp is not None
    assert (shp.start_on, shp.expires_on, shp.status.value) == (
        date(2025, 1, 6),
        date(2028, 1, 6),
        "active",
    )
    assert [e.action for e in shp.events] == ["issued"]
    assert shp.events[0].details["import_row"] == 2
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "vendors.imported"))
    assert event is not None and event.details["sha256"] == report.sha256


def test_the_same_file_again_changes_nothing(ctx: Flask) -> None:
    data = f.csv_bytes([f.row(n) for n in range(1, 6)])
    import_vendors(data, actor=f.ADMIN)
    after_first = counts()
    again = import_vendors(data, actor=f.ADMIN)
    assert again.created == {"blocks": 0, "stalls": 0, "vendors": 0, "placements": 0}
    assert again.unchanged_rows == 5
    assert counts() == after_first  # not even an audit event


def test_a_file_extending_an_earlier_one_adds_only_the_new_rows(ctx: Flask) -> None:
    import_vendors(f.csv_bytes([f.row(1), f.row(2)]), actor=f.ADMIN)
    report = import_vendors(f.csv_bytes([f.row(1), f.row(2), f.row(3)]), actor=f.ADMIN)
    assert report.created == {"blocks": 0, "stalls": 1, "vendors": 1, "placements": 1}
    assert report.unchanged_rows == 2


def test_dry_run_checks_everything_and_writes_nothing(ctx: Flask) -> None:
    before = counts()
    report = import_vendors(f.csv_bytes([f.row(1), f.row(2)]), actor=f.ADMIN, dry_run=True)
    assert report.dry_run and report.created["placements"] == 2
    assert counts() == before


def test_utf8_with_bom_and_unicode_names(ctx: Flask) -> None:
    data = codecs.BOM_UTF8 + f.csv_bytes(
        [f.row(1, name="Ngatini Wiryo Sukarto"), f.row(2, name="ꦱꦿꦶ")]
    )
    assert import_vendors(data, actor=f.ADMIN).created["vendors"] == 2
    assert db.session.scalar(sa.select(Vendor.full_name).where(Vendor.nik == f.nik(2))) == "ꦱꦿꦶ"


def test_a_proxy_payer_and_an_occupant_are_recorded(ctx: Flask) -> None:
    header = (*f.HEADER, "occupant_name")
    rows = [f.row(1, proxy_name="Budi (anak)", proxy_phone="0857 1111 2222", occupant_name="Tini")]
    import_vendors(f.csv_bytes(rows, header=header), actor=f.ADMIN)
    vendor = db.session.scalar(sa.select(Vendor))
    assert vendor is not None
    assert (vendor.proxy_name, vendor.proxy_phone) == ("Budi (anak)", "6285711112222")
    assert db.session.scalar(sa.select(Placement.occupant_name)) == "Tini"


def test_the_import_links_an_existing_vendor_login(ctx: Flask) -> None:
    user = make_user(Role.VENDOR, secret="135790", phone=f.phone(1))
    import_vendors(f.csv_bytes([f.row(1)]), actor=f.ADMIN)
    assert db.session.scalar(sa.select(Vendor.user_id)) == user.id


def test_xlsx_with_typed_cells(ctx: Flask) -> None:
    rows = [f.xlsx_row(1), f.xlsx_row(2, area_m2=2.25, phone=81300000002, tntd_idr_per_m2=None)]
    report = import_vendors(f.xlsx_bytes(rows), actor=f.ADMIN, filename="pasar.xlsx")
    assert report.created["placements"] == 2
    assert db.session.scalar(sa.select(Vendor.phone).where(Vendor.nik == f.nik(2))) == (
        "6281300000002"
    )


def test_a_vacant_registered_stall_receives_the_shp(ctx: Flask) -> None:
    stall = f.stall("KLEWER", "A", "001")
    assert stall.status is StallStatus.VACANT
    report = import_vendors(f.csv_bytes([f.row(1)]), actor=f.ADMIN)
    assert report.created["stalls"] == 0 and report.activated_stalls == 1
    db.session.expire_all()
    assert db.session.get(Stall, stall.id).status is StallStatus.ACTIVE  # type: ignore[union-attr]


# --- bad files: a specific reason, nothing written --------------------------------------------


def test_every_bad_row_is_reported_with_row_column_and_reason(ctx: Flask) -> None:
    rows = [
        f.row(1),
        f.row(2, nik="3372014703800000"),
        f.row(3, phone="12345"),
        f.row(4, market_code="ATLANTIS"),
        f.row(5, area_m2="0"),
        f.row(6, area_m2="10000"),
        f.row(7, stall_type="warung", shp_start="06/01/2025"),
        f.row(8, stall_number="001"),  # row 2's stall again
        f.row(9, nik=f.nik(1), phone=f.phone(1), name="Someone Else"),  # row 2 NIK, other name
        f.row(10, phone=f.phone(1)),  # row 2's phone for another NIK
        f.row(11, shp_number="SHP/KLEWER/2025/00001"),
        f.row(12, tntd_idr_per_m2="950.000"),
    ]
    errors = refused(f.csv_bytes(rows))
    found = {(e["row"], e["column"]): e["reason"] for e in errors}
    assert found == {
        (3, "nik"): "NIK sequence number 0000 is never issued",
        (4, "phone"): "12345 is not an Indonesian phone number (e.g. 0812-3456-7890)",
        (5, "market_code"): "unknown market ATLANTIS",
        (6, "area_m2"): "area 0 m² is outside 0.01 to 1000 m²",
        (7, "area_m2"): "area 10000 m² is outside 0.01 to 1000 m²",
        (8, "stall_type"): "warung is not a stall type: kios, los, pelataran or oprokan",
        (8, "shp_start"): "06/01/2025 is not a date like 2024-01-15",
        (9, "stall_number"): "stall KLEWER-A-001 is also on row 2",
        (10, "name"): f"NIK {f.nik(1)} is also on row 2 with a different name",
        (11, "phone"): "phone 6281300000001 is also on row 2 for another NIK",
        (12, "shp_number"): "SHP number SHP/KLEWER/2025/00001 is also on row 2",
        (13, "tntd_idr_per_m2"): (
            "950.000 is not a whole rupiah amount from 1 to 100000000 (digits only)"
        ),
    }
    assert [e["row"] for e in errors] == sorted(e["row"] for e in errors)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            tuple(h for h in f.HEADER if h != "nik"),
            [(1, "nik", "missing column")],
        ),
        (
            (*f.HEADER, "catatan"),
            [(1, "catatan", "unknown column catatan")],
        ),
        (
            (*f.HEADER, "phone"),
            [(1, "phone", "the column appears twice")],
        ),
        (
            tuple("NIK_PEDAGANG" if h == "nik" else h for h in f.HEADER),
            [(1, "NIK_PEDAGANG", "unknown column NIK_PEDAGANG"), (1, "nik", "missing column")],
        ),
    ],
)
def test_wrong_header(ctx: Flask, header: tuple[str, ...], expected: list[Any]) -> None:
    errors = refused(f.csv_bytes([f.row(1)], header=header))
    assert sorted((e["row"], e["column"], e["reason"]) for e in errors) == sorted(expected)


@pytest.mark.parametrize(("delimiter", "shown"), [(";", ";"), ("\t", "TAB"), ("|", "|")])
def test_wrong_delimiter(ctx: Flask, delimiter: str, shown: str) -> None:
    errors = refused(f.csv_bytes([f.row(1)], delimiter=delimiter))
    assert only(errors) == (1, "file", f"columns are separated by {shown}: use commas (,)")


def test_windows_1252_is_refused_with_the_line(ctx: Flask) -> None:
    data = f.csv_bytes([f.row(1), f.row(2, name="Pedagang Café")], encoding="cp1252")
    assert only(refused(data)) == (
        3,
        "file",
        "byte 0xE9 on line 3 is not UTF-8 (the file looks like Windows-1252): save it as CSV UTF-8",
    )


def test_utf16_and_binary_files_are_refused(ctx: Flask) -> None:
    utf16 = codecs.BOM_UTF16_LE + "market_code".encode("utf-16-le")
    assert only(refused(utf16))[2] == "the file is UTF-16: save it as CSV UTF-8"
    assert only(refused(b"market_code\x00"))[2] == "the file is not text (it contains NUL bytes)"
    assert only(refused(b"\xd0\xcf\x11\xe0rest"))[2] == (
        "this is an old Excel .xls file: save it as .xlsx or CSV UTF-8"
    )


def test_empty_and_header_only_files(ctx: Flask) -> None:
    assert only(refused(b""))[2] == "the file is empty"
    assert only(refused(f.csv_bytes([])))[2] == "the file has no rows to import"


def test_rows_with_the_wrong_number_of_values(ctx: Flask) -> None:
    data = f.csv_bytes([f.row(1)]) + b"KLEWER,A,002\r\n"
    errors = refused(data)
    assert (3, "file", "expected 13 values, found 3") in [
        (e["row"], e["column"], e["reason"]) for e in errors
    ]


def test_a_broken_quote_is_a_csv_error(ctx: Flask) -> None:
    data = f.csv_bytes([f.row(1)]) + b'KLEWER,"A\r\n'
    _row, column, reason = only(refused(data))
    assert column == "file" and reason.startswith("line ") and "cannot be read as CSV" in reason


def test_size_and_row_limits(app: Flask, ctx: Flask) -> None:
    app.config["VENDORS_IMPORT_MAX_ROWS"] = 3
    errors = refused(f.csv_bytes([f.row(n) for n in range(1, 5)]))
    assert only(errors) == (0, "file", "the file has more than 3 rows: split it")
    app.config["VENDORS_IMPORT_MAX_BYTES"] = 400
    data = f.csv_bytes([f.row(1), f.row(2), f.row(3)])
    assert len(data) > 400
    assert only(refused(data)) == (
        0,
        "file",
        f"the file is {len(data)} bytes; the limit is 400 bytes",
    )


def test_xlsx_with_a_formula_is_refused(ctx: Flask) -> None:
    data = f.xlsx_bytes([f.xlsx_row(1), f.xlsx_row(2)], formula_at=(2, 4))
    assert only(refused(data)) == (3, "area_m2", "a formula: type the value itself")


def test_xlsx_with_several_sheets_is_refused(ctx: Flask) -> None:
    data = f.xlsx_bytes([f.xlsx_row(1)], sheets=3)
    assert only(refused(data))[2] == (
        "the workbook has 3 sheets (Pedagang, Lain1, Lain2): keep only the one to import"
    )


def test_xlsx_with_a_numeric_nik_is_refused(ctx: Flask) -> None:
    data = f.xlsx_bytes([f.xlsx_row(1, nik=3372015705700001)])
    assert only(refused(data)) == (
        2,
        "nik",
        "a NIK typed as a number loses digits: format the column as text",
    )


def test_a_broken_or_bomb_xlsx_is_refused(ctx: Flask) -> None:
    assert only(refused(b"PK\x03\x04 not really a zip"))[2] == (
        "the file is not a readable XLSX workbook"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/huge.xml", b"\0" * (101 * 1024 * 1024))
    reason = only(refused(buffer.getvalue()))[2]
    assert reason.startswith("the workbook unpacks to") and reason.endswith(
        "the limit is 104857600 bytes"
    )


# --- the file against the registry ------------------------------------------------------------


def test_a_stall_taken_under_another_shp(ctx: Flask) -> None:
    taken = f.stall("KLEWER", "A", "001")
    f.placement(on=taken, number="SHP-LAMA-1")
    errors = refused(f.csv_bytes([f.row(1)]))
    assert only(errors) == (
        2,
        "stall_number",
        "stall KLEWER-A-001 already has SHP SHP-LAMA-1 in force",
    )


def test_a_registered_nik_with_other_details(ctx: Flask) -> None:
    f.vendor(1, name="Sri Rahayu")
    errors = refused(f.csv_bytes([f.row(1)]))
    assert only(errors) == (2, "name", f"NIK {f.nik(1)} is registered as Sri Rahayu")


def test_a_phone_that_belongs_to_another_vendor(ctx: Flask) -> None:
    f.vendor(50, phone=f.phone(1))
    assert only(refused(f.csv_bytes([f.row(1)]))) == (
        2,
        "phone",
        "phone 6281300000001 is registered to another vendor",
    )


def test_an_existing_stall_with_another_area_or_type(ctx: Flask) -> None:
    f.stall("KLEWER", "A", "001", stall_type="los", area="4")
    errors = refused(f.csv_bytes([f.row(1)]))
    assert sorted((e["column"], e["reason"]) for e in errors) == [
        ("area_m2", "stall KLEWER-A-001 is registered with 4.00 m²"),
        ("stall_type", "stall KLEWER-A-001 is registered as los"),
    ]


def test_an_shp_number_used_for_another_stall(ctx: Flask) -> None:
    f.placement(number="SHP/KLEWER/2025/00001")
    assert only(refused(f.csv_bytes([f.row(1)])))[:2] == (2, "shp_number")


def test_a_closed_stall_takes_no_shp(ctx: Flask) -> None:
    from vendors.services import update_stall

    closed = f.stall("KLEWER", "A", "001")
    update_stall(
        closed.id,
        stall_type="kios",
        area_m2="5",
        tntd_idr_per_m2=950000,
        status="closed",
        reason="roof collapsed",
        actor=f.ADMIN,
    )
    assert only(refused(f.csv_bytes([f.row(1)])))[2] == (
        "stall KLEWER-A-001 is closed: no SHP can be issued on it"
    )


def test_an_officer_imports_only_into_their_markets(ctx: Flask) -> None:
    officer = make_user(Role.OFFICER, secret="officer-password-1", market_codes=("LEGI",))
    rows = [f.row(1, market_code="LEGI"), f.row(2, market_code="KLEWER")]
    errors = refused(f.csv_bytes(rows), actor=Actor.of(officer))
    assert only(errors) == (3, "market_code", "market KLEWER is not one of yours")
    report = import_vendors(f.csv_bytes(rows[:1]), actor=Actor.of(officer))
    assert report.created["placements"] == 1
