"""A bank profile, vendors with bills, and the simulated bank signing real calls, for VA tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Flask

from payments.sim.bank import SimulatedBank
from payments.snap.models import VaType
from payments.va.services import va_numbers_for_vendor
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills, open_bills_for_vendor
from retribusi.levy.models import TariffVersion
from tests.levy import factories as f
from tests.snap.helpers import Registered, client_for, register

TODAY = date(2026, 11, 23)  # the frozen clock, in Jakarta
COMPANY_CODE = "12345"


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


def post_together(app: Flask, requests: list[tuple[dict[str, str], bytes]]) -> list[dict[str, Any]]:
    """Send payment flags at once, one thread (own app context, own connection) each."""
    barrier = threading.Barrier(len(requests))
    answers: list[dict[str, Any]] = [{} for _ in requests]

    def run(index: int) -> None:
        headers, body = requests[index]
        client = app.test_client()
        barrier.wait()
        reply = client.post("/snap/v1.0/transfer-va/payment", headers=headers, data=body)
        answers[index] = {"status": reply.status_code, **reply.get_json()}

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers
