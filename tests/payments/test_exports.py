"""Exports for auditors: payments (with allocations) and deposits (with their payments and
finance's check) of a bounded period as XLSX, within the reader's scope, text never a formula."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from payments.cash import CashIn, record_cash
from payments.deposits import DepositIn, Selection, create_deposit, verify_deposit
from payments.ledger import reverse_payment
from payments.models import Allocation, Payment
from retribusi import clock
from retribusi.auth.models import Role, User
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from tests.conftest import PASSWORDS, AuthActions
from tests.factories import make_user
from tests.levy import factories as f
from tests.payments.factories import pay

NOVEMBER = "from=2026-11-01&to=2026-11-30"
_keys = itertools.count(1)


def _at(day: int, hour: int = 3) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    """Klewer: a vendor whose name is a formula, paid at the counter and in cash (one reversed);
    Legi: a vendor paid at the counter; an October payment outside the period; a deposit of the
    Klewer officer's cash, checked by finance with a difference."""
    with app.app_context():
        f.illustrative_tariffs()
        klewer = f.holding("KLEWER", vendor_row=f.vendor('=HYPERLINK("http://x","y")'))
        legi = f.holding("LEGI")
        issue_bills("2026-10", actor="t", issued_on=date(2026, 10, 1))
        issue_bills("2026-11", actor="t", issued_on=date(2026, 11, 1))
        officer = make_user(Role.OFFICER, secret=PASSWORDS[Role.OFFICER], market_codes=("KLEWER",))
        finance = make_user(Role.FINANCE, secret=PASSWORDS[Role.FINANCE])
        october = pay(klewer.vendor.id, 11_000, paid_at=datetime(2026, 10, 20, 3, tzinfo=UTC))
        counter = pay(klewer.vendor.id, 100_000, paid_at=_at(5), ref="@SUM(A1)")
        reversed_ = pay(klewer.vendor.id, 25_000, paid_at=_at(6))
        reverse_payment(
            reversed_.payment_id, reference="BANK-REV-9", reason="returned by the bank", actor="t"
        )
        legi_pay = pay(legi.vendor.id, 40_000, paid_at=_at(7))
        cash = [
            record_cash(
                CashIn(
                    officer,
                    klewer.vendor.id,
                    "KLEWER",
                    amount,
                    f"export-key-{next(_keys):08d}",
                    raw={},
                    paid_at=_at(21, hour),
                )
            ).payment_id
            for amount, hour in ((30_000, 2), (20_000, 4))
        ]
        deposit = create_deposit(
            DepositIn(
                officer,
                "-SLIP-21",
                50_000,
                date(2026, 11, 22),
                selection=Selection.DAY,
                collected_on=date(2026, 11, 21),
            )
        ).deposit
        verify_deposit(deposit.id, received_idr=49_000, note="short by 1000", user=finance)
        return {
            "klewer_vendor": klewer.vendor.id,
            "legi_vendor": legi.vendor.id,
            "october": october.payment_id,
            "counter": counter.payment_id,
            "reversed": reversed_.payment_id,
            "legi": legi_pay.payment_id,
            "cash": cash,
            "deposit": deposit.id,
            "officer": (officer.login_name, officer.id),
        }


def _book(client: FlaskClient, path: str) -> Any:
    with client.get(path) as response:  # closing it closes the file the workbook was written to
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        assert response.mimetype.endswith("spreadsheetml.sheet")
        assert "attachment" in response.headers["Content-Disposition"]
        return load_workbook(io.BytesIO(response.get_data()))


def _table(sheet: Worksheet, first: str) -> tuple[list[str], list[tuple[Any, ...]], list[Any]]:
    """The header row (whose first cell is ``first``), the data rows and the totals lines."""
    rows = [tuple(r) for r in sheet.iter_rows(values_only=True)]
    start = next(i for i, r in enumerate(rows) if r[0] == first)
    body: list[tuple[Any, ...]] = []
    for row in rows[start + 1 :]:
        if row[0] is None:
            break
        body.append(row)
    totals = [r for r in rows[start + len(body) + 2 :] if r[0] is not None]
    return list(rows[start]), body, totals


def _cell_types(sheet: Worksheet) -> set[str]:
    return {c.data_type for row in sheet.iter_rows() for c in row if c.value is not None}


def _login_finance(auth: AuthActions) -> User:
    return auth.login_as(Role.FINANCE)


def test_payments_export_rows_totals_reversal_and_allocations(
    world: dict[str, Any], client: FlaskClient, auth: AuthActions, app: Flask
) -> None:
    _login_finance(auth)
    book = _book(client, f"/pembayaran.xlsx?{NOVEMBER}")
    sheet = book.worksheets[0]
    assert sheet.title == "Pembayaran"
    heading = [r[:2] for r in sheet.iter_rows(max_row=6, values_only=True)]
    assert ("Periode", "2026-11-01 – 2026-11-30") in heading
    assert ("Kanal", "(semua)") in heading
    assert any(r[0] == "Dibuat" and str(r[1]).endswith("WIB") for r in heading)
    header, rows, totals = _table(sheet, "ID pembayaran")
    by_id = {int(r[0]): dict(zip(header, r, strict=True)) for r in rows}
    expected = {world["counter"], world["reversed"], world["legi"], *world["cash"]}
    assert set(by_id) == expected  # October's payment is outside the period
    with app.app_context():
        payments = db.session.scalars(sa.select(Payment).where(Payment.id.in_(expected))).all()
        database_total = sum(p.amount_idr for p in payments)
        allocated = db.session.scalars(
            sa.select(Allocation).where(Allocation.payment_id.in_(expected))
        ).all()
    assert totals[0][0] == "Jumlah" and totals[0][10] == database_total == 215_000
    assert totals[1][0] == "Dibatalkan" and totals[1][10] == 25_000
    assert totals[2][10] == database_total - 25_000
    amount = header.index("Nominal (Rp)")
    assert all(isinstance(r[amount], int) for r in rows)
    assert sheet.cell(row=sheet.max_row, column=amount + 1).number_format == "#,##0"
    counter = by_id[world["counter"]]
    assert counter["Status"] == "berlaku" and counter["Pasar"] is None
    assert counter["Referensi"] == "@SUM(A1)" and counter["Kanal"] == "Loket Dinas"
    assert counter["Waktu bayar (WIB)"] == clock.to_wib(_at(5)).replace(tzinfo=None)
    reversed_row = by_id[world["reversed"]]
    assert reversed_row["Status"] == "dibatalkan"
    assert reversed_row["Referensi pembatalan"] == "BANK-REV-9"
    assert by_id[world["cash"][0]]["Pasar"] == "KLEWER"
    assert len(str(by_id[world["legi"]]["NIK"])) == 16
    # A name that looks like a formula is text, not a formula.
    assert counter["Pedagang"] == '=HYPERLINK("http://x","y")'
    assert "f" not in _cell_types(sheet)
    alloc_header, alloc_rows, alloc_totals = _table(book["Alokasi"], "ID pembayaran")
    assert len(alloc_rows) == len(allocated)
    assert alloc_totals[0][4] == sum(a.amount_idr for a in allocated)
    components = {r[alloc_header.index("Komponen")] for r in alloc_rows}
    assert components <= {"pokok", "sanksi"}
    # The reversal's negative twins are listed and marked.
    marked = [r for r in alloc_rows if r[alloc_header.index("Entri pembatalan")] == "ya"]
    assert marked and all(r[4] < 0 for r in marked)


def test_payments_export_honours_the_filters(
    world: dict[str, Any], client: FlaskClient, auth: AuthActions
) -> None:
    _login_finance(auth)

    def ids(query: str) -> set[int]:
        _, rows, _ = _table(
            _book(client, f"/pembayaran.xlsx?{NOVEMBER}&{query}").worksheets[0], "ID pembayaran"
        )
        return {int(r[0]) for r in rows}

    assert ids("channel=cash") == set(world["cash"])
    assert ids(f"vendor={world['legi_vendor']}") == {world["legi"]}
    assert ids("market=LEGI") == {world["legi"]}
    assert ids("market=KLEWER") == {world["counter"], world["reversed"], *world["cash"]}
    _, rows, _ = _table(
        _book(client, "/pembayaran.xlsx?from=2026-10-01&to=2026-10-31").worksheets[0],
        "ID pembayaran",
    )
    assert [int(r[0]) for r in rows] == [world["october"]]


def test_officer_exports_only_their_markets(
    world: dict[str, Any], client: FlaskClient, auth: AuthActions
) -> None:
    login, _ = world["officer"]
    assert auth.login(login, PASSWORDS[Role.OFFICER]).status_code == 302
    _, rows, _ = _table(
        _book(client, f"/pembayaran.xlsx?{NOVEMBER}").worksheets[0], "ID pembayaran"
    )
    assert world["legi"] not in {int(r[0]) for r in rows}
    assert {int(r[0]) for r in rows} == {world["counter"], world["reversed"], *world["cash"]}
    assert client.get(f"/pembayaran.xlsx?{NOVEMBER}&market=LEGI").status_code == 403
    _, deposits, _ = _table(_book(client, f"/setoran.xlsx?{NOVEMBER}").worksheets[0], "ID setoran")
    assert [int(r[0]) for r in deposits] == [world["deposit"]]


def test_an_other_officer_sees_no_one_elses_deposit(
    world: dict[str, Any], client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    _, deposits, totals = _table(
        _book(client, f"/setoran.xlsx?{NOVEMBER}").worksheets[0], "ID setoran"
    )
    assert deposits == [] and totals[0][5] == 0


def test_vendors_are_refused(world: dict[str, Any], client: FlaskClient, auth: AuthActions) -> None:
    auth.login_as(Role.VENDOR)
    for path in ("/pembayaran.xlsx", "/setoran.xlsx"):
        assert client.get(f"{path}?{NOVEMBER}").status_code == 403
    auth.logout()
    assert client.get(f"/pembayaran.xlsx?{NOVEMBER}").status_code in {302, 401}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Pilih hari pertama dan hari terakhir periode."),
        ("from=2026-11-01", "Pilih hari pertama dan hari terakhir periode."),
        ("from=2026-13-01&to=2026-12-01", "YYYY-MM-DD"),
        ("from=20261101&to=2026-11-30", "YYYY-MM-DD"),
        ("from=２０２６-11-01&to=2026-11-30", "YYYY-MM-DD"),
        ("from=2026-11-30&to=2026-11-01", "Periode berakhir sebelum dimulai."),
        ("from=2025-01-01&to=2026-11-30", "366 hari"),
        ("from=" + "9" * 300 + "&to=x", "YYYY-MM-DD"),
    ],
)
def test_bad_periods_are_refused_clearly(
    world: dict[str, Any], client: FlaskClient, auth: AuthActions, query: str, message: str
) -> None:
    _login_finance(auth)
    for path in ("/pembayaran.xlsx", "/setoran.xlsx"):
        response = client.get(f"{path}?{query}&channel=cash")
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert message in page
        assert 'name="channel" value="cash"' in page  # the other filters are kept


def test_a_year_is_allowed(world: dict[str, Any], client: FlaskClient, auth: AuthActions) -> None:
    _login_finance(auth)
    _book(client, "/pembayaran.xlsx?from=2024-01-01&to=2024-12-31")  # 366 days, a leap year


def test_deposits_export_with_the_check_and_payments(
    world: dict[str, Any], client: FlaskClient, auth: AuthActions
) -> None:
    _login_finance(auth)
    book = _book(client, f"/setoran.xlsx?{NOVEMBER}")
    header, rows, totals = _table(book.worksheets[0], "ID setoran")
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["Referensi slip"] == "-SLIP-21"  # starts with "-": still text
    assert row["Status"] == "selisih"
    assert row["Jumlah slip (Rp)"] == 50_000
    assert row["Diterima bank (Rp)"] == 49_000
    assert row["Selisih (Rp)"] == -1_000
    assert row["Catatan pemeriksaan"] == "short by 1000"
    assert totals[0][5] == 50_000 and totals[0][12] == -1_000
    assert "f" not in _cell_types(book.worksheets[0])
    items_header, items, items_totals = _table(book.worksheets[1], "ID setoran")
    assert {int(r[items_header.index("ID pembayaran")]) for r in items} == set(world["cash"])
    assert items_totals[0][8] == 50_000
    # Filters: the status, and the period of the slip's day.
    assert (
        _table(
            _book(client, f"/setoran.xlsx?{NOVEMBER}&status=verified").worksheets[0], "ID setoran"
        )[1]
        == []
    )
    assert (
        len(
            _table(
                _book(client, f"/setoran.xlsx?{NOVEMBER}&status=discrepancy").worksheets[0],
                "ID setoran",
            )[1]
        )
        == 1
    )
    october = _book(client, "/setoran.xlsx?from=2026-10-01&to=2026-10-31").worksheets[0]
    assert _table(october, "ID setoran")[1] == []


def test_links_carry_the_filters(
    world: dict[str, Any], client: FlaskClient, auth: AuthActions
) -> None:
    _login_finance(auth)
    desk = client.get("/keuangan").get_data(as_text=True)
    assert "Ekspor pembayaran (XLSX)" in desk and "Ekspor setoran (XLSX)" in desk
    assert "/pembayaran.xlsx?from=2026-11-01&amp;to=2026-11-23" in desk
    listing = client.get("/pembayaran?channel=cash&market=KLEWER&from=2026-11-02").get_data(
        as_text=True
    )
    assert "/pembayaran.xlsx?" in listing
    link = listing.split("/pembayaran.xlsx?", 1)[1].split('"', 1)[0]
    assert set(link.split("&amp;")) == {
        "channel=cash",
        "market=KLEWER",
        "from=2026-11-02",
        "to=2026-11-23",
    }
    deposits = client.get("/setoran?status=discrepancy").get_data(as_text=True)
    assert "/setoran.xlsx?" in deposits and "status=discrepancy" in deposits
