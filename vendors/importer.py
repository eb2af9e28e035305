"""Bulk import of stalls, vendors and SHPs from CSV or XLSX (format: ``docs/import-vendors.md``).

Every row is checked first: its values, the file against itself (a stall or SHP number twice, one
NIK with two names) and the file against the registry (unknown market, a stall already held under
another SHP, a phone that is another vendor's login). A file with any problem writes nothing and
reports each one with its row, column and reason. A clean file is written in one transaction with
bulk inserts. Rows already in the registry exactly as the file says are left alone, so importing
the same file again changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from retribusi import clock
from retribusi.audit import record_event
from retribusi.auth.models import Role, User
from retribusi.db import transaction
from retribusi.extensions import db
from vendors import fields
from vendors.bulk import chunks, ids_by_key, insert_rows
from vendors.fields import Cell
from vendors.models import (
    Block,
    Market,
    Placement,
    PlacementEvent,
    PlacementStatus,
    Stall,
    StallStatus,
    StallType,
    Vendor,
)
from vendors.nik import NikError, parse_nik
from vendors.placements import shp_expiry
from vendors.problems import N_, FieldError, Problem, VendorConflict, VendorInvalid
from vendors.services import Actor, today

REQUIRED_COLUMNS = (
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
)
OPTIONAL_COLUMNS = ("tntd_idr_per_m2", "proxy_name", "proxy_phone", "occupant_name")
ALL_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

DEFAULT_MAX_BYTES = 8 * 1024 * 1024  # a 20 000-row CSV is about 2.5 MB
DEFAULT_MAX_ROWS = 20_000
# An XLSX is a zip: bound what it unpacks to, not only its size (a zip bomb is small).
XLSX_MAX_UNPACKED_BYTES = 100 * 1024 * 1024
XLSX_MAX_MEMBERS = 200
MAX_COLUMNS = 40
FILE = "file"
ANALYZE_AFTER_ROWS = 1000

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_OTHER_DELIMITERS = (";", "\t", "|")


class ImportRefused(VendorInvalid):
    """The file was refused; ``problems`` names every bad row (row 0 is the file as a whole,
    row 1 the header, data from row 2, as a spreadsheet numbers them)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        ordered = sorted(problems, key=lambda p: (p.row or 0, _column_order(p.column)))
        rows = len({p.row for p in ordered})
        super().__init__(
            ordered,
            message=f"the file was refused: {len(ordered)} problem(s) in {rows} row(s); "
            "nothing was written",
        )


def _column_order(column: str) -> int:
    return ALL_COLUMNS.index(column) if column in ALL_COLUMNS else -1


def file_problem(message: str, row: int = 0, **params: Any) -> ImportRefused:
    return ImportRefused([Problem(FILE, message, params, row)])


@dataclass(frozen=True)
class ImportReport:
    dry_run: bool
    rows: int
    sha256: str
    created: dict[str, int]
    unchanged_rows: int
    activated_stalls: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "sha256": self.sha256,
            "created": self.created,
            "unchanged_rows": self.unchanged_rows,
            "activated_stalls": self.activated_stalls,
        }


# --- reading the file -------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[tuple[int, list[Cell]]]  # (spreadsheet row number, cells)
    # A CSV row must have exactly as many values as the header; an XLSX row is as wide as the
    # sheet's used range, so only values beyond the header's columns are wrong there.
    exact_width: bool


def limits() -> tuple[int, int]:
    config = current_app.config
    return (
        int(config.get("VENDORS_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)),
        int(config.get("VENDORS_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS)),
    )


def read_table(data: bytes, *, max_bytes: int, max_rows: int) -> Table:
    """CSV (UTF-8, comma-separated) or XLSX (one sheet, no formulas), told apart by content."""
    if len(data) > max_bytes:
        raise file_problem(
            N_("the file is %(size)s bytes; the limit is %(max)s bytes"),
            size=len(data),
            max=max_bytes,
        )
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, max_rows)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise file_problem(N_("this is an old Excel .xls file: save it as .xlsx or CSV UTF-8"))
    return _read_csv(data, max_rows)


def _decode(data: bytes) -> str:
    if data.startswith(_UTF16_BOMS):
        raise file_problem(N_("the file is UTF-16: save it as CSV UTF-8"))
    if data.startswith(_UTF8_BOM):  # Excel's "CSV UTF-8" starts with one; it is not data
        data = data[len(_UTF8_BOM) :]
    if b"\x00" in data:
        raise file_problem(N_("the file is not text (it contains NUL bytes)"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise file_problem(
            N_(
                "byte 0x%(byte)s on line %(line)s is not UTF-8 (the file looks like "
                "Windows-1252): save it as CSV UTF-8"
            ),
            row=line,
            byte=f"{data[error.start]:02X}",
            line=line,
        ) from None


def _read_csv(data: bytes, max_rows: int) -> Table:
    text = _decode(data)
    if not text.strip():
        raise file_problem(N_("the file is empty"))
    first_line = text.splitlines()[0]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        if len(header) == 1:
            for delimiter in _OTHER_DELIMITERS:
                if delimiter in first_line:
                    shown = "TAB" if delimiter == "\t" else delimiter
                    raise file_problem(
                        N_("columns are separated by %(delimiter)s: use commas (,)"),
                        row=1,
                        delimiter=shown,
                    )
        if len(header) > MAX_COLUMNS:
            raise file_problem(N_("the header has more than %(max)s columns"), 1, max=MAX_COLUMNS)
        rows: list[tuple[int, list[Cell]]] = []
        number = 1
        for record in reader:
            number += 1
            if not any(value.strip() for value in record):
                continue
            if len(rows) >= max_rows:
                raise _too_many_rows(max_rows)
            rows.append((number, list(record)))
    except csv.Error as error:
        raise file_problem(
            N_("line %(line)s cannot be read as CSV: %(error)s"),
            row=reader.line_num,
            line=reader.line_num,
            error=str(error)[:100],
        ) from None
    return Table([h.strip() for h in header], rows, exact_width=True)


def _too_many_rows(max_rows: int) -> ImportRefused:
    return file_problem(N_("the file has more than %(max)s rows: split it"), max=max_rows)


def _read_xlsx(data: bytes, max_rows: int) -> Table:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise file_problem(N_("the file is not a readable XLSX workbook")) from None
    unpacked = sum(m.file_size for m in members)
    if len(members) > XLSX_MAX_MEMBERS or unpacked > XLSX_MAX_UNPACKED_BYTES:
        raise file_problem(
            N_("the workbook unpacks to %(size)s bytes; the limit is %(max)s bytes"),
            size=unpacked,
            max=XLSX_MAX_UNPACKED_BYTES,
        )
    import openpyxl

    try:
        # Read-only streams the sheet; formulas are kept as formulas so they can be refused.
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many types on a broken file; all mean the same here
        raise file_problem(N_("the file is not a readable XLSX workbook")) from None
    try:
        return _read_sheet(workbook, max_rows)
    except ImportRefused:
        raise
    except Exception:  # a malformed sheet discovered while streaming it
        raise file_problem(N_("the file is not a readable XLSX workbook")) from None
    finally:
        workbook.close()


def _read_sheet(workbook: Any, max_rows: int) -> Table:
    names = list(workbook.sheetnames)
    if len(names) != 1:
        raise file_problem(
            N_("the workbook has %(count)s sheets (%(names)s): keep only the one to import"),
            count=len(names),
            names=", ".join(str(n)[:31] for n in names[:10]),
        )
    sheet = workbook.worksheets[0]
    header: list[str] = []
    rows: list[tuple[int, list[Cell]]] = []
    formulas: list[Problem] = []
    for number, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1):
        values: list[Cell] = []
        for index, cell in enumerate(cells):
            if getattr(cell, "data_type", None) == "f":
                column = header[index] if index < len(header) else FILE
                formulas.append(Problem(column, N_("a formula: type the value itself"), {}, number))
                values.append(None)
                continue
            values.append(_xlsx_value(cell.value))
        if number == 1:
            header = ["" if v is None else str(v).strip() for v in values]
            while header and not header[-1]:
                header.pop()
            continue
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        if len(rows) >= max_rows:
            raise _too_many_rows(max_rows)
        rows.append((number, values))
    if formulas:
        raise ImportRefused(formulas)
    if not header:
        raise file_problem(N_("the file is empty"))
    return Table(header, rows, exact_width=False)


def _xlsx_value(value: object) -> Cell:
    """An XLSX cell as the parsers expect it; floats become exact decimals at once."""
    if value is None or isinstance(value, str | int | Decimal | date):
        return value  # bool is an int: the parsers refuse it by name
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, time):
        return str(value)
    return str(value)[:100]


# --- checking rows ----------------------------------------------------------------------------


@dataclass
class Row:
    number: int
    market_code: str
    block: str
    stall_number: str
    stall_type: StallType
    area_m2: Decimal
    nik: str
    name: str
    phone: str
    shp_number: str
    shp_start: date
    tntd_idr_per_m2: int | None
    proxy_name: str | None
    proxy_phone: str | None
    occupant_name: str | None

    @property
    def stall_key(self) -> tuple[str, str, str]:
        return (self.market_code, self.block, self.stall_number)

    @property
    def reference(self) -> str:
        return "-".join(self.stall_key)


def _check_header(header: list[str]) -> dict[str, int]:
    problems = []
    positions: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = raw.strip().lower()
        if name in positions:
            problems.append(Problem(name, N_("the column appears twice"), {}, 1))
        elif name not in ALL_COLUMNS:
            problems.append(
                Problem(raw[:40] or FILE, N_("unknown column %(name)s"), {"name": raw[:40]}, 1)
            )
        else:
            positions[name] = index
    for name in REQUIRED_COLUMNS:
        if name not in positions:
            problems.append(Problem(name, N_("missing column"), {}, 1))
    if problems:
        raise ImportRefused(problems)
    return positions


def _nik(raw: Cell, day: date) -> str:
    if isinstance(raw, int | Decimal):
        raise FieldError(N_("a NIK typed as a number loses digits: format the column as text"))
    try:
        return parse_nik(fields.required(raw), today=day).value
    except NikError as error:
        raise FieldError(error.message, **error.params) from None


def _width_problem(number: int, cells: Sequence[Cell], width: int, exact: bool) -> Problem | None:
    extra = any(v is not None and str(v).strip() for v in cells[width:])
    if (exact and len(cells) != width) or extra:
        return Problem(
            FILE,
            N_("expected %(expected)s values, found %(found)s"),
            {"expected": width, "found": len(cells)},
            number,
        )
    return None


def _parse_row(
    number: int, cells: Sequence[Cell], positions: dict[str, int], *, exact: bool, day: date
) -> Row | list[Problem]:
    """A :class:`Row`, or every problem with its values."""

    def cell(name: str) -> Cell:
        index = positions.get(name)
        return cells[index] if index is not None and index < len(cells) else None

    parsers: dict[str, Callable[[Cell], Any]] = {
        "market_code": fields.parse_market_code,
        "block": fields.parse_block_code,
        "stall_number": fields.parse_stall_number,
        "stall_type": fields.parse_stall_type,
        "area_m2": fields.parse_area,
        "nik": lambda raw: _nik(raw, day),
        "name": fields.parse_name,
        "phone": fields.parse_phone,
        "shp_number": fields.parse_shp_number,
        "shp_start": lambda raw: fields.parse_date(raw, today=day),
        "tntd_idr_per_m2": fields.parse_tntd,
        "proxy_name": fields.parse_optional_name,
        "proxy_phone": fields.parse_optional_phone,
        "occupant_name": fields.parse_optional_name,
    }
    problems: list[Problem] = []
    width = _width_problem(number, cells, len(positions), exact)
    if width is not None:
        problems.append(width)
    values: dict[str, Any] = {}
    for name, parse in parsers.items():
        try:
            values[name] = parse(cell(name))
        except FieldError as error:
            problems.append(Problem.of(name, error, number))
    if values.get("proxy_phone") and not values.get("proxy_name"):
        problems.append(
            Problem("proxy_name", N_("give the name of the person who pays"), {}, number)
        )
    if problems:
        return problems
    return Row(number=number, **values)


def _same_person(a: Row, b: Row) -> list[tuple[str, str]]:
    differences = []
    for column in ("name", "phone", "proxy_name", "proxy_phone"):
        if getattr(a, column) != getattr(b, column):
            differences.append((column, str(getattr(a, column))))
    return differences


def _check_within_file(rows: list[Row]) -> list[Problem]:
    problems: list[Problem] = []
    stalls: dict[tuple[str, str, str], Row] = {}
    numbers: dict[str, Row] = {}
    people: dict[str, Row] = {}
    phones: dict[str, Row] = {}
    for row in rows:
        first = stalls.setdefault(row.stall_key, row)
        if first is not row:
            problems.append(
                Problem(
                    "stall_number",
                    N_("stall %(reference)s is also on row %(other)s"),
                    {"reference": row.reference, "other": first.number},
                    row.number,
                )
            )
        first = numbers.setdefault(row.shp_number, row)
        if first is not row:
            problems.append(
                Problem(
                    "shp_number",
                    N_("SHP number %(value)s is also on row %(other)s"),
                    {"value": row.shp_number, "other": first.number},
                    row.number,
                )
            )
        # One vendor may hold several stalls; the rows must then agree on who they are.
        first = people.setdefault(row.nik, row)
        if first is not row:
            for column, _ in _same_person(first, row):
                problems.append(
                    Problem(
                        column,
                        N_("NIK %(nik)s is also on row %(other)s with a different %(column)s"),
                        {"nik": row.nik, "other": first.number, "column": column},
                        row.number,
                    )
                )
        first = phones.setdefault(row.phone, row)
        if first is not row and first.nik != row.nik:
            problems.append(
                Problem(
                    "phone",
                    N_("phone %(value)s is also on row %(other)s for another NIK"),
                    {"value": row.phone, "other": first.number},
                    row.number,
                )
            )
    return problems


@dataclass
class Registry:
    """What the database already holds about the stalls, vendors and SHPs in the file."""

    markets: dict[str, int]
    blocks: dict[tuple[int, str], int]
    stalls: dict[tuple[int, str], Any]  # (block id, number) -> row of Stall columns
    vendors: dict[str, Any]  # nik -> row of Vendor columns
    phones: dict[str, str]  # phone -> nik
    placements: dict[str, Any]  # number -> row
    active_by_stall: dict[int, str]  # stall id -> SHP number in force


def _load_registry(rows: list[Row]) -> Registry:
    session = db.session
    markets = {code: id_ for id_, code in session.execute(select(Market.id, Market.code))}
    market_ids = {markets[r.market_code] for r in rows if r.market_code in markets}
    blocks: dict[tuple[int, str], int] = {}
    for batch in chunks(sorted(market_ids)):
        for id_, market_id, code in session.execute(
            select(Block.id, Block.market_id, Block.code).where(Block.market_id.in_(batch))
        ):
            blocks[(market_id, code)] = id_
    stalls: dict[tuple[int, str], Any] = {}
    for batch in chunks(sorted(blocks.values())):
        for stall in session.execute(
            select(
                Stall.id,
                Stall.block_id,
                Stall.number,
                Stall.stall_type,
                Stall.area_m2,
                Stall.tntd_idr_per_m2,
                Stall.status,
            ).where(Stall.block_id.in_(batch))
        ):
            stalls[(stall.block_id, stall.number)] = stall
    vendor_columns = (
        Vendor.id,
        Vendor.nik,
        Vendor.full_name,
        Vendor.phone,
        Vendor.proxy_name,
        Vendor.proxy_phone,
    )
    vendors: dict[str, Any] = {}
    phones: dict[str, str] = {}
    for niks in chunks(sorted({r.nik for r in rows})):
        for vendor in session.execute(select(*vendor_columns).where(Vendor.nik.in_(niks))):
            vendors[vendor.nik] = vendor
    for numbers in chunks(sorted({r.phone for r in rows})):
        for nik, phone in session.execute(
            select(Vendor.nik, Vendor.phone).where(Vendor.phone.in_(numbers))
        ):
            phones[phone] = nik
    placements: dict[str, Any] = {}
    for shp_numbers in chunks(sorted({r.shp_number for r in rows})):
        for placement in session.execute(
            select(
                Placement.number,
                Placement.stall_id,
                Placement.start_on,
                Placement.status,
                Vendor.nik,
            )
            .join(Vendor, Placement.vendor_id == Vendor.id)
            .where(Placement.number.in_(shp_numbers))
        ):
            placements[placement.number] = placement
    active_by_stall: dict[int, str] = {}
    for batch in chunks(sorted(s.id for s in stalls.values())):
        for stall_id, number in session.execute(
            select(Placement.stall_id, Placement.number).where(
                Placement.stall_id.in_(batch), Placement.status == PlacementStatus.ACTIVE
            )
        ):
            active_by_stall[stall_id] = number
    return Registry(markets, blocks, stalls, vendors, phones, placements, active_by_stall)


@dataclass
class Plan:
    """What a clean file will write."""

    new_blocks: set[tuple[int, str]] = field(default_factory=set)
    new_stalls: dict[tuple[int, str, str], Row] = field(default_factory=dict)
    new_vendors: dict[str, Row] = field(default_factory=dict)
    new_placements: list[Row] = field(default_factory=list)
    activate_stalls: set[int] = field(default_factory=set)
    unchanged_rows: int = 0


@dataclass(frozen=True)
class Found:
    """What the registry holds for a clean row (``None`` where the row brings something new)."""

    market_id: int
    block_id: int | None
    stall: Any
    vendor: Any
    placement: Any


Refuse = Callable[..., None]


def _check_against_registry(
    rows: list[Row], registry: Registry, actor: Actor
) -> tuple[Plan, list[Problem]]:
    plan = Plan()
    problems: list[Problem] = []
    for row in rows:
        found = _check_row(row, registry, actor, problems)
        if found is not None:
            _add_to_plan(plan, row, found)
    return plan, problems


def _check_row(row: Row, registry: Registry, actor: Actor, problems: list[Problem]) -> Found | None:
    before = len(problems)

    def refuse(row: Row, column: str, message: str, **params: Any) -> None:
        problems.append(Problem(column, message, params, row.number))

    market_id = registry.markets.get(row.market_code)
    if market_id is None:
        refuse(row, "market_code", N_("unknown market %(value)s"), value=row.market_code)
        return None
    if not actor.may_see_market(row.market_code):
        refuse(
            row, "market_code", N_("market %(value)s is not one of yours"), value=row.market_code
        )
        return None
    block_id = registry.blocks.get((market_id, row.block))
    stall = registry.stalls.get((block_id, row.stall_number)) if block_id else None
    if stall is not None:
        _compare_stall(row, stall, refuse)
    vendor = registry.vendors.get(row.nik)
    if vendor is not None:
        _compare_vendor(row, vendor, refuse)
    elif registry.phones.get(row.phone, row.nik) != row.nik:
        refuse(row, "phone", N_("phone %(value)s is registered to another vendor"), value=row.phone)
    placement = registry.placements.get(row.shp_number)
    _check_placement(row, stall, placement, registry, refuse)
    if len(problems) > before:
        return None
    return Found(market_id, block_id, stall, vendor, placement)


def _check_placement(
    row: Row, stall: Any, placement: Any, registry: Registry, refuse: Refuse
) -> None:
    if placement is not None:
        same = (
            stall is not None
            and placement.stall_id == stall.id
            and placement.nik == row.nik
            and placement.start_on == row.shp_start
        )
        if not same:
            refuse(
                row,
                "shp_number",
                N_(
                    "SHP number %(value)s is already registered for another stall, holder "
                    "or start date"
                ),
                value=row.shp_number,
            )
        return
    if stall is None:
        return
    holder_number = registry.active_by_stall.get(stall.id)
    if holder_number is not None:
        refuse(
            row,
            "stall_number",
            N_("stall %(reference)s already has SHP %(number)s in force"),
            reference=row.reference,
            number=holder_number,
        )
    elif stall.status in {StallStatus.DAMAGED, StallStatus.CLOSED}:
        refuse(
            row,
            "stall_number",
            N_("stall %(reference)s is %(status)s: no SHP can be issued on it"),
            reference=row.reference,
            status=StallStatus(stall.status).value,
        )


def _add_to_plan(plan: Plan, row: Row, found: Found) -> None:
    if found.block_id is None:
        plan.new_blocks.add((found.market_id, row.block))
    if found.stall is None:
        plan.new_stalls[(found.market_id, row.block, row.stall_number)] = row
    if found.vendor is None:
        plan.new_vendors.setdefault(row.nik, row)
    if found.placement is None:
        plan.new_placements.append(row)
        if found.stall is not None and found.stall.status is not StallStatus.ACTIVE:
            plan.activate_stalls.add(found.stall.id)
    elif found.vendor is not None:
        plan.unchanged_rows += 1  # block, stall, vendor and SHP all exist as the row says


def _compare_stall(row: Row, stall: Any, refuse: Refuse) -> None:
    if StallType(stall.stall_type) is not row.stall_type:
        refuse(
            row,
            "stall_type",
            N_("stall %(reference)s is registered as %(value)s"),
            reference=row.reference,
            value=StallType(stall.stall_type).value,
        )
    if Decimal(stall.area_m2) != row.area_m2:
        refuse(
            row,
            "area_m2",
            N_("stall %(reference)s is registered with %(value)s m²"),
            reference=row.reference,
            value=str(stall.area_m2),
        )
    if row.tntd_idr_per_m2 is not None and stall.tntd_idr_per_m2 != row.tntd_idr_per_m2:
        refuse(
            row,
            "tntd_idr_per_m2",
            N_("stall %(reference)s is registered with TNTD %(value)s"),
            reference=row.reference,
            value=str(stall.tntd_idr_per_m2 or "-"),
        )


def _compare_vendor(row: Row, vendor: Any, refuse: Refuse) -> None:
    if vendor.full_name != row.name:
        refuse(
            row,
            "name",
            N_("NIK %(nik)s is registered as %(value)s"),
            nik=row.nik,
            value=vendor.full_name,
        )
    if vendor.phone != row.phone:
        refuse(
            row,
            "phone",
            N_("NIK %(nik)s is registered with phone %(value)s"),
            nik=row.nik,
            value=vendor.phone,
        )
    for column in ("proxy_name", "proxy_phone"):
        given = getattr(row, column)
        if given is not None and given != getattr(vendor, column):
            refuse(
                row,
                column,
                N_("NIK %(nik)s is registered with another %(column)s"),
                nik=row.nik,
                column=column,
            )


# --- writing ----------------------------------------------------------------------------------


def _write(plan: Plan, registry: Registry, *, actor: Actor, sha256: str, filename: str) -> None:
    session = db.session
    now = clock.now()
    blocks: dict[tuple[Any, ...], int] = dict(registry.blocks)
    insert_rows(
        Block,
        [{"market_id": m, "code": c, "name": f"Blok {c}"} for m, c in sorted(plan.new_blocks)],
    )
    blocks |= ids_by_key(Block.id, [Block.market_id, Block.code], plan.new_blocks)

    def stall_key(row: Row) -> tuple[int, str]:
        return (blocks[(registry.markets[row.market_code], row.block)], row.stall_number)

    stalls = [
        {
            "market_id": registry.markets[row.market_code],
            "block_id": stall_key(row)[0],
            "number": row.stall_number,
            "stall_type": row.stall_type,
            "area_m2": row.area_m2,
            "tntd_idr_per_m2": row.tntd_idr_per_m2,
            "status": StallStatus.ACTIVE,
            "created_at": now,
        }
        for row in plan.new_stalls.values()
    ]
    insert_rows(Stall, stalls)
    stall_ids: dict[tuple[Any, ...], int] = {k: s.id for k, s in registry.stalls.items()}
    stall_ids |= ids_by_key(
        Stall.id, [Stall.block_id, Stall.number], [(s["block_id"], s["number"]) for s in stalls]
    )
    for batch in chunks(sorted(plan.activate_stalls)):
        # Each of these vacant stalls receives an SHP in this file; the import's audit event
        # lists them (one event per stall would dominate a 10 000-row import).
        session.execute(
            update(Stall).where(Stall.id.in_(batch)).values(status=StallStatus.ACTIVE),
            execution_options={"synchronize_session": False},
        )
    logins = _free_logins({r.phone for r in plan.new_vendors.values()})
    insert_rows(
        Vendor,
        [
            {
                "nik": nik,
                "full_name": row.name,
                "phone": row.phone,
                "proxy_name": row.proxy_name,
                "proxy_phone": row.proxy_phone,
                "user_id": logins.get(row.phone),
                "created_at": now,
            }
            for nik, row in plan.new_vendors.items()
        ],
    )
    vendor_ids = {nik: v.id for nik, v in registry.vendors.items()}
    vendor_ids |= {
        nik: id_
        for (nik,), id_ in ids_by_key(
            Vendor.id, [Vendor.nik], [(n,) for n in plan.new_vendors]
        ).items()
    }
    insert_rows(
        Placement,
        [
            {
                "number": row.shp_number,
                "vendor_id": vendor_ids[row.nik],
                "stall_id": stall_ids[stall_key(row)],
                "start_on": row.shp_start,
                "expires_on": shp_expiry(row.shp_start),
                "ended_on": None,
                "status": PlacementStatus.ACTIVE,
                "occupant_name": row.occupant_name,
                "transfer_fee_idr": None,
                "previous_id": None,
                "created_at": now,
            }
            for row in plan.new_placements
        ],
    )
    placement_ids = ids_by_key(
        Placement.id, [Placement.number], [(r.shp_number,) for r in plan.new_placements]
    )
    insert_rows(
        PlacementEvent,
        [
            {
                "placement_id": placement_ids[(row.shp_number,)],
                "occurred_at": now,
                "effective_on": row.shp_start,
                "action": "issued",
                "actor": actor.label,
                "details": {
                    "vendor_nik": row.nik,
                    "expires_on": shp_expiry(row.shp_start).isoformat(),
                    "import_sha256": sha256,
                    "import_row": row.number,
                },
            }
            for row in plan.new_placements
        ],
    )
    record_event(
        session,
        actor=actor.label,
        action="vendors.imported",
        subject_type="import",
        subject_id=sha256[:16],
        details={
            "filename": filename[:200],
            "sha256": sha256,
            "created": _counts(plan),
            "activated_stall_ids": sorted(plan.activate_stalls),
        },
    )


def _free_logins(phones: set[str]) -> dict[str, int]:
    """Vendor logins (by phone) that no vendor record claims yet: the import links them."""
    found: dict[str, int] = {}
    for batch in chunks(sorted(phones)):
        for user_id, phone in db.session.execute(
            select(User.id, User.phone).where(User.phone.in_(batch), User.role == Role.VENDOR)
        ):
            if phone is not None:
                found[phone] = user_id
    claimed: set[int] = set()
    for user_ids in chunks(sorted(found.values())):
        claimed |= {
            id_
            for id_ in db.session.scalars(
                select(Vendor.user_id).where(Vendor.user_id.in_(user_ids))
            )
            if id_ is not None
        }
    return {phone: id_ for phone, id_ in found.items() if id_ not in claimed}


def _counts(plan: Plan) -> dict[str, int]:
    return {
        "blocks": len(plan.new_blocks),
        "stalls": len(plan.new_stalls),
        "vendors": len(plan.new_vendors),
        "placements": len(plan.new_placements),
    }


# --- the use case -----------------------------------------------------------------------------


def import_vendors(
    data: bytes, *, actor: Actor, filename: str = "", dry_run: bool = False
) -> ImportReport:
    """Check a CSV or XLSX file and, unless ``dry_run``, write it in one transaction.

    Raises :class:`ImportRefused` listing every problem (nothing written), or a conflict when
    the registry changed between the check and the write.
    """
    max_bytes, max_rows = limits()
    sha256 = hashlib.sha256(data).hexdigest()
    table = read_table(data, max_bytes=max_bytes, max_rows=max_rows)
    positions = _check_header(table.header)
    if not table.rows:
        raise file_problem(N_("the file has no rows to import"))
    day = today()
    rows: list[Row] = []
    problems: list[Problem] = []
    for number, cells in table.rows:
        parsed = _parse_row(number, cells, positions, exact=table.exact_width, day=day)
        if isinstance(parsed, Row):
            rows.append(parsed)
        else:
            problems.extend(parsed)
    problems.extend(_check_within_file(rows))
    registry = _load_registry(rows)
    plan, against = _check_against_registry(rows, registry, actor)
    problems.extend(against)
    if problems:
        db.session.rollback()
        raise ImportRefused(problems)
    report = ImportReport(
        dry_run=dry_run,
        rows=len(table.rows),
        sha256=sha256,
        created=_counts(plan),
        unchanged_rows=plan.unchanged_rows,
        activated_stalls=len(plan.activate_stalls),
    )
    nothing_new = not (plan.new_blocks or plan.new_stalls or plan.new_vendors)
    if dry_run or (nothing_new and not plan.new_placements):
        db.session.rollback()  # end the read transaction; the same file again writes nothing
        return report
    try:
        with transaction(db.session):
            _write(plan, registry, actor=actor, sha256=sha256, filename=filename)
    except IntegrityError:
        raise VendorConflict(
            [
                Problem(
                    FILE,
                    N_("the registry changed while the file was imported: import it again"),
                    {},
                    0,
                )
            ]
        ) from None
    if len(plan.new_placements) >= ANALYZE_AFTER_ROWS:
        _refresh_statistics()
    return report


def _refresh_statistics() -> None:
    """After a large import, let PostgreSQL see the tables' new sizes at once rather than at the
    next autovacuum: with stale statistics it scans whole tables for the next import's look-ups
    (a 10 000-row re-import went from under 1 s to 7 s)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    with transaction(db.session):
        for table in (Block, Stall, Vendor, Placement, PlacementEvent):
            db.session.execute(text(f"ANALYZE {table.__tablename__}"))
