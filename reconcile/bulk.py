"""Bulk writes for reconciliation's high-volume tables (lines, matches, claims, exceptions).

The billing run's :class:`retribusi.levy.bulk.RowWriter` converts each value through its
column's SQLAlchemy bind processor; at a million lines those calls are the cost. Here each
column declares what it holds (:class:`Kind`). On PostgreSQL the rows go to ``COPY`` through the
driver's own row formatting (compiled: ints, texts, dates, aware timestamps, booleans and enum
members' values as the server reads them), with only JSON serialised here; on SQLite each value
is converted by one small function per column to exactly what the ORM would store (ISO date
strings, SQLAlchemy's ``YYYY-MM-DD HH:MM:SS.ffffff`` naive-UTC timestamps, 0/1, JSON text).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Table, text

from retribusi.db import AnySession

#: Our tables whose statistics a run or an import may refresh (names are never input).
ANALYZABLE: Final = frozenset({"recon_lines", "recon_claims", "recon_matches", "recon_exceptions"})
#: The columns of ``recon_lines`` runs and pages filter and join on: statistics of the others
#: (the long texts, the identities, the JSON keys) cost most to gather and are never asked for.
_LINE_STATISTICS: Final = (
    "id, file_id, source, account_id, direction, booking_date, amount_idr, va_number,"
    " bill_number, qris_reference, nmid, bank_reference, customer_reference, batch_id"
)


class Kind(StrEnum):
    INT = "int"  # int or None
    TEXT = "text"  # str or None, any characters
    CODE = "code"  # str or None that never holds a tab, newline or backslash (hex, our codes)
    DATE = "date"
    DATETIME = "datetime"  # aware
    BOOL = "bool"
    ENUM = "enum"  # a StrEnum member (its value is stored)
    JSON = "json"


#: One encoder for every JSON value (``json.dumps`` with options builds one per call).
_JSON: Final = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def _sqlite_datetime(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}"


_SQLITE: Final[dict[Kind, Callable[[Any], Any]]] = {
    Kind.INT: lambda v: v,
    Kind.TEXT: lambda v: v,
    Kind.CODE: lambda v: v,
    Kind.DATE: lambda v: None if v is None else v.isoformat(),
    Kind.DATETIME: lambda v: None if v is None else _sqlite_datetime(v),
    Kind.BOOL: lambda v: None if v is None else int(bool(v)),
    Kind.ENUM: lambda v: None if v is None else str(v),
    Kind.JSON: _JSON,
}


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for a bulk import or run. Reading a file allocates a few
    objects per line and keeps them all: the collector would walk the growing heap again and
    again (about two fifths of the parse time of a 50 000-line file) to find no cycles. Plain
    reference counting still frees everything; the collector runs again afterwards."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


class FastWriter:
    """Inserts rows of ``table`` (values in ``columns`` order) in the session's transaction."""

    def __init__(
        self, session: AnySession, table: Table, columns: Sequence[tuple[str, Kind]]
    ) -> None:
        self.connection = session.connection()
        self.table = table
        self.names = tuple(name for name, _kind in columns)
        for name in self.names:
            table.c[name]  # a misspelt column fails here, not in the database
        self.copy = self.connection.dialect.name == "postgresql"
        self.converters = tuple(_SQLITE[kind] for _name, kind in columns)
        #: Positions of the JSON columns: the only values COPY needs serialised here.
        self.json_at = tuple(i for i, (_name, kind) in enumerate(columns) if kind is Kind.JSON)

    def write(self, rows: Iterable[Sequence[Any]]) -> int:
        names = ", ".join(self.names)
        count = 0
        if self.copy:
            raw = self.connection.connection.driver_connection
            assert raw is not None
            json_at = self.json_at
            with (
                raw.cursor() as cursor,
                cursor.copy(
                    f"COPY {self.table.name} ({names}) FROM STDIN"  # our own table and column names
                ) as copy,
            ):
                write_row = copy.write_row
                for row in rows:
                    if json_at:
                        values = list(row)
                        for i in json_at:
                            values[i] = _JSON(values[i])
                        write_row(values)
                    else:
                        write_row(row)
                    count += 1
            return count
        converters = self.converters
        prepared = [tuple([f(v) for f, v in zip(converters, row, strict=True)]) for row in rows]
        if prepared:
            marks = ", ".join("?" for _ in self.names)
            self.connection.exec_driver_sql(
                f"INSERT INTO {self.table.name} ({names}) VALUES ({marks})",  # noqa: S608
                prepared,
            )
        return len(prepared)


def analyze(session: AnySession, table: str, added: int) -> bool:
    """Refresh PostgreSQL's statistics of ``table`` inside the caller's transaction (its own new
    rows included) when ``added`` rows are a tenth of it or more, so the next joins are planned
    for the rows that are there now; a table ten times larger keeps representative statistics
    (autovacuum refreshes them later). SQLite plans without statistics: nothing to do there."""
    if table not in ANALYZABLE:
        raise ValueError(f"not a reconciliation table: {table}")
    if session.get_bind().dialect.name != "postgresql":
        return False
    estimate = session.execute(
        text("SELECT reltuples FROM pg_class WHERE relname = :name"), {"name": table}
    ).scalar()
    if estimate is not None and estimate >= 0 and added * 10 < estimate:
        return False
    columns = f" ({_LINE_STATISTICS})" if table == "recon_lines" else ""
    session.execute(text(f"ANALYZE {table}{columns}"))
    return True
