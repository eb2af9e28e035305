"""Alembic environment for ``retribusi db …``: the app's engine and every package's models."""

from __future__ import annotations

import sqlite3
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from flask import current_app
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.pool import NullPool

from retribusi.app import import_models
from retribusi.db import UTCDateTime

import_models()
target_metadata = current_app.extensions["migrate"].db.metadata


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render our column types as plain SQLAlchemy types, so revisions import nothing of ours."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(obj, JSONB):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "postgresql.JSONB()"
    return False


def run_migrations_offline() -> None:
    url = str(current_app.extensions["migrate"].db.engine.url)
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _transactional_sqlite(engine: Engine) -> Engine:
    """An engine on the same SQLite file whose transactions hold DDL too.

    SQLite can roll back ``CREATE TABLE``, but Python's driver begins a transaction only before
    an ``INSERT``/``UPDATE``/``DELETE``, so each statement of a schema change would be committed
    as it ran and a migration failing half-way would leave its first tables behind, with the
    version unchanged: the next ``db upgrade`` would then fail on them. Here the driver's own
    transaction handling is off and every transaction starts with ``BEGIN IMMEDIATE`` (the write
    lock up front), so an upgrade is all or nothing, as on PostgreSQL."""
    migrating = create_engine(engine.url, poolclass=NullPool)

    @event.listens_for(migrating, "connect")
    def _no_driver_transactions(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(migrating, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return migrating


def run_migrations_online() -> None:
    # Flask-SQLAlchemy >= 3 exposes the engine as ``db.engine``; the generated env.py called the
    # deprecated ``get_engine()``, which fails under warnings-as-errors.
    engine = current_app.extensions["migrate"].db.engine
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        engine = _transactional_sqlite(engine)
        conf_args["transactional_ddl"] = True
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_item=render_item,
                **conf_args,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        if sqlite:
            engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
