"""Bulk writes for the import and the demo: plain executemany, then ids read back by key.

The ORM's bulk INSERT … RETURNING splits rows into groups by which values are NULL and splices
the results group by group, which turned a 9 000-row insert into seconds of work. A Core
executemany with every key present is one batched statement; the ids come back with one
``IN (…)`` query per chunk on the natural keys the tables declare unique.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from retribusi.extensions import db

SQL_CHUNK = 500  # values per IN (…) list: well under SQLite's and PostgreSQL's limits
T = TypeVar("T")


def chunks(values: Iterable[T], size: int = SQL_CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def insert_rows(model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows with one executemany (every row must carry the same keys)."""
    if rows:
        db.session.execute(insert(model.__table__), list(rows))


def ids_by_key(
    id_column: InstrumentedAttribute[int],
    key_columns: Sequence[InstrumentedAttribute[Any]],
    keys: Iterable[tuple[Any, ...]],
) -> dict[tuple[Any, ...], int]:
    """Read back ids for the given natural keys (e.g. ``(block_id, number)``)."""
    found: dict[tuple[Any, ...], int] = {}
    for batch in chunks(sorted(set(keys))):
        condition = (
            key_columns[0].in_([k[0] for k in batch])
            if len(key_columns) == 1
            else tuple_(*key_columns).in_(batch)
        )
        for row in db.session.execute(select(id_column, *key_columns).where(condition)):
            found[tuple(row[1:])] = row[0]
    return found
