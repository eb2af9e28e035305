"""Every page and form of the demo city, as each kind of user, with hostile values: no answer is
a server error. GET routes get every query parameter the views read set to one hostile value at
a time; POST routes get every field name our forms declare (and a file) set the same way, with a
valid CSRF token, so the values reach the services' checks. The JSON API has its own fuzz
(tests/test_api_fuzz.py); the SNAP endpoints refuse unsigned calls before reading them.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient, FlaskCliRunner
from flask_wtf import FlaskForm

from tests.conftest import CSRF_RE, AuthActions

pytestmark = pytest.mark.sweep

# NUL on its own: retribusi.security refuses it before any view, so it would shield the rest.
HOSTILE = ["", "-1", "9" * 25, "2026-13-45", "ÿ'\"<", "A" * 3000, "\x00"]
# "²" is a digit to str.isdigit, not to int; "%" a LIKE wildcard.
IN_QUERIES = ["-1", "9" * 25, "2026-13-45", "ÿ'\"<%²", "\x00"]
#: Query parameters the views read (request.args), and a few they might.
PARAMETERS = [
    "market",
    "assignee",
    "assignee_id",
    "age",
    "bulan",
    "blok",
    "block",
    "channel",
    "date",
    "format",
    "from",
    "lang",
    "next",
    "officer_id",
    "page",
    "page_size",
    "paid_from",
    "paid_to",
    "pasar",
    "period",
    "q",
    "status",
    "to",
    "type",
    "unassigned",
    "vendor_id",
]
FORM_MODULES = (
    "retribusi.auth.forms",
    "retribusi.levy.forms",
    "vendors.forms",
    "payments.forms",
    "payments.va.admin",
    "reconcile.forms",
)


def _form_fields() -> set[str]:
    names: set[str] = set()
    for name in FORM_MODULES:
        module = importlib.import_module(name)
        for _n, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, FlaskForm) and cls is not FlaskForm:
                names |= {k for k, v in vars(cls).items() if hasattr(v, "field_class")}
    return names


def _urls(app: Flask, method: str) -> Iterator[str]:
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if method not in (rule.methods or ()) or rule.rule.startswith(("/snap", "/static")):
                continue
            if rule.endpoint.endswith("logout"):
                continue
            args: dict[str, object] = {}
            for arg in rule.arguments:
                converter = rule._converters.get(arg)
                choices = sorted(getattr(converter, "items", ()))
                if choices:  # <any(a, b):arg>
                    args[arg] = choices[0]
                elif "Int" in type(converter).__name__:
                    args[arg] = 1
                else:
                    args[arg] = "KLEWER" if "code" in arg else "A"
            yield url_for(rule.endpoint, **args)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # The sweep signs in again and again and posts to the sign-in forms: the login limits
    # (tested in tests/kernel/test_auth.py) would answer 429 before the forms are reached.
    return {**app_config, "RATELIMIT_ENABLED": False}


@pytest.fixture
def accounts(app: Flask, runner: FlaskCliRunner) -> list[dict[str, str]]:
    demo = runner.invoke(args=["demo", "--json"])
    assert demo.exit_code == 0, demo.output
    accounts: list[dict[str, str]] = json.loads(demo.output)["accounts"]
    return accounts


def _signed_in(app: Flask, account: dict[str, str]) -> tuple[FlaskClient, str]:
    client = app.test_client()
    done = AuthActions(app, client).login(
        account["login"], account["secret"], vendor=account["role"] == "vendor"
    )
    assert done.status_code == 302, account
    match = CSRF_RE.search(client.get("/", follow_redirects=True).get_data(as_text=True))
    assert match, account
    return client, match.group(1) or match.group(2)


def test_no_page_answers_hostile_query_values_with_a_server_error(
    app: Flask, accounts: list[dict[str, str]]
) -> None:
    failures, seen = [], Counter[int]()
    for account in accounts:
        client, _token = _signed_in(app, account)
        for url in _urls(app, "GET"):
            for value in IN_QUERIES:
                status = client.get(url, query_string=dict.fromkeys(PARAMETERS, value)).status_code
                seen[status // 100] += 1
                if status >= 500:
                    failures.append((account["role"], url, value[:12], status))
    assert not failures, failures
    assert seen[2] > 100 and seen[4] > 100, seen  # pages were shown, and values refused


def test_no_form_answers_hostile_values_with_a_server_error(
    app: Flask, accounts: list[dict[str, str]]
) -> None:
    fields = _form_fields()
    assert {"name", "pin", "file"} <= fields and len(fields) > 50
    failures, seen = [], Counter[int]()
    for account in accounts:
        client, token = _signed_in(app, account)
        for url in _urls(app, "POST"):
            for value in HOSTILE:
                data: dict[str, object] = dict.fromkeys(fields, value)
                data["file"] = (io.BytesIO(value.encode()), "hostile.csv")
                data["csrf_token"] = token
                status = client.post(url, data=data, content_type="multipart/form-data").status_code
                seen[status] += 1
                if status >= 500:
                    failures.append((account["role"], url, value[:12], status))
            if "/login" in client.get("/").headers.get("Location", "/login"):
                client, token = _signed_in(app, account)  # a form signed us out or changed a PIN
    assert not failures, failures
    assert seen[422] > 100, seen  # the values reached the services' checks
