"""Bulk writes for reconciliation's high-volume tables (lines, matches, claims, exceptions).

The billing run's :class:`retribusi.levy.bulk.RowWriter` converts each value through its
column's SQLAlchemy bind processor; at a million lines those calls are the cost. Here each
column declares what it holds (:class:`Kind`) and the values are converted by one small function
per column, to exactly what the ORM would store: PostgreSQL ``COPY`` text (ISO dates, aware
timestamps, escaped text, ``\\N``), or SQLite's own storage (ISO date strings, SQLAlchemy's
``YYYY-MM-DD HH:MM:SS.ffffff`` naive-UTC timestamps, 0/1). JSON is serialised here too (on
PostgreSQL the JSONB bind processor returns an adapter object, not text).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Table, text

from retribusi.db import AnySession

#: Our tables whose statistics a run or an import may refresh (names are never input).
ANALYZABLE: Final = frozenset({"recon_lines", "recon_claims", "recon_matches", "recon_exceptions"})
COPY_CHUNK_CHARS: Final = 1 << 20
_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class Kind(StrEnum):
    INT = "int"  # int or None
    TEXT = "text"  # str or None, any characters
    CODE = "code"  # str or None that never holds a tab, newline or backslash (hex, our codes)
    DATE = "date"
    DATETIME = "datetime"  # aware
    BOOL = "bool"
    ENUM = "enum"  # a StrEnum member (its value is stored)
    JSON = "json"


def _json_copy(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True).translate(_ESCAPES)


_COPY: Final[dict[Kind, Callable[[Any], str]]] = {
    Kind.INT: lambda v: "\\N" if v is None else str(v),
    Kind.TEXT: lambda v: "\\N" if v is None else v.translate(_ESCAPES),
    Kind.CODE: lambda v: "\\N" if v is None else v,
    Kind.DATE: lambda v: "\\N" if v is None else v.isoformat(),
    Kind.DATETIME: lambda v: "\\N" if v is None else v.astimezone(UTC).isoformat(),
    Kind.BOOL: lambda v: "\\N" if v is None else ("t" if v else "f"),
    # A StrEnum member is a str whose text is its value.
    Kind.ENUM: lambda v: "\\N" if v is None else v,
    Kind.JSON: _json_copy,
}


def _sqlite_datetime(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}"


def _json_sqlite(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


_SQLITE: Final[dict[Kind, Callable[[Any], Any]]] = {
    Kind.INT: lambda v: v,
    Kind.TEXT: lambda v: v,
    Kind.CODE: lambda v: v,
    Kind.DATE: lambda v: None if v is None else v.isoformat(),
    Kind.DATETIME: lambda v: None if v is None else _sqlite_datetime(v),
    Kind.BOOL: lambda v: None if v is None else int(bool(v)),
    Kind.ENUM: lambda v: None if v is None else str(v),
    Kind.JSON: _json_sqlite,
}


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
        table_of = _COPY if self.copy else _SQLITE
        self.converters = tuple(table_of[kind] for _name, kind in columns)

    def write(self, rows: Iterable[Sequence[Any]]) -> int:
        names = ", ".join(self.names)
        converters = self.converters
        count = 0
        if self.copy:
            raw = self.connection.connection.driver_connection
            assert raw is not None
            with (
                raw.cursor() as cursor,
                cursor.copy(
                    f"COPY {self.table.name} ({names}) FROM STDIN"  # our own table and column names
                ) as copy,
            ):
                chunk: list[str] = []
                size = 0
                for row in rows:
                    line = "\t".join([f(v) for f, v in zip(converters, row, strict=True)]) + "\n"
                    chunk.append(line)
                    size += len(line)
                    count += 1
                    if size >= COPY_CHUNK_CHARS:
                        copy.write("".join(chunk))
                        chunk, size = [], 0
                if chunk:
                    copy.write("".join(chunk))
            return count
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
    session.execute(text(f"ANALYZE {table}"))
    return True
