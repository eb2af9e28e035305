"""The declarative ``Base`` every model subclasses, its naming convention, shared column types."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, registry, scoped_session
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic can drop and alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC ``datetime``. Naive values are refused: a time without a zone is a bug.

    PostgreSQL stores ``timestamptz``; SQLite has no zone, so the value is stored as UTC and the
    zone is put back on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: The largest id anything from outside may name: every id column is a 64-bit integer, and JSON
#: clients lose precision above 2**53.
MAX_ID = 2**53


def parse_id(text: str | None, *, maximum: int = MAX_ID) -> int | None:
    """A positive id written in ASCII digits (``"²"`` and ``"١"`` are digits to Python, not to
    us), at most ``maximum``; else ``None``. Surrounding spaces are ignored."""
    value = (text or "").strip()
    if not (0 < len(value) <= 16 and value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 0 < number <= maximum else None


# BIGINT ids on PostgreSQL; SQLite only auto-increments a column declared exactly INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JsonDoc = JSON().with_variant(JSONB(), "postgresql")

IdPK = Annotated[int, mapped_column(BigId, primary_key=True)]
"""Surrogate primary key."""
AmountIdr = Annotated[int, mapped_column(BigInteger, nullable=False)]
"""Whole rupiah. Pair it with a CHECK constraint in ``__table_args__``."""


class Base(DeclarativeBase):
    """The project's declarative base. Models subclass this, never ``db.Model`` (mypy --strict)."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(), dict[str, Any]: JsonDoc, list[int]: JsonDoc},
    )


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # SQLite ignores foreign keys unless asked; WAL and a busy timeout let the dev server and a
    # CLI command share the file without "database is locked" on the first concurrent write.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


# A plain session, or Flask-SQLAlchemy's request-scoped proxy to one.
AnySession = Session | scoped_session[Any]


@contextmanager
def transaction(session: AnySession) -> Iterator[AnySession]:
    """Run a use case in one transaction: commit on success, roll back on any error."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
