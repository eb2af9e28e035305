"""Schema operations that migrations share: database-enforced rules Alembic cannot autogenerate."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool


def append_only(op: Any, table: str) -> None:
    """Refuse UPDATE and DELETE on a table of facts, on PostgreSQL and SQLite alike."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'restrict_violation';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
            )


def drop_append_only(op: Any, table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def sqlite_migrating_engine(url: Any) -> Engine:
    """An engine on a SQLite file for schema changes, as SQLite documents them (``ALTER TABLE``,
    "other kinds of table schema changes"): foreign keys off, then one ``BEGIN IMMEDIATE``
    transaction that holds the DDL too, to be checked with :func:`dangling_references` before
    it commits.

    Python's driver begins a transaction only before ``INSERT``/``UPDATE``/``DELETE``, so each
    ``CREATE TABLE`` would be committed as it ran and an upgrade failing half-way would leave its
    first tables behind, with the version unchanged. Foreign keys stay off for the transaction
    (the pragma is a no-op inside one) so that a batch migration can drop and rename a table
    other tables refer to; with them on, the drop deletes its rows first and fails."""
    engine = create_engine(url, poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def dangling_references(connection: Connection) -> list[str]:
    """SQLite: each row whose foreign key names no row, as ``table rowid -> parent``."""
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    return [f"{table} row {rowid} -> {parent}" for table, rowid, parent, _key in rows]
