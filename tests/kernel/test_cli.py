from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from retribusi.audit import AuditEvent
from retribusi.auth.models import User
from retribusi.extensions import db
from tests.vendors import factories as vf


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_users_create_officer_with_markets(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        vf.markets()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "officer",
            "--name",
            "Budi Santoso",
            "--username",
            "budi",
            "--market",
            "KLEWER",
            "--market",
            "GEDE",
            "--secret-stdin",
            "--json",
        ],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["ok"] and summary["markets"] == ["GEDE", "KLEWER"]
    listed = json.loads(runner.invoke(args=["users", "list", "--json"]).output)
    assert [u["login"] for u in listed] == ["budi"]


def test_users_create_vendor_normalises_phone(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "vendor",
            "--name",
            "Sri",
            "--phone",
            "0812 3456 7890",
            "--secret-stdin",
            "--json",
        ],
        input="135790\n",
    )
    assert json.loads(result.output)["login"] == "6281234567890"


def test_users_create_refuses_bad_input_and_writes_nothing(
    app: Flask, runner: FlaskCliRunner
) -> None:
    with app.app_context():
        vf.markets()
    events = _count(app, AuditEvent)
    cases = [
        (["--role", "vendor", "--name", "X", "--phone", "12345"], "135790", "phone"),
        (["--role", "vendor", "--name", "X", "--phone", "081234567890"], "111111", "pin"),
        (["--role", "officer", "--name", "X", "--username", "ofc"], "a-long-password", "markets"),
        (["--role", "admin", "--name", "X", "--username", "adm"], "short", "password"),
        (
            ["--role", "admin", "--name", "X", "--username", "Bad Name"],
            "a-long-password",
            "username",
        ),
        (
            ["--role", "finance", "--name", "X", "--username", "fin", "--market", "KLEWER"],
            "a-long-password",
            "markets",
        ),
        # A well-formed code the registry does not hold.
        (
            ["--role", "officer", "--name", "X", "--username", "ofc", "--market", "NOSUCH"],
            "a-long-password",
            "markets",
        ),
    ]
    for args, secret, field in cases:
        result = runner.invoke(
            args=["users", "create", *args, "--secret-stdin", "--json"], input=secret + "\n"
        )
        assert result.exit_code == 1, args
        body = json.loads(result.output)
        assert body["ok"] is False and body["details"]["errors"][0]["field"] == field
    assert _count(app, User) == 0
    assert _count(app, AuditEvent) == events


def test_duplicate_user_is_a_conflict(app: Flask, runner: FlaskCliRunner) -> None:
    args = [
        "users",
        "create",
        "--role",
        "admin",
        "--name",
        "A",
        "--username",
        "adm",
        "--secret-stdin",
        "--json",
    ]
    assert runner.invoke(args=args, input="a-long-password\n").exit_code == 0
    again = runner.invoke(args=args, input="a-long-password\n")
    assert again.exit_code == 1 and json.loads(again.output)["code"] == "conflict"
    assert _count(app, User) == 1 and _count(app, AuditEvent) == 1


def test_set_secret_and_token(app: Flask, runner: FlaskCliRunner) -> None:
    runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "finance",
            "--name",
            "F",
            "--username",
            "fin",
            "--secret-stdin",
        ],
        input="a-long-password\n",
    )
    changed = runner.invoke(
        args=["users", "set-secret", "fin", "--secret-stdin", "--json"],
        input="another-long-password\n",
    )
    assert changed.exit_code == 0
    token = json.loads(runner.invoke(args=["users", "token", "fin", "--json"]).output)["token"]
    assert token.startswith("rtb_")
    client = app.test_client()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    missing = runner.invoke(args=["users", "token", "nobody", "--json"])
    assert missing.exit_code == 1 and json.loads(missing.output)["code"] == "not_found"


def test_demo_is_idempotent_and_audited(app: Flask, runner: FlaskCliRunner) -> None:
    first = runner.invoke(args=["demo", "--json"])
    assert first.exit_code == 0, first.output
    roles = {a["role"] for a in json.loads(first.output)["accounts"]}
    assert roles == {"admin", "finance", "officer", "vendor"}
    users, events = _count(app, User), _count(app, AuditEvent)
    assert runner.invoke(args=["demo", "--json"]).exit_code == 0
    assert (_count(app, User), _count(app, AuditEvent)) == (users, events)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_demo_accounts_can_sign_in(app: Flask, runner: FlaskCliRunner) -> None:
    from tests.conftest import AuthActions

    accounts = json.loads(runner.invoke(args=["demo", "--json"]).output)["accounts"]
    for account in accounts:
        client = app.test_client()
        response = AuthActions(app, client).login(
            account["login"], account["secret"], vendor=account["role"] == "vendor"
        )
        assert response.status_code == 302, account


def test_demo_refused_in_production(app: Flask, runner: FlaskCliRunner) -> None:
    app.config["ENV"] = "production"
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 1 and _count(app, User) == 0
