from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from retribusi.auth.models import Role
from retribusi.clock import FrozenClock
from tests.conftest import PASSWORDS, AuthActions
from tests.factories import make_user


def _token(app: Flask, client: FlaskClient) -> str:
    with app.app_context():
        make_user(Role.FINANCE, secret=PASSWORDS[Role.FINANCE], username="fin")
    response = client.post(
        "/api/v1/tokens", json={"username": "fin", "password": PASSWORDS[Role.FINANCE]}
    )
    assert response.status_code == 201, response.get_json()
    token: str = response.get_json()["token"]
    return token


def test_token_then_me(app: Flask, client: FlaskClient) -> None:
    token = _token(app, client)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["role"] == "finance"
    assert client.get_cookie("retribusi_session") is None


def test_bad_tokens_get_401(app: Flask, client: FlaskClient, frozen_clock: FrozenClock) -> None:
    token = _token(app, client)
    for header in ("Bearer rtb_wrong", "Bearer ", "Basic abc", token):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.get_json()["code"] == "unauthorized"
    frozen_clock.advance(timedelta(days=366))
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_wrong_credentials_for_token(app: Flask, client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/tokens", json={"username": "nobody", "password": "nothing-here"}
    )
    assert response.status_code == 401
    assert response.get_json()["code"] == "login_failed"


def test_malformed_json_body_is_a_clear_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/tokens", data="{not json", content_type="application/json")
    assert response.status_code in {400, 422}
    body = response.get_json()
    assert body["status"] == response.status_code and body["message"]


def test_invalid_fields_name_the_field(client: FlaskClient) -> None:
    response = client.post("/api/v1/tokens", json={"username": "x" * 65, "valid_days": 10**20})
    assert response.status_code == 422
    errors = response.get_json()["details"]["errors"]["json"]
    assert {"username", "password", "valid_days"} <= set(errors)


def test_cookie_session_api_post_needs_csrf(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as(Role.FINANCE)
    assert client.get("/api/v1/me").status_code == 200
    response = client.post("/api/v1/tokens", json={"username": "a", "password": "b"})
    assert response.status_code == 400
    assert response.get_json()["code"] == "csrf_failed"


def test_vendor_sees_own_identity_only(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    vendor = auth.login_as(Role.VENDOR)
    body = client.get("/api/v1/me").get_json()
    assert body["id"] == vendor.id and body["role"] == "vendor"


def test_openapi_document_is_served(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/me" in spec["paths"] and "/api/v1/tokens" in spec["paths"]
