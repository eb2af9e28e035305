"""Registry test data, made through the real services (or, for bulk files, written as users do)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from vendors.models import Placement, Stall, Vendor
from vendors.nik import Sex, make_nik
from vendors.placements import issue_placement
from vendors.services import Actor, VendorInput, create_stall, create_vendor, load_markets

ADMIN = Actor.system("test")
_seq = itertools.count(1)

HEADER = (
    "market_code",
    "block",
    "stall_number",
    "stall_type",
    "area_m2",
    "nik",
    "name",
    "phone",
    "shp_number",
    "shp_start",
    "tntd_idr_per_m2",
    "proxy_name",
    "proxy_phone",
)


def markets() -> None:
    load_markets(ADMIN)


def nik(n: int, *, sex: Sex = Sex.FEMALE, born: date = date(1970, 5, 17)) -> str:
    """A structurally valid Surakarta NIK; ``n`` picks the sequence number."""
    return make_nik("337201", born, sex, n)


def phone(n: int) -> str:
    return f"0813{n:08d}"


def stall(
    market: str = "KLEWER",
    block: str = "A",
    number: str | None = None,
    *,
    stall_type: str = "kios",
    area: str = "5",
    tntd: int | None = 950_000,
) -> Stall:
    return create_stall(
        market_code=market,
        block_code=block,
        number=number or f"{next(_seq):03d}",
        stall_type=stall_type,
        area_m2=Decimal(area),
        tntd_idr_per_m2=tntd,
        actor=ADMIN,
    )


def vendor(n: int | None = None, *, name: str | None = None, **kwargs: Any) -> Vendor:
    n = n or next(_seq)
    return create_vendor(
        VendorInput(
            nik=kwargs.pop("nik", nik(n)),
            full_name=name or f"Pedagang {n}",
            phone=kwargs.pop("phone", phone(n)),
            **kwargs,
        ),
        actor=ADMIN,
    )


def placement(
    holder: Vendor | None = None,
    on: Stall | None = None,
    *,
    start: date = date(2025, 1, 6),
    number: str | None = None,
) -> Placement:
    holder = holder or vendor()
    on = on or stall()
    return issue_placement(
        vendor_id=holder.id, stall_id=on.id, start_on=start, number=number, actor=ADMIN
    )


def row(n: int, **overrides: str) -> dict[str, str]:
    """One valid import row for a new Klewer kios, vendor and SHP."""
    values = {
        "market_code": "KLEWER",
        "block": "A",
        "stall_number": f"{n:03d}",
        "stall_type": "kios",
        "area_m2": "5",
        "nik": nik(n),
        "name": f"Pedagang {n}",
        "phone": phone(n),
        "shp_number": f"SHP/KLEWER/2025/{n:05d}",
        "shp_start": "2025-01-06",
        "tntd_idr_per_m2": "950000",
        "proxy_name": "",
        "proxy_phone": "",
    }
    values.update(overrides)
    return values


def csv_bytes(
    rows: Iterable[dict[str, str]],
    *,
    header: Sequence[str] = HEADER,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for values in rows:
        writer.writerow([values.get(h, "") for h in header])
    return out.getvalue().encode(encoding)


def xlsx_bytes(
    rows: Iterable[Sequence[Any]],
    *,
    header: Sequence[str] = HEADER,
    sheets: int = 1,
    formula_at: tuple[int, int] | None = None,
) -> bytes:
    """An XLSX written by xlsxwriter (as Excel would); values keep their Python types."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Pedagang")
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    for col, name in enumerate(header):
        sheet.write_string(0, col, name)
    for r, values in enumerate(rows, start=1):
        for col, value in enumerate(values):
            if isinstance(value, date):
                sheet.write_datetime(r, col, value, date_format)
            elif isinstance(value, str):
                sheet.write_string(r, col, value)
            elif value is not None:
                sheet.write_number(r, col, value)
    if formula_at is not None:
        sheet.write_formula(formula_at[0], formula_at[1], "=2+3")
    for extra in range(1, sheets):
        book.add_worksheet(f"Lain{extra}")
    book.close()
    return buffer.getvalue()


def xlsx_row(n: int, **overrides: Any) -> list[Any]:
    values: dict[str, Any] = {
        **row(n),
        "area_m2": 5,
        "shp_start": date(2025, 1, 6),
        "tntd_idr_per_m2": 950000,
    }
    values.update(overrides)
    return [values.get(h) for h in HEADER]
