"""The JSON API fuzzed from its own OpenAPI document (schemathesis), signed in as an
administrator (and, for the cash and deposit operations an administrator may not use, as an
officer of the market) against a market with a billed stall: whatever a client sends, in or
out of the schema, the answer is never a server error, and every answer (errors included) is
what the document says it is: its status, its content type, its body.

One check is left out: ``positive_data_acceptance``. The document gives each field's shape
(a string of at most 16 characters); the services check its meaning (a NIK of 16 digits, a
known market code) and refuse with 422 naming the field, which that check counts as a failure.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from retribusi import create_app
from retribusi.auth.models import Role
from retribusi.levy.billing import issue_bills
from tests.levy import factories as f
from tests.payments.factories import api_headers

pytestmark = pytest.mark.sweep


def _document() -> dict[str, Any]:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "t"})
    document: dict[str, Any] = app.test_client().get("/api/v1/openapi.json").get_json()
    return document


schema = schemathesis.openapi.from_dict(_document())


def _signed_in(app: Flask, client: FlaskClient, role: Role) -> dict[str, str]:
    with app.app_context():
        f.illustrative_tariffs()
        f.holding("KLEWER", area_m2="5")
        issue_bills("2026-11", actor="t", issued_on=date(2026, 11, 1))
    return api_headers(app, client, role).headers


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> dict[str, str]:
    return _signed_in(app, client, Role.ADMIN)


@pytest.fixture
def officer(app: Flask, client: FlaskClient) -> dict[str, str]:
    return _signed_in(app, client, Role.OFFICER)  # of KLEWER


def test_the_document_lists_every_operation() -> None:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 45
    assert {"GET /api/v1/bills", "POST /api/v1/qris-codes", "POST /api/v1/vendors"} <= {
        op.label for op in operations
    }


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_as_documented(case: Any, app: Flask, admin: dict[str, str]) -> None:
    case.call_and_validate(app=app, headers=admin, excluded_checks=[positive_data_acceptance])


@schema.include(path_regex="^/api/v1/(cash-payments|deposits)").parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_to_an_officer_is_as_documented(
    case: Any, app: Flask, officer: dict[str, str]
) -> None:
    case.call_and_validate(app=app, headers=officer, excluded_checks=[positive_data_acceptance])
