from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from retribusi.auth.models import Role, User
from retribusi.clock import FrozenClock
from retribusi.extensions import db
from tests.conftest import PASSWORDS, AuthActions, csrf_token
from tests.factories import make_user

GENERIC = "Login gagal"


def _session_user(client: FlaskClient) -> str | None:
    with client.session_transaction() as session:
        return session.get("_user_id")


def test_staff_login_and_logout(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    user = auth.login_as(Role.FINANCE)
    home = client.get("/", follow_redirects=True)  # to the finance desk
    assert home.status_code == 200
    assert user.full_name in home.get_data(as_text=True)  # who is signed in, in the header
    assert auth.logout().status_code == 302
    assert _session_user(client) is None
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("typed", ["081234567890", "+62 812-3456-7890", "6281234567890"])
def test_vendor_logs_in_with_phone_in_any_common_form(
    app: Flask, client: FlaskClient, auth: AuthActions, typed: str
) -> None:
    with app.app_context():
        make_user(Role.VENDOR, secret="135790", phone="081234567890")
    response = auth.login(typed, "135790", vendor=True)
    assert response.status_code == 302
    assert _session_user(client) is not None


@pytest.mark.parametrize(
    ("login", "secret", "vendor"),
    [
        ("finance1x", "finance-password-1", False),  # unknown account
        ("known", "wrong-password-123", False),  # wrong password
        ("known", PASSWORDS[Role.FINANCE], True),  # staff account on the vendor form
        ("", "", False),  # empty form
        ("known", "x" * 500, False),  # absurdly long secret
    ],
)
def test_failed_logins_get_one_generic_message(
    app: Flask, client: FlaskClient, auth: AuthActions, login: str, secret: str, vendor: bool
) -> None:
    with app.app_context():
        make_user(Role.FINANCE, secret=PASSWORDS[Role.FINANCE], username="known")
    response = auth.login(login, secret, vendor=vendor)
    assert response.status_code == 401
    if login:
        assert GENERIC in response.get_data(as_text=True)
    assert _session_user(client) is None


def test_vendor_cannot_use_staff_form(app: Flask, auth: AuthActions) -> None:
    with app.app_context():
        make_user(Role.VENDOR, secret="135790", phone="081299998888")
    assert auth.login("081299998888", "135790").status_code == 401


def test_account_locks_after_repeated_failures(
    app: Flask, client: FlaskClient, auth: AuthActions, frozen_clock: FrozenClock
) -> None:
    with app.app_context():
        make_user(Role.VENDOR, secret="135790", phone="081211112222")
    for _ in range(5):
        assert auth.login("081211112222", "000111", vendor=True).status_code == 401
    # Locked: even the right PIN is refused, with the same message.
    locked = auth.login("081211112222", "135790", vendor=True)
    assert locked.status_code == 401
    assert GENERIC in locked.get_data(as_text=True)
    frozen_clock.advance(timedelta(minutes=16))
    assert auth.login("081211112222", "135790", vendor=True).status_code == 302


def test_login_attempts_are_rate_limited(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    statuses = [auth.login(f"nobody{i}", "whatever-password").status_code for i in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429


def test_login_without_or_with_wrong_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_user(Role.ADMIN, secret=PASSWORDS[Role.ADMIN], username="boss")
    for token in (None, "forged-token"):
        data = {"username": "boss", "password": PASSWORDS[Role.ADMIN]}
        if token:
            data["csrf_token"] = token
        response = client.post("/login", data=data)
        assert response.status_code == 400
        assert "formulir" in response.get_data(as_text=True).lower()
        assert _session_user(client) is None


def test_open_redirect_after_login_is_refused(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_user(Role.ADMIN, secret=PASSWORDS[Role.ADMIN], username="boss")
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": "boss", "password": PASSWORDS[Role.ADMIN], "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("role", [Role.VENDOR, Role.OFFICER, Role.FINANCE])
def test_other_roles_get_403_on_admin_page(
    app: Flask, client: FlaskClient, auth: AuthActions, role: Role
) -> None:
    auth.login_as(role)
    response = client.get("/admin/pengguna")
    assert response.status_code == 403
    assert "akses" in response.get_data(as_text=True)


def test_admin_sees_users(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    admin = auth.login_as(Role.ADMIN)
    page = client.get("/admin/pengguna")
    assert page.status_code == 200
    assert admin.full_name in page.get_data(as_text=True)


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    response = client.get("/admin/pengguna")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/admin/pengguna")


def test_inactive_account_cannot_log_in(app: Flask, auth: AuthActions) -> None:
    with app.app_context():
        user = make_user(Role.ADMIN, secret=PASSWORDS[Role.ADMIN], username="gone")
        user.active = False
        db.session.commit()
    assert auth.login("gone", PASSWORDS[Role.ADMIN]).status_code == 401


def test_secrets_are_stored_hashed(app: Flask) -> None:
    with app.app_context():
        make_user(Role.VENDOR, secret="135790", phone="081233334444")
        stored = db.session.scalar(sa.select(User.secret_hash).where(User.phone == "6281233334444"))
    assert stored is not None and stored.startswith("$argon2id$") and "135790" not in stored
