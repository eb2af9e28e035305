"""Bulk writes for the billing run: ids allocated in one query, rows sent in one stream.

A month's run writes hundreds of thousands of rows. The ORM (and even Core ``executemany``)
spends most of that time converting parameters row by row, so this module writes through the
driver: PostgreSQL ``COPY … FROM STDIN`` in text format, SQLite ``executemany``. Values go through
the columns' own SQLAlchemy bind processors first, so what is stored is what the ORM would store.

Rows are built from *parts*: groups of columns converted together. A part shared by many rows
(the columns every line priced alike has in common, what every bill of a run shares) is converted
once and reused, which is where the time goes at 100 000 bills. Both writers run inside the
caller's transaction, on its session's connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from itertools import chain
from typing import Any

from sqlalchemy import Enum as SqlEnum
from sqlalchemy import Integer, String, Table, text
from sqlalchemy.exc import IntegrityError

from retribusi.db import AnySession

Converter = Callable[[Any], Any]
Part = tuple[Any, ...] | str  # SQLite: values; PostgreSQL: a fragment of a COPY text line
COPY_CHUNK_CHARS = 1 << 20


def allocate_ids(session: AnySession, table: Table, count: int) -> list[int]:
    """``count`` consecutive fresh primary keys for ``table``.

    The caller holds the billing lock (``retribusi.levy.billing``), so nothing else takes ids from
    this table meanwhile. PostgreSQL moves the column's sequence past the block in one statement;
    SQLite continues from the largest id (a writer that raced anyway would fail on the primary key
    and change nothing).
    """
    if count <= 0:
        return []
    connection = session.connection()
    # Table names below come from our own metadata, never from input.
    if connection.dialect.name == "postgresql":
        sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
        last = connection.execute(
            text(f"SELECT setval({sequence}, nextval({sequence}) + :n - 1)"), {"n": count}
        ).scalar_one()
        start = int(last) - count + 1
    else:
        top = connection.execute(
            text(f"SELECT coalesce(max(id), 0) FROM {table.name}")  # noqa: S608
        ).scalar()
        start = int(top or 0) + 1
    return list(range(start, start + count))


# A month's run touches every page of the bills indexes; SQLite's default 2 MB page cache would
# make it re-read them from disk. 128 MB for this connection, released when it closes.
SQLITE_CACHE_KIB = 131_072


def widen_cache(session: AnySession) -> None:
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).translate(_ESCAPES)


def _memoised(convert: Converter) -> Converter:
    seen: dict[Any, Any] = {}

    def memo(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = result = convert(value)
            return result

    return memo


class RowWriter:
    """Writes rows of ``table`` (columns in ``columns`` order) in the session's transaction."""

    def __init__(self, session: AnySession, table: Table, columns: Sequence[str]) -> None:
        self.connection = session.connection()
        self.table = table
        self.columns = tuple(columns)
        self.copy = self.connection.dialect.name == "postgresql"

    def part(
        self, names: Sequence[str], *, repeats: bool = True, trusted: bool = False
    ) -> Callable[[Sequence[Any]], Part]:
        """A function that turns values of the columns ``names`` into a part of a row.

        ``repeats``: the values recur (dates, rates), so each conversion is remembered.
        ``trusted``: integers and codes the caller built itself (ids, bill numbers), never free
        text, so nothing needs converting or escaping.
        """
        dialect = self.connection.dialect
        if trusted:
            for name in names:
                kind = self.table.c[name].type
                if not isinstance(kind, Integer | String) or isinstance(kind, SqlEnum):
                    raise TypeError(f"{name} is not an integer or code column")
            if self.copy:
                return lambda values: "\t".join(map(str, values))
            return tuple
        steps: list[Converter] = []
        for name in names:
            processor = self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            step = _then(processor, copy_text) if self.copy else processor or _same
            steps.append(_memoised(step) if repeats else step)

        def convert(values: Sequence[Any]) -> Part:
            converted = [step(v) for step, v in zip(steps, values, strict=True)]
            return "\t".join(converted) if self.copy else tuple(converted)

        return convert

    def write(self, rows: Sequence[Sequence[Part]]) -> int:
        """Insert rows made of parts (in column order); returns how many."""
        if not rows:
            return 0
        names = ", ".join(self.columns)
        if self.copy:
            raw = self.connection.connection.driver_connection
            assert raw is not None
            copy_sql = f"COPY {self.table.name} ({names}) FROM STDIN"
            try:
                with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
                    chunk: list[str] = []
                    size = 0
                    for row in rows:
                        line = "\t".join(row) + "\n"  # type: ignore[arg-type]
                        chunk.append(line)
                        size += len(line)
                        if size >= COPY_CHUNK_CHARS:
                            copy.write("".join(chunk))
                            chunk, size = [], 0
                    if chunk:
                        copy.write("".join(chunk))
            except self.connection.dialect.dbapi.IntegrityError as error:  # type: ignore[union-attr]
                # The driver's own error, as SQLAlchemy would have raised it for an INSERT: the
                # callers map a unique or check violation to a conflict.
                raise IntegrityError(copy_sql, None, error) from error
            return len(rows)
        flat = [tuple(chain.from_iterable(row)) for row in rows]
        marks = ", ".join("?" for _ in self.columns)
        statement = f"INSERT INTO {self.table.name} ({names}) VALUES ({marks})"  # noqa: S608
        self.connection.exec_driver_sql(statement, flat)
        return len(rows)


def _same(value: Any) -> Any:
    return value


def _then(first: Converter | None, second: Converter) -> Converter:
    if first is None:
        return second
    return lambda value: second(first(value))
