from __future__ import annotations

import os
import secrets
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import AnyConverter, IntegerConverter

from retribusi import create_app
from retribusi.auth.access import public
from retribusi.auth.models import Role
from retribusi.config import instance_file
from retribusi.db import parse_id
from tests.conftest import AuthActions, base_config, csrf_token


def test_login_page_is_indonesian_by_default_and_switches_to_english(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "Masuk" in page and 'lang="id"' in page
    client.get("/bahasa/en", headers={"Referer": "http://localhost/login"})
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in" in page and 'lang="en"' in page


def test_unknown_language_is_ignored(client: FlaskClient) -> None:
    client.get("/bahasa/xx")
    assert 'lang="id"' in client.get("/login").get_data(as_text=True)


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_load_nothing_from_other_origins(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "http://" not in page.replace("http://localhost", "")
    assert "https://" not in page
    assert "<script" not in page and "style=" not in page


def test_unknown_url_gives_friendly_404(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "tidak ada" in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_unknown_api_url_gives_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_server_error_page_is_friendly(app_config: dict[str, Any]) -> None:
    app = create_app(app_config)

    @app.route("/boom")
    @public
    def boom() -> str:
        raise RuntimeError("kaboom")

    with app.test_client() as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert "kaboom" not in response.get_data(as_text=True)
    assert "kesalahan" in response.get_data(as_text=True).lower()


def test_endpoint_without_access_policy_stops_the_app(app_config: dict[str, Any]) -> None:
    from retribusi.auth.access import check_all_declared

    app = create_app(app_config)
    app.add_url_rule("/forgotten", "forgotten", lambda: "open")
    with pytest.raises(RuntimeError, match="forgotten"):
        check_all_declared(app)


def test_session_cookie_is_httponly_and_samesite(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as(Role.ADMIN)
    cookie = client.get_cookie("retribusi_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_production_refuses_to_start_without_secret(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("RETRIBUSI_ENV", "production")
    monkeypatch.delenv("RETRIBUSI_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="RETRIBUSI_SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    monkeypatch.setenv("RETRIBUSI_SECRET_KEY", "a-real-secret")
    # Workers on several hosts must sign receipts with one key: it is never made on the fly.
    with pytest.raises(RuntimeError, match="RETRIBUSI_RECEIPT_SIGNING_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    monkeypatch.setenv("RETRIBUSI_RECEIPT_SIGNING_KEY", pem.decode())
    # The key that encrypts the partners' client secrets at rest, likewise.
    with pytest.raises(RuntimeError, match="RETRIBUSI_PARTNER_SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    monkeypatch.setenv("RETRIBUSI_PARTNER_SECRET_KEY", Fernet.generate_key().decode())
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_development_secret_is_generated_once_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("RETRIBUSI_INSTANCE_PATH", str(tmp_path / "instance"))
    first = create_app({"TESTING": False})
    second = create_app({"TESTING": False})
    secret_file = tmp_path / "instance" / "secret_key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == secret_file.read_text()
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    assert first.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/retribusi.db")
    assert first.config["SESSION_COOKIE_SECURE"] is False


def test_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.internal/retribusi")
    app = create_app({"SECRET_KEY": "x"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.internal/retribusi"


def test_prefixed_environment_overrides(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("RETRIBUSI_LOCKOUT_AFTER_FAILURES", "3")
    app = create_app(base_config(database_url))
    assert app.config["LOCKOUT_AFTER_FAILURES"] == 3


def test_an_id_no_database_column_holds_is_a_404_on_every_route(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    """Every ``<int:…>`` in every route is bounded, so a huge number never reaches the database
    (where it would overflow a 64-bit column: a 500)."""
    auth.login_as(Role.ADMIN)
    token = csrf_token(client, "/pedagang/baru")
    checked = 0
    for rule in app.url_map.iter_rules():
        converters = rule._converters
        if not any(isinstance(c, IntegerConverter) for c in converters.values()):
            continue
        values: dict[str, str] = {}
        for name, converter in converters.items():
            if isinstance(converter, IntegerConverter):
                values[name] = "9" * 30
            elif isinstance(converter, AnyConverter):
                values[name] = sorted(converter.items)[0]
            else:
                values[name] = "x"
        built = rule.build(values)
        assert built is not None
        path = built[1]
        method = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})[0]
        response = client.open(path, method=method, data={"csrf_token": token})
        assert response.status_code == 404, (rule.rule, path, response.status_code)
        checked += 1
    assert checked >= 30  # pages and API of every package


def test_workers_starting_at_once_share_one_complete_development_key(tmp_path: Path) -> None:
    """Eight workers race to make the key file: each reads the same whole key, none an empty
    file, and no temporary file is left behind."""
    path = tmp_path / "instance" / "key"
    start = threading.Barrier(8)
    made: list[bytes] = []

    def make() -> bytes:
        made.append(secrets.token_bytes(16))
        return made[-1]

    def worker() -> bytes:
        start.wait()
        return instance_file(path, make)

    with ThreadPoolExecutor(8) as pool:
        seen = set(pool.map(lambda _: worker(), range(8)))
    assert seen == {path.read_bytes()} and len(path.read_bytes()) == 16
    assert path.read_bytes() in made
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["key"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        (" 7 ", 7),
        ("0", None),
        ("²", None),
        ("١٢", None),
        ("-3", None),
        ("1e3", None),
        ("9" * 17, None),
        (str(2**53 + 1), None),
        ("", None),
        (None, None),
    ],
)
def test_ids_from_outside_are_ascii_digits_in_range(text: str | None, expected: int | None) -> None:
    assert parse_id(text) == expected


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/pedagang?q=Sri%00", None),
        ("GET", "/pasar/KLE%00WER", None),
        ("POST", "/login", {"username": "admin\x00", "password": "x"}),
    ],
)
def test_a_nul_character_is_a_400_not_a_database_error(
    client: FlaskClient, auth: AuthActions, method: str, path: str, data: dict[str, str] | None
) -> None:
    """PostgreSQL refuses text holding NUL (SQLite stores it): refused before any view."""
    auth.login_as(Role.ADMIN)
    response = client.open(path, method=method, data=data)
    assert response.status_code == 400
    assert "Permintaan tidak dapat dipahami" in response.get_data(as_text=True)


def test_a_nul_in_a_json_string_is_a_400_naming_it(client: FlaskClient) -> None:
    response = client.post("/api/v1/tokens", json={"username": "admin\u0000", "password": "x"})
    assert response.status_code == 400
    assert "NUL" in response.get_json()["message"]
    nested = client.post("/api/v1/tokens", json={"username": ["a", {"b\x00": 1}]})
    assert nested.status_code == 400
