"""A bank profile, vendors with bills, and the simulated bank signing real calls, for VA tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from flask import Flask

from payments.sim.bank import SimulatedBank
from payments.snap.models import VaType
from payments.va.services import va_numbers_for_vendor
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills, open_bills_for_vendor
from retribusi.levy.models import TariffVersion
from tests.factories import run_together
from tests.levy import factories as f
from tests.snap.helpers import Registered, client_for, register

TODAY = date(2026, 11, 23)  # the frozen clock, in Jakarta
COMPANY_CODE = "12345"
PAYMENT = "/v1.0/transfer-va/payment"


@dataclass
class Billed:
    vendor_id: int
    name: str
    va: str  # digits the payer types
    owed_idr: int
    bill_ids: list[int]


def bank(
    app: Flask, *, va_type: VaType = VaType.CLOSED, code: str = "JATENG", **extra: object
) -> tuple[Registered, SimulatedBank]:
    registered = register(app, code=code, company_code=COMPANY_CODE, va_type=va_type, **extra)
    simulated = SimulatedBank(client_for(app, registered), code=code, company_code=COMPANY_CODE)
    return registered, simulated


def billed_vendor(
    app: Flask,
    *,
    name: str | None = None,
    months: tuple[str, ...] = ("2026-11",),
    code: str = "JATENG",
) -> Billed:
    with app.app_context():
        if not f.count(TariffVersion):
            f.illustrative_tariffs()
        holding = f.holding("KLEWER", area_m2="5", vendor_row=f.vendor(name) if name else None)
        for month in months:
            first = date(int(month[:4]), int(month[5:]), 1)
            issue_bills(month, actor="test", issued_on=min(first, TODAY))
        bills = open_bills_for_vendor(holding.vendor.id, TODAY)
        [number] = [n for n in va_numbers_for_vendor(holding.vendor.id) if n.bank_code == code]
        result = Billed(
            holding.vendor.id,
            holding.vendor.full_name,
            number.digits,
            sum(b.outstanding_idr for b in bills),
            [b.bill_id for b in bills],
        )
        db.session.remove()
    return result


def signed_flag(
    sim: SimulatedBank,
    vendor: Billed,
    amount_idr: int,
    *,
    request_id: str,
    external_id: str,
    **extra: str,
) -> tuple[dict[str, str], bytes]:
    """A payment flag for ``vendor``'s VA at ``sim``'s bank, and its signed headers."""
    body = json.dumps(
        {
            "partnerServiceId": COMPANY_CODE.rjust(8),
            "customerNo": vendor.va[5:],
            "virtualAccountNo": COMPANY_CODE.rjust(8) + vendor.va[5:],
            "paymentRequestId": request_id,
            "paidAmount": {"value": f"{amount_idr}.00", "currency": "IDR"},
            **extra,
        }
    ).encode()
    return sim.client.signed_headers(PAYMENT, body, external_id=external_id), body


def post_together(app: Flask, requests: list[tuple[dict[str, str], bytes]]) -> list[dict[str, Any]]:
    """Send payment flags at once, one thread (own app context, own connection) each."""

    def post(headers: dict[str, str], body: bytes) -> dict[str, Any]:
        reply = app.test_client().post("/snap" + PAYMENT, headers=headers, data=body)
        return {"status": reply.status_code, **reply.get_json()}

    answers = run_together(app, [partial(post, headers, body) for headers, body in requests])
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers
