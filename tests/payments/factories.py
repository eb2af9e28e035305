"""Payments made through the real payment core, for tests."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from payments.ledger import PaymentIn, Recorded, record_payment
from payments.models import Channel
from retribusi import clock
from retribusi.auth.models import Role
from tests.conftest import PASSWORDS
from tests.factories import make_user

_refs = itertools.count(1)


def payment_in(
    vendor_id: int,
    amount_idr: int,
    *,
    paid_at: datetime | None = None,
    ref: str | None = None,
    channel: Channel = Channel.COUNTER,
    sender: str = "kantor-dinas",
    targets: tuple[int, ...] = (),
) -> PaymentIn:
    reference = ref if ref is not None else f"T-{next(_refs):06d}"
    return PaymentIn(
        channel=channel,
        sender=sender,
        external_ref=reference,
        vendor_id=vendor_id,
        amount_idr=amount_idr,
        paid_at=paid_at or clock.now(),
        raw={"test": reference, "amount": amount_idr},
        recorded_by="test",
        target_bill_ids=targets,
    )


def pay(vendor_id: int, amount_idr: int, **kwargs: object) -> Recorded:
    return record_payment(payment_in(vendor_id, amount_idr, **kwargs))  # type: ignore[arg-type]


# --- pages and the API ------------------------------------------------------------------------

KEY_RE = re.compile(r'name="idempotency_key" type="hidden" value="([^"]*)"')


def form_key(page: str) -> str:
    """The idempotency key a cash form was opened with."""
    found = KEY_RE.search(page)
    assert found, "no idempotency key on the form"
    return found.group(1)


def api_headers(app: Flask, client: FlaskClient, role: Role, **kwargs: Any) -> ApiUser:
    """A user of ``role`` and the bearer header of a token issued to them through the API."""
    with app.app_context():
        user = make_user(role, secret=PASSWORDS[role], **kwargs)
        user_id, login = user.id, user.login_name
    assert role is not Role.VENDOR, "vendors use the API through their signed-in session"
    response = client.post("/api/v1/tokens", json={"username": login, "password": PASSWORDS[role]})
    assert response.status_code == 201, response.get_json()
    plain = response.get_json()["token"]
    return ApiUser(user_id, {"Authorization": f"Bearer {plain}"})


@dataclass(frozen=True)
class ApiUser:
    id: int
    headers: dict[str, str]
