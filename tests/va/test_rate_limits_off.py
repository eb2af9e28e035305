"""``RATELIMIT_ENABLED = False`` (a gateway in front limits instead): the banks are answered as
usual, however many calls they make, and the next application built has its limits again."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from retribusi import create_app
from retribusi.extensions import limiter
from tests.conftest import base_config
from tests.va.fixtures import bank, billed_vendor


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    return {**base_config(database_url), "RATELIMIT_ENABLED": False, "SNAP_RATE_LIMIT": "1/minute"}


def test_without_rate_limits_every_call_is_answered(app: Flask) -> None:
    _reg, sim = bank(app)
    vendor = billed_vendor(app)
    for _ in range(3):  # three times the (switched off) allowance
        reply = sim.inquiry(vendor.va)
        assert reply.body["responseCode"] == "2002400", reply.body
    paid = sim.flag(vendor.va, vendor.owed_idr, request_id=sim.new_request_id())
    assert paid.body["responseCode"] == "2002500", paid.body


def test_the_next_application_has_its_limits(app: Flask, database_url: str) -> None:
    assert limiter.enabled is False
    create_app(base_config(database_url))
    assert limiter.enabled is True
