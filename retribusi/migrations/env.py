"""Alembic environment for ``retribusi db …``: the app's engine and every package's models."""

from __future__ import annotations

from typing import Any

import click
from alembic import context
from alembic.autogenerate.api import AutogenContext
from flask import current_app
from sqlalchemy.dialects.postgresql import JSONB

from retribusi.app import import_models
from retribusi.db import UTCDateTime
from retribusi.dbops import dangling_references, sqlite_migrating_engine

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


def run_migrations_online() -> None:
    # Flask-SQLAlchemy >= 3 exposes the engine as ``db.engine``; the generated env.py called the
    # deprecated ``get_engine()``, which fails under warnings-as-errors.
    engine = current_app.extensions["migrate"].db.engine
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    # On SQLite an upgrade is all or nothing too, as on PostgreSQL (retribusi.dbops); a
    # database in memory lives in the app's own connection and is migrated there, as before.
    sqlite = engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")
    if sqlite:
        engine = sqlite_migrating_engine(engine.url)
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
                broken = dangling_references(connection) if sqlite else []
                if broken:
                    raise click.ClickException(
                        f"the upgrade would leave {len(broken)} rows referring to nothing, "
                        f"and was rolled back: {', '.join(broken[:5])}"
                    )
    finally:
        if sqlite:
            engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
