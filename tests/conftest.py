"""Fixtures after the Flask tutorial and Warehouse: ``app``, ``client``, ``runner``, login helpers.

The same suite runs on SQLite and, when ``TEST_DATABASE_URL`` is set, on PostgreSQL. The schema is
built once per run by the real migrations. Each test then gets a clean database: on SQLite a copy
of the migrated template file, on PostgreSQL the worker's database with every table truncated
after the test (tests may commit, and concurrency tests need real commits on real connections).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from hypothesis import HealthCheck, settings

from retribusi import clock, create_app
from retribusi.auth.models import Role, User
from retribusi.extensions import db, limiter
from tests.factories import make_user

# One Chromium per test worker for every page test: Playwright's sync API allows one per thread.
pytest_plugins = ["tests.browser.fixtures"]

# Property tests judge answers, not speed: on a shared 2-core machine one draw can take a second,
# and a deadline or a "too slow" health check would fail a correct test at random.
settings.register_profile("retribusi", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("retribusi")

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
REQUIRE_PG = os.environ.get("RETRIBUSI_REQUIRE_POSTGRES") == "1"
CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL:
        return
    if REQUIRE_PG:
        raise pytest.UsageError("RETRIBUSI_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
    # The SQLite run leaves PostgreSQL-only tests to the PostgreSQL run instead of skipping them.
    config.hook.pytest_deselected(items=[i for i in items if i.get_closest_marker("postgres")])
    items[:] = [i for i in items if not i.get_closest_marker("postgres")]


def base_config(url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": url,
        "ARGON2_PROFILE": "fast",
        # A smaller demo registry than `make run` loads (5000): every demo step still runs.
        "VENDORS_DEMO_VENDORS": 400,
        "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": sa.pool.NullPool},
    }


def _pg_worker_url(worker: str) -> str:
    url = sa.make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"{os.environ.get('RETRIBUSI_TEST_DB_PREFIX', 'retribusi_test')}_{worker}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    """The migrated database (PostgreSQL) or template file (SQLite) for this test worker."""
    if PG_URL:
        url = _pg_worker_url(worker_id)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'template.db'}"
    app = create_app(base_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


# The tables a test touched: a truncated table's file is empty until something writes to it (a
# row deleted or rolled back still grew it), and its id sequence unread until something takes an
# id (setval of a block of ids is never rolled back). TRUNCATE costs per table, not per row.
_TOUCHED = sa.text(
    """
    SELECT t.relname FROM pg_class t
    WHERE t.relnamespace = current_schema()::regnamespace AND t.relkind = 'r'
      AND t.relname = ANY(:tables)
      AND (pg_relation_size(t.oid) > 0 OR EXISTS (
        SELECT 1 FROM pg_depend d
        JOIN pg_class q ON q.oid = d.objid AND q.relkind = 'S'
        JOIN pg_sequences s ON s.schemaname = current_schema() AND s.sequencename = q.relname
        WHERE d.refobjid = t.oid AND d.deptype IN ('a', 'i') AND s.last_value IS NOT NULL))
    """
)


def _truncate_all(app: Flask) -> None:
    """Empty every table the test wrote to (and restart its ids), so the next test starts from
    the migrated, empty schema; TRUNCATE, not DELETE: rows then come back in insertion order."""
    with app.app_context():
        tables = [t.name for t in db.metadata.sorted_tables]
        with db.engine.begin() as conn:
            touched = conn.execute(_TOUCHED, {"tables": tables}).scalars().all()
            if touched:
                conn.execute(sa.text(f"TRUNCATE {', '.join(touched)} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def database_url(database: str, tmp_path: Path) -> str:
    if PG_URL:
        return database
    path = tmp_path / "test.db"
    shutil.copyfile(sa.make_url(database).database or "", path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    """Override in a module to change the configuration of that module's ``app``."""
    return base_config(database_url)


@pytest.fixture
def frozen_clock() -> clock.FrozenClock:
    return clock.FrozenClock(datetime(2026, 11, 23, 3, 0, tzinfo=UTC))


@pytest.fixture
def app(
    app_config: dict[str, Any], frozen_clock: clock.FrozenClock, tmp_path: Path
) -> Iterator[Flask]:
    app = create_app(app_config)
    # The test's own instance folder: the simulators' keys and journals, development keys.
    app.instance_path = str(tmp_path / "instance")
    app.extensions[clock.EXTENSION_KEY] = frozen_clock
    with app.app_context():
        limiter.reset()
    yield app
    if PG_URL:
        _truncate_all(app)
    else:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def _push_request_context() -> None:
    """Replace pytest-flask's autouse fixture of this name, which pushes one request context for
    the whole test: requests would then share ``g``, the cached locale and the database session,
    which production never does. Each test-client request gets its own context, as in production;
    tests that touch the database open ``app.app_context()`` themselves."""


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


PASSWORDS = {
    Role.ADMIN: "admin-password-1",
    Role.FINANCE: "finance-password-1",
    Role.OFFICER: "officer-password-1",
    Role.VENDOR: "135790",
}


class AuthActions:
    """Sign in through the real login forms, CSRF token and all."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self._app = app
        self._client = client

    def login(self, login: str, secret: str, *, vendor: bool = False) -> Any:
        path = "/login/pedagang" if vendor else "/login"
        fields = (
            {"phone": login, "pin": secret} if vendor else {"username": login, "password": secret}
        )
        fields["csrf_token"] = csrf_token(self._client, path)
        return self._client.post(path, data=fields)

    def login_as(self, role: Role, **kwargs: Any) -> User:
        with self._app.app_context():
            user = make_user(role, secret=PASSWORDS[role], **kwargs)
            db.session.expunge(user)
        response = self.login(user.login_name, PASSWORDS[role], vendor=role is Role.VENDOR)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    def logout(self) -> Any:
        return self._client.post("/logout", data={"csrf_token": csrf_token(self._client, "/")})


@pytest.fixture
def auth(app: Flask, client: FlaskClient) -> AuthActions:
    return AuthActions(app, client)
