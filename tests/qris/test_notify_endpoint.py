"""``POST /snap/v1.0/qr/qr-mpm-notify`` over HTTP with real SNAP signatures (both modes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from payments.models import Payment
from payments.qris.services import dynamic_code_for, stall_label
from payments.sim.client import SnapClient
from payments.snap.models import PartnerKind, SignatureMode, SnapAnswer, SnapCall
from retribusi.extensions import db
from retribusi.levy.models import Bill, BillStatus
from tests.qris.conftest import Billed
from tests.snap.helpers import client_for, register

NOTIFY = "/v1.0/qr/qr-mpm-notify"


@pytest.fixture
def symmetric(app: Flask) -> SnapClient:
    return client_for(app, register(app, code="ACQSYM", kind=PartnerKind.QRIS_ACQUIRER))


@pytest.fixture
def asymmetric(app: Flask) -> SnapClient:
    registered = register(
        app, code="ACQRSA", kind=PartnerKind.QRIS_ACQUIRER, signature_mode=SignatureMode.ASYMMETRIC
    )
    return client_for(app, registered)


def body(
    code_reference: str | None, amount_idr: int, ref: str = "RRN0001", **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "originalReferenceNo": ref,
        "latestTransactionStatus": "00",
        "transactionStatusDesc": "success",
        "amount": {"value": f"{amount_idr}.00", "currency": "IDR"},
        **extra,
    }
    if code_reference is not None:
        out["originalPartnerReferenceNo"] = code_reference
    return out


def payments_of(sender: str) -> list[Payment]:
    return list(db.session.scalars(sa.select(Payment).where(Payment.sender == sender)))


def bill_statuses() -> list[BillStatus]:
    db.session.expire_all()
    return [b.status for b in db.session.scalars(sa.select(Bill).order_by(Bill.due_on))]


def test_symmetric_notification_pays_the_bill_exactly_once(
    app: Flask, billed: Billed, symmetric: SnapClient
) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    db.session.commit()
    message = body(code.reference, code.amount_idr)
    first = symmetric.call(NOTIFY, message)
    assert (first.status, first.response_code) == (200, "2005200"), first.body
    # The acquirer did not see the answer and sends again: same X-EXTERNAL-ID, then a new one.
    again = symmetric.call(NOTIFY, message, external_id=first.external_id)
    assert again.response_code == "2005200"
    later = symmetric.call(NOTIFY, message)
    assert later.response_code == "2005200"
    (payment,) = payments_of("ACQSYM")
    assert payment.external_ref == "RRN0001"
    assert payment.amount_idr == code.amount_idr
    assert payment.raw["body"]  # the message as received
    assert bill_statuses() == [BillStatus.PAID, BillStatus.PAID]
    answers = [
        a
        for a in db.session.scalars(sa.select(SnapAnswer).order_by(SnapAnswer.call_id))
        if a.response_code.startswith("20052")  # not the token calls (service 73)
    ]
    assert [a.outcome for a in answers] == ["ok", "replay", "replay"]
    assert {a.payment_id for a in answers} == {payment.id}
    assert answers[1].replay_of == answers[0].call_id == answers[2].replay_of


def test_asymmetric_notification_for_a_static_stall_code(
    app: Flask, billed: Billed, asymmetric: SnapClient
) -> None:
    label = stall_label(billed.holding.stall)
    reply = asymmetric.call(NOTIFY, body(None, 50_000, externalStoreId=label), asymmetric=True)
    assert reply.response_code == "2005200", reply.body
    (payment,) = payments_of("ACQRSA")
    assert payment.stall_id == billed.holding.stall.id
    assert payment.vendor_id == billed.vendor_id
    assert bill_statuses()[0] is BillStatus.PARTIALLY_PAID


def test_bad_signature_records_nothing(app: Flask, billed: Billed, symmetric: SnapClient) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    db.session.commit()
    message = body(code.reference, code.amount_idr)
    signed = symmetric.signed_headers(NOTIFY, b'{"originalReferenceNo":"X"}', external_id="E1")
    sent = symmetric.transport.post("/snap" + NOTIFY, signed, symmetric_body(message))
    assert sent.status == 401
    assert sent.json()["responseCode"] == "4015200"
    assert sent.json()["responseMessage"] == "Unauthorized. [Signature]"
    assert payments_of("ACQSYM") == []
    # The refused call is still on record, with its answer.
    call = db.session.scalars(sa.select(SnapCall).order_by(SnapCall.id.desc())).first()
    assert call is not None
    assert call.body == symmetric_body(message).decode()


def symmetric_body(message: dict[str, Any]) -> bytes:
    import json

    return json.dumps(message, separators=(",", ":")).encode()


def test_asymmetric_partner_with_a_forged_key_is_refused(app: Flask, billed: Billed) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    registered = register(
        app, code="ACQRSA", kind=PartnerKind.QRIS_ACQUIRER, signature_mode=SignatureMode.ASYMMETRIC
    )
    registered.identity.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = client_for(app, registered)
    label = stall_label(billed.holding.stall)
    reply = forged.call(NOTIFY, body(None, 50_000, externalStoreId=label), asymmetric=True)
    assert reply.response_code == "4015200"
    assert payments_of("ACQRSA") == []


def test_refusals_carry_the_snap_codes(app: Flask, billed: Billed, symmetric: SnapClient) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    db.session.commit()
    cases = {
        "4045201": body("Q000000000000", 1000, ref="R1"),
        "4045213": body(code.reference, code.amount_idr + 1, ref="R2"),
        "4045200": body(code.reference, code.amount_idr, ref="R3", latestTransactionStatus="06"),
        "4005202": {"latestTransactionStatus": "00", "originalPartnerReferenceNo": code.reference},
        "4005201": body(code.reference, code.amount_idr, ref="R5")
        | {"amount": {"value": "12.5", "currency": "IDR"}},
    }
    for expected, message in cases.items():
        reply = symmetric.call(NOTIFY, message)
        assert reply.response_code == expected, (expected, reply.body)
        assert reply.status == int(expected[:3])
    assert payments_of("ACQSYM") == []


def test_late_payment_is_recorded_and_flagged(
    app: Flask, billed: Billed, symmetric: SnapClient, frozen_clock: Any
) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    db.session.commit()
    frozen_clock.advance(timedelta(hours=5))
    reply = symmetric.call(NOTIFY, body(code.reference, code.amount_idr))
    assert reply.response_code == "2005200"
    (payment,) = payments_of("ACQSYM")
    assert payment.flags["after_expiry"] is True


def test_reused_acquirer_reference_with_other_content(
    app: Flask, billed: Billed, symmetric: SnapClient
) -> None:
    first = dynamic_code_for(billed.vendor_id, billed.bill_ids[:1])
    second = dynamic_code_for(billed.vendor_id, billed.bill_ids[1:])
    db.session.commit()
    assert (
        symmetric.call(NOTIFY, body(first.reference, first.amount_idr)).response_code == "2005200"
    )
    reply = symmetric.call(NOTIFY, body(second.reference, second.amount_idr))
    assert reply.response_code == "4045218"
    assert len(payments_of("ACQSYM")) == 1


def test_a_bank_profile_may_not_notify_qris(app: Flask, billed: Billed) -> None:
    bank = client_for(app, register(app, code="JATENG"))
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    db.session.commit()
    reply = bank.call(NOTIFY, body(code.reference, code.amount_idr))
    assert reply.response_code == "4035201"
    assert payments_of("JATENG") == []
