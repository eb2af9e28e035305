"""Arrears by market, block and vendor, aged, principal and sanction apart; officers' scope."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook

from retribusi.auth.models import Role
from retribusi.errors import Forbidden, ValidationFailed
from retribusi.levy.arrears import arrears, arrears_xlsx
from retribusi.levy.billing import issue_bills
from tests.factories import make_user
from tests.levy import factories as f

TODAY = date(2026, 11, 23)


@pytest.fixture(autouse=True)
def context(app: Flask) -> Any:
    with app.app_context():
        yield


@pytest.fixture
def billed(app: Flask) -> dict[str, f.Holding]:
    """Klewer block A (two vendors) and B, Legi A; billed August to November 2025-2026."""
    f.illustrative_tariffs()
    holdings = {
        "klewer_a1": f.holding("KLEWER", block_code="A", start_on=date(2025, 1, 1)),
        "klewer_a2": f.holding("KLEWER", block_code="A", area_m2="10"),
        "klewer_b": f.holding("KLEWER", block_code="B"),
        "legi_a": f.holding("LEGI", block_code="A"),
    }
    issue_bills("2025-10", actor="t", issued_on=date(2025, 10, 1), market_code="KLEWER")
    for month in ("2026-08", "2026-09", "2026-10", "2026-11"):
        first = date(int(month[:4]), int(month[5:]), 1)
        issue_bills(month, actor="t", issued_on=first)
    return holdings


def test_markets_with_age_buckets_principal_and_sanction_apart(billed: Any) -> None:
    report = arrears(None, as_of=TODAY)
    assert report.level == "market"
    by_market = {row.key: row for row in report.rows}
    klewer = by_market["KLEWER"]
    # Klewer: 3 stalls x Aug-Nov (Nov is 13 days overdue) + one October 2025 bill.
    assert klewer.bills == 3 * 4 + 1
    assert klewer.buckets["0-30"].principal_idr == 157_500 * 2 + 315_000  # November
    assert klewer.buckets["31-90"].principal_idr == 2 * (157_500 * 2 + 315_000)  # Oct, Sep
    assert klewer.buckets["91-180"].principal_idr == 157_500 * 2 + 315_000  # August
    assert klewer.buckets[">365"].principal_idr == 157_500 + 0  # October 2025, 408 days
    assert klewer.buckets[">365"].sanction_idr == 157_500 * 13 // 100
    assert klewer.total.principal_idr == sum(b.principal_idr for b in klewer.buckets.values())
    assert report.total.total.total_idr == sum(r.total.total_idr for r in report.rows)


def test_drill_down_block_then_vendor_then_bills(billed: dict[str, f.Holding]) -> None:
    blocks = arrears(None, as_of=TODAY, market_code="KLEWER")
    assert [(r.key, r.bills) for r in blocks.rows] == [("A", 9), ("B", 4)]
    vendors = arrears(None, as_of=TODAY, market_code="KLEWER", block_code="A")
    assert {r.vendor_id for r in vendors.rows} == {
        billed["klewer_a1"].vendor.id,
        billed["klewer_a2"].vendor.id,
    }
    bills = arrears(
        None,
        as_of=TODAY,
        market_code="KLEWER",
        block_code="A",
        vendor_id=billed["klewer_a1"].vendor.id,
    )
    assert bills.level == "bill"
    assert bills.rows[0].bill_number == "SKRD/2025/10/KLEWER/000001"
    assert bills.rows[0].days_overdue == (TODAY - date(2025, 10, 10)).days


def test_officer_sees_only_their_markets(app: Flask, billed: Any) -> None:
    officer = make_user(Role.OFFICER, secret="officer-password-1", market_codes=("LEGI",))
    report = arrears(officer, as_of=TODAY)
    assert [r.key for r in report.rows] == ["LEGI"]
    with pytest.raises(Forbidden):
        arrears(officer, as_of=TODAY, market_code="KLEWER")
    with pytest.raises(Forbidden):
        arrears_xlsx(officer, as_of=TODAY, market_code="KLEWER")
    vendor_user = make_user(Role.VENDOR, secret="135790")
    with pytest.raises(Forbidden):
        arrears(vendor_user, as_of=TODAY)


def test_block_without_market_is_refused(billed: Any) -> None:
    with pytest.raises(ValidationFailed):
        arrears(None, as_of=TODAY, block_code="A")


def test_nothing_overdue_before_the_due_date(billed: Any) -> None:
    report = arrears(None, as_of=date(2026, 8, 10), market_code="LEGI")
    assert report.rows == []


def test_xlsx_export_lists_vendors_with_buckets(billed: Any) -> None:
    content = arrears_xlsx(None, as_of=TODAY, market_code="KLEWER")
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[3]]
    assert header[:5] == ["Pasar", "Blok", "ID pedagang", "Pedagang", "Jumlah tagihan"]
    assert "Pokok >365 hari" in header and "Sanksi 0-30 hari" in header
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    assert len(rows) == 3
    total_column = header.index("Total")
    assert (
        sum(int(r[total_column] or 0) for r in rows)
        == arrears(None, as_of=TODAY, market_code="KLEWER").total.total.total_idr
    )


def test_xlsx_export_writes_a_formula_like_name_as_text(app: Flask) -> None:
    f.illustrative_tariffs()
    named = '=HYPERLINK("http://evil.example","klik")'
    f.holding("KLEWER", vendor_row=f.vendor(named))
    issue_bills("2026-10", actor="t", issued_on=date(2026, 10, 1))
    content = arrears_xlsx(None, as_of=TODAY, market_code="KLEWER")
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows(min_row=4) for cell in row]
    assert named in [cell.value for cell in cells]
    assert all(cell.data_type != "f" for cell in cells)  # no formula anywhere
