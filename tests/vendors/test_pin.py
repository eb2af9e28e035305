"""The officer sets or resets a vendor's PIN at the market; the vendor then signs in with it."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from retribusi.audit import AuditEvent
from retribusi.auth.models import Role, User
from retribusi.extensions import db
from tests.conftest import AuthActions, csrf_token
from tests.vendors.test_pages import setup_registry
from vendors.models import Vendor


def post_pin(client: FlaskClient, vendor_id: int, pin: str, confirm: str) -> tuple[int, str]:
    path = f"/pedagang/{vendor_id}/pin"
    data = {"pin": pin, "confirm": confirm, "csrf_token": csrf_token(client, path)}
    response = client.post(path, data=data)
    return response.status_code, response.get_data(as_text=True)


def logins(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(User)) or 0)


def test_an_officer_creates_then_resets_a_vendors_login(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = setup_registry(app)
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    before = logins(app)
    assert "Buat akun masuk" in client.get(f"/pedagang/{ids['sri']}/pin").get_data(as_text=True)
    assert post_pin(client, ids["sri"], "480215", "480215")[0] == 302
    assert logins(app) == before + 1
    with app.app_context():
        vendor = db.session.get(Vendor, ids["sri"])
        assert vendor is not None and vendor.user_id is not None
        phone = vendor.phone
        assert db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action == "vendor.login_created")
        ).all()
    assert post_pin(client, ids["sri"], "731904", "731904")[0] == 302  # a reset
    assert logins(app) == before + 1
    auth.logout()
    signed_in = auth.login(phone, "731904", vendor=True)
    assert signed_in.status_code == 302


def test_bad_pins_are_refused_and_change_nothing(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = setup_registry(app)
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    before = logins(app)
    for pin, confirm, message in (
        ("480215", "480216", "kedua PIN berbeda"),
        ("12345", "12345", "PIN harus tepat 6 angka"),
        ("abcdef", "abcdef", "PIN harus tepat 6 angka"),
        ("123456", "123456", "PIN ini terlalu mudah ditebak"),
    ):
        status, page = post_pin(client, ids["sri"], pin, confirm)
        assert status == 422 and message in page, (pin, status)
    assert logins(app) == before
    response = client.post(
        f"/pedagang/{ids['sri']}/pin", data={"pin": "480215", "confirm": "480215"}
    )
    assert response.status_code == 400  # no CSRF token
    assert logins(app) == before


def test_an_officer_cannot_set_a_pin_in_another_market(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = setup_registry(app)
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    assert client.get(f"/pedagang/{ids['budi']}/pin").status_code == 403
    auth.logout()
    auth.login_as(Role.FINANCE)
    assert client.get(f"/pedagang/{ids['sri']}/pin").status_code == 403  # finance only reads
