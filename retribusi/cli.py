"""The ``retribusi`` console script: the Flask CLI bound to ``create_app``, plus our commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, NoAppException, with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from retribusi.audit import verify_chain
from retribusi.auth.models import Role, User
from retribusi.auth.services import create_api_token, create_user, known_market_codes, set_secret
from retribusi.errors import DomainError
from retribusi.extensions import db

DemoStep = Callable[[], dict[str, Any]]


def _app() -> Flask:
    from retribusi.app import create_app

    try:
        return create_app()
    except RuntimeError as error:  # a setting refused at start: said in one line, not a traceback
        raise NoAppException(str(error)) from None


def main() -> None:
    try:
        FlaskGroup(create_app=_app, help="e-Retribusi Pasar").main()
    except OperationalError as error:  # the database is down, unreachable or refuses us
        click.echo(f"error: the database did not answer: {error.orig}", err=True)
        sys.exit(1)


def emit(summary: dict[str, Any], as_json: bool, human: str) -> None:
    click.echo(json.dumps(summary, ensure_ascii=False, sort_keys=True) if as_json else human)


def error_text(error: DomainError, subject: str = "") -> str:
    """``error: [subject: ]message`` and one ``  field: reason`` line per entry."""
    head = f"error: {subject}: {error.message}" if subject else f"error: {error.message}"
    errors = error.details.get("errors", [])
    return "\n".join([head, *(f"  {e.get('field')}: {e.get('reason')}" for e in errors)])


def fail(error: DomainError, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"ok": False, **error.to_dict()}, ensure_ascii=False, sort_keys=True))
    else:
        click.echo(error_text(error), err=True)
    sys.exit(1)


def read_file(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of a command's input file (``-``: standard input); a file that
    cannot be read is click's file error with the reason, exit 1. Opened by the command, not by
    a ``click.File`` option, which stays open when a later option is refused."""
    try:
        with click.open_file(str(path), "rb") as handle:  # standard input is left open
            data: bytes = handle.read(limit)
    except OSError as error:
        raise click.FileError(str(path), hint=error.strerror or str(error)) from None
    return data


def write_file(path: Path, data: bytes) -> None:
    """Write a command's output file; a place it cannot be written (a folder, a missing folder,
    a name too long, no permission) is click's file error with the reason, exit 1."""
    try:
        path.write_bytes(data)
    except OSError as error:
        raise click.FileError(str(path), hint=error.strerror or str(error)) from None


def _read_secret(from_stdin: bool, role: Role) -> str:
    label = "PIN" if role is Role.VENDOR else "Password"
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt(label, hide_input=True, confirmation_prompt=True))


@click.group("users", help="Accounts: create, list, reset a password or PIN, issue API tokens.")
def users_cli() -> None:
    pass


@users_cli.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", "full_name", required=True, help="Full name shown in the app.")
@click.option("--username", help="Staff login (admin, finance, officer).")
@click.option("--phone", help="Vendor login: a phone number, e.g. 0812-3456-7890.")
@click.option("--market", "markets", multiple=True, help="Officer's market code; repeatable.")
@click.option("--secret-stdin", is_flag=True, help="Read the password or PIN from stdin.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_create(
    role: str,
    full_name: str,
    username: str | None,
    phone: str | None,
    markets: tuple[str, ...],
    secret_stdin: bool,
    as_json: bool,
) -> None:
    chosen = Role(role)
    try:
        user = create_user(
            role=chosen,
            full_name=full_name,
            username=username,
            phone=phone,
            market_codes=markets,
            known_markets=known_market_codes(),
            secret=_read_secret(secret_stdin, chosen),
            actor="cli",
        )
    except DomainError as error:
        fail(error, as_json)
        return
    emit(
        {
            "ok": True,
            "id": user.id,
            "role": user.role.value,
            "login": user.login_name,
            "markets": sorted(user.market_codes),
        },
        as_json,
        f"created {user.role.value} {user.login_name} (id {user.id})",
    )


@users_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_list(as_json: bool) -> None:
    users = db.session.scalars(select(User).order_by(User.id)).all()
    rows = [
        {
            "id": u.id,
            "role": u.role.value,
            "login": u.login_name,
            "name": u.full_name,
            "active": u.active,
            "markets": sorted(u.market_codes),
        }
        for u in users
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, sort_keys=True))
        return
    for user, row in zip(users, rows, strict=True):
        markets = ",".join(sorted(user.market_codes))
        click.echo(f"{row['id']:>5}  {row['role']:<8} {row['login']:<16} {row['name']}  {markets}")


def _user_by_login(login: str) -> User:
    from retribusi.auth.services import find_user
    from retribusi.errors import NotFound

    user = find_user(login)
    if user is None:
        raise NotFound(f"no account {login!r}")
    return user


@users_cli.command("set-secret")
@click.argument("login")
@click.option("--secret-stdin", is_flag=True, help="Read the password or PIN from stdin.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_set_secret(login: str, secret_stdin: bool, as_json: bool) -> None:
    """Set a new password (staff) or PIN (vendor) for LOGIN."""
    try:
        user = _user_by_login(login)
        set_secret(user.id, _read_secret(secret_stdin, user.role), actor="cli")
    except DomainError as error:
        fail(error, as_json)
        return
    emit({"ok": True, "id": user.id}, as_json, f"secret changed for {user.login_name}")


@users_cli.command("token")
@click.argument("login")
@click.option("--name", default="cli", show_default=True)
@click.option("--days", type=click.IntRange(1, 365), default=90, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_token(login: str, name: str, days: int, as_json: bool) -> None:
    """Issue an API bearer token for a staff account. It is shown once."""
    try:
        user = _user_by_login(login)
        token, plain = create_api_token(user.id, name=name, valid_days=days, actor="cli")
    except DomainError as error:
        fail(error, as_json)
        return
    expires = token.expires_at.isoformat() if token.expires_at else None
    emit({"ok": True, "token": plain, "expires_at": expires}, as_json, plain)


@click.group("audit", help="The tamper-evident audit trail.")
def audit_cli() -> None:
    pass


@audit_cli.command("verify")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def audit_verify(as_json: bool) -> None:
    """Check every audit event against its hash and its predecessor; exit 1 on any problem."""
    count, problems = verify_chain(db.session)
    summary = {
        "ok": not problems,
        "events": count,
        "problems": [{"seq": p.seq, "kind": p.kind, "message": p.message} for p in problems],
    }
    lines = [f"{count} events checked, {len(problems)} problem(s)"]
    lines += [f"  seq {p.seq}: {p.kind}: {p.message}" for p in problems]
    emit(summary, as_json, "\n".join(lines))
    if problems:
        sys.exit(1)


@click.command("demo")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def demo(as_json: bool) -> None:
    """Load demo accounts and data. Safe to run again; refused in production."""
    if current_app.config["ENV"] == "production":
        click.echo("error: demo data is never loaded in production", err=True)
        sys.exit(1)
    from retribusi.demo import load_accounts

    summary: dict[str, Any] = {"ok": True, "accounts": load_accounts()}
    steps: list[DemoStep] = current_app.extensions["retribusi.demo_steps"]
    for step in steps:
        summary.update(step())
    human = ["Demo accounts (sign in at http://127.0.0.1:5000/login):"]
    for account in summary["accounts"]:
        role, login, secret, page = (account[k] for k in ("role", "login", "secret", "page"))
        human.append(f"  {role:<8} {login:<16} {secret:<20} {page}")
    emit(summary, as_json, "\n".join(human))


def register(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(demo)
