"""The migrations build the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from flask import Flask
from flask_migrate import upgrade

from retribusi import create_app
from retribusi.app import import_models
from retribusi.dbops import dangling_references, sqlite_migrating_engine
from retribusi.extensions import db
from tests.conftest import base_config


def test_models_and_migrations_agree(app: Flask) -> None:
    import_models()
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_single_migration_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from retribusi.app import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"migration branches must be merged: {heads}"


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_an_upgrade_that_fails_half_way_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    """SQLite: a failing step rolls back every table the upgrade had created before it, so the
    next ``db upgrade`` (once the cause is gone) starts clean instead of failing on debris."""
    url = f"sqlite:///{tmp_path / 'half.db'}"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:  # the last migration's last table, already there
        conn.execute(sa.text("CREATE TABLE recon_runs (id INTEGER)"))
    app = create_app(base_config(url))
    with app.app_context(), pytest.raises(sa.exc.OperationalError, match="recon_runs"):
        upgrade()
    assert _tables(url) == {"recon_runs"}  # no half-made schema, no version row
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE recon_runs"))
    engine.dispose()
    with app.app_context():
        upgrade()
        db.engine.dispose()
    import_models()
    assert _tables(url) == set(db.metadata.tables) | {"alembic_version"}


def _parent_and_child(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        conn.execute(
            sa.text(
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent)"
            )
        )
        conn.execute(sa.text("INSERT INTO parent VALUES (1)"))
        conn.execute(sa.text("INSERT INTO child VALUES (1, 1)"))


def test_a_batch_migration_can_rebuild_a_table_other_rows_refer_to(tmp_path: Path) -> None:
    """SQLite rebuilds a table to change it (copy, drop, rename); with foreign keys on, the drop
    would delete the rows first and fail on the child's reference."""
    url = f"sqlite:///{tmp_path / 'rebuild.db'}"
    app_engine = sa.create_engine(url, poolclass=sa.pool.NullPool)  # foreign keys on
    _parent_and_child(app_engine)
    with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"), app_engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE parent"))
    engine = sqlite_migrating_engine(url)
    with engine.begin() as conn:
        with Operations(MigrationContext.configure(conn)).batch_alter_table(
            "parent", recreate="always"
        ) as batch:
            batch.add_column(sa.Column("name", sa.String(20)))
        assert dangling_references(conn) == []
    engine.dispose()
    with app_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, name FROM parent")).all() == [(1, None)]
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1  # on again
    app_engine.dispose()


def test_a_reference_left_dangling_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dangling.db'}"
    engine = sqlite_migrating_engine(url)
    _parent_and_child(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM parent"))
        assert dangling_references(conn) == ["child row 1 -> parent"]
    engine.dispose()


def test_a_database_in_memory_is_migrated_in_the_apps_own_connection() -> None:
    config = {
        **base_config("sqlite://"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": sa.pool.StaticPool},
    }
    app = create_app(config)
    with app.app_context():
        upgrade()
        assert set(sa.inspect(db.engine).get_table_names()) >= set(db.metadata.tables)
        db.engine.dispose()
