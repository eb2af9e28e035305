"""Configuration: defaults, then ``RETRIBUSI_*`` environment variables and ``DATABASE_URL``, then
the mapping a caller (a test) passes. Production refuses to start without an explicit secret key."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

ENV_PREFIX = "RETRIBUSI"

DEFAULTS: dict[str, Any] = {
    # "development" (make run), "production" (gunicorn) or "test".
    "ENV": "development",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # Bounds on what a client may send us: bank files are the largest legitimate upload.
    "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "retribusi_session",
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,
    "REMEMBER_COOKIE_HTTPONLY": True,
    # CSRF is checked by our own before_request (retribusi.security) so that token-authenticated
    # API calls and signed bank callbacks are exempt by rule, not by a list of endpoints.
    "WTF_CSRF_CHECK_DEFAULT": False,
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    # False switches every rate limit off (the login limits and SNAP_RATE_LIMIT), e.g. behind a
    # gateway that limits. Always set: Flask-Limiter keeps the last app's value otherwise.
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "RATELIMIT_STRATEGY": "moving-window",
    "LOGIN_RATE_LIMIT": "10 per minute; 100 per hour",
    "LOCKOUT_AFTER_FAILURES": 5,
    "LOCKOUT_S": 15 * 60,
    "API_TOKEN_MAX_DAYS": 365,
    "BABEL_DEFAULT_LOCALE": "id",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Jakarta",
    "LANGUAGES": ("id", "en"),
    # Number of reverse proxies in front of the app whose X-Forwarded-* headers we trust.
    "PROXY_HOPS": 0,
    # Argon2id cost. "fast" is for the test suite only; stored hashes carry their own parameters.
    "ARGON2_PROFILE": "standard",
    # flask-smorest / OpenAPI
    "API_TITLE": "e-Retribusi Pasar",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_PAGE_SIZE_MAX": 200,
}


def database_url_from_env(url: str) -> str:
    """Accept the usual ``postgres://`` / ``postgresql://`` URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


#: The databases we run on: SQLite (embedded) and PostgreSQL (production).
DATABASES = ("sqlite", "postgresql")


def _checked_url(url: str) -> str:
    """Refuse, at start, a database URL that is malformed or names a database we do not run on."""
    try:
        backend = sa.make_url(url).get_backend_name()
    except sa.exc.ArgumentError:
        raise RuntimeError(
            "DATABASE_URL is not a database URL (postgresql://user@host/db)"
        ) from None
    if backend not in DATABASES:
        raise RuntimeError(f"DATABASE_URL names {backend!r}: use PostgreSQL or SQLite")
    return url


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env(ENV_PREFIX)
    if "DATABASE_URL" in os.environ:
        app.config["SQLALCHEMY_DATABASE_URI"] = database_url_from_env(os.environ["DATABASE_URL"])
    if overrides:
        app.config.from_mapping(overrides)
    if app.config.get("TESTING"):
        app.config.setdefault("ENV", "test")

    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if uri:
        app.config["SQLALCHEMY_DATABASE_URI"] = _checked_url(database_url_from_env(str(uri)))
    else:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{Path(app.instance_path) / 'retribusi.db'}"
        )

    apply_defaults(app, DEFAULTS)  # set already, with the environment's values: checked here
    production = app.config["ENV"] == "production"
    if production:
        # Browsers must never send the session over plain HTTP in production.
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    if not app.config.get("SECRET_KEY"):
        if production:
            raise RuntimeError(
                "RETRIBUSI_SECRET_KEY must be set explicitly when RETRIBUSI_ENV=production"
            )
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))


def _kind(default: Any) -> tuple[type | tuple[type, ...], str] | None:
    """What a setting's value must be, judged by its default: (types, how to say it)."""
    if isinstance(default, bool):
        return bool, "true or false"
    if isinstance(default, int):
        return int, "a whole number, 0 or more"
    if isinstance(default, str):
        return str, "text"
    if isinstance(default, list | tuple):
        return (list, tuple), "a list"
    if isinstance(default, dict):
        return dict, "a mapping"
    return None  # anything else (None, a set) is the module's own to check


def check_setting(key: str, value: Any, default: Any) -> None:
    """Refuse, at start, a setting whose value is not of its default's kind (a number given as
    a word, ``true`` for a count): otherwise it fails later, in the middle of a bank's payment.
    Ranges and formats beyond the kind are checked by each module."""
    kind = _kind(default)
    if kind is None:
        return
    types, said = kind
    if types is int:
        wrong = isinstance(value, bool) or not isinstance(value, int) or value < 0
    else:
        wrong = not isinstance(value, types)
    if wrong:
        raise RuntimeError(f"{ENV_PREFIX}_{key} must be {said}, not {value!r}")


#: ``app.extensions`` key: every module's settings with their defaults (the checked ones).
SETTINGS_KEY = "retribusi.settings"


def apply_defaults(app: Flask, defaults: Mapping[str, Any]) -> None:
    """A module's settings: its defaults where nothing else set one, each checked."""
    app.extensions.setdefault(SETTINGS_KEY, {}).update(defaults)
    for key, default in defaults.items():
        app.config.setdefault(key, default)
        check_setting(key, app.config[key], default)


def _instance_secret(instance: Path) -> str:
    """A development secret kept in the instance folder, so sessions survive a restart."""
    made = instance_file(instance / "secret_key", lambda: secrets.token_hex(32).encode("ascii"))
    return made.decode("ascii").strip()


def instance_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The bytes of a development key file at ``path`` (mode 0600), made by ``make`` on first use.

    The file is written whole under a temporary name and linked into place, so a worker that
    starts at the same moment reads the first worker's complete file, never an empty one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(make())
            with contextlib.suppress(FileExistsError):  # another worker won: read theirs
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_bytes()
