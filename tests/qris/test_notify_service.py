"""QRIS payment notifications, business part: parse, map to the code or stall, record once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from payments.ledger import credit_balance
from payments.models import Allocation, Channel, Payment
from payments.qris.notify import (
    NotifyError,
    apply_notification,
    parse_notification,
)
from payments.qris.services import dynamic_code_for, stall_label
from payments.snap.codes import Case, Service, response_code
from payments.verify import verify_ledger
from retribusi import clock
from retribusi.extensions import db
from retribusi.levy.models import Bill, BillStatus
from tests.levy import factories as f
from tests.qris.conftest import TODAY, Billed

ACQUIRER = "BANKJATENG-QRIS"
MONTH_IDR = 157_500


def body(**fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "originalReferenceNo": "A20261123000001",
        "latestTransactionStatus": "00",
        "transactionStatusDesc": "success",
    }
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


def amount(value_idr: int) -> dict[str, str]:
    return {"value": f"{value_idr}.00", "currency": "IDR"}


def notify(payload: dict[str, Any], sender: str = ACQUIRER) -> Any:
    return apply_notification(sender, parse_notification(payload), raw={"body": payload})


def refused_with(payload: dict[str, Any], case: Case) -> NotifyError:
    with pytest.raises(NotifyError) as info:
        notify(payload)
    assert info.value.case is case, info.value.message
    return info.value


def statuses() -> list[BillStatus]:
    db.session.expire_all()
    return [b.status for b in db.session.scalars(sa.select(Bill).order_by(Bill.due_on))]


def payments() -> int:
    return f.count(Payment)


def assert_ledger_ok() -> None:
    report = verify_ledger(db.session)
    assert report.ok, [v.to_dict() for v in report.violations]


# ------------------------------------------------------------------------------ dynamic codes


def test_dynamic_code_paid_once_exactly(billed: Billed) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    message = body(originalPartnerReferenceNo=code.reference, amount=amount(code.amount_idr))
    result = notify(message)
    assert not result.recorded.replayed
    assert result.kind == "dynamic"
    assert result.recorded.amount_idr == code.amount_idr
    assert result.recorded.credit_idr == 0
    assert [b.bill_id for b in result.recorded.bills] == billed.bill_ids
    assert statuses() == [BillStatus.PAID, BillStatus.PAID]
    payment = db.session.scalars(sa.select(Payment)).one()
    assert (payment.channel, payment.sender, payment.external_ref) == (
        Channel.QRIS,
        ACQUIRER,
        "A20261123000001",
    )
    assert payment.target_bill_ids == billed.bill_ids
    assert payment.flags == {"qris_code": code.reference}
    assert payment.raw == {"body": message}
    # The acquirer retries (a timeout on its side): the first answer, nothing written.
    again = notify(dict(message))
    assert again.recorded.replayed
    assert again.recorded.payment_id == result.recorded.payment_id
    assert payments() == 1
    assert f.count(Allocation) == len(db.session.scalars(sa.select(Allocation)).all())
    assert_ledger_ok()


def test_amount_may_be_omitted_for_a_dynamic_code(billed: Billed) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids[:1])
    result = notify(body(originalPartnerReferenceNo=code.reference))
    assert result.recorded.amount_idr == code.amount_idr


def test_amount_that_differs_is_refused(billed: Billed) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    error = refused_with(
        body(originalPartnerReferenceNo=code.reference, amount=amount(code.amount_idr - 1)),
        Case.INVALID_AMOUNT,
    )
    assert error.response_code(Service.QR_MPM_NOTIFY) == "4045213"
    assert payments() == 0


def test_unknown_reference_is_refused(billed: Billed) -> None:
    error = refused_with(
        body(originalPartnerReferenceNo="Q000000000000", amount=amount(1000)),
        Case.TRANSACTION_NOT_FOUND,
    )
    assert response_code(Service.QR_MPM_NOTIFY, error.case) == "4045201"
    refused_with(
        body(externalStoreId="KLEWER-Z-999", amount=amount(1000)), Case.TRANSACTION_NOT_FOUND
    )
    assert payments() == 0


@pytest.mark.parametrize("status", ["01", "02", "03", "04", "05", "06", "07", "99"])
def test_status_other_than_success_records_nothing(billed: Billed, status: str) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    error = refused_with(
        body(
            originalPartnerReferenceNo=code.reference,
            latestTransactionStatus=status,
            amount=amount(code.amount_idr),
        ),
        Case.INVALID_TRANSACTION_STATUS,
    )
    assert error.response_code(Service.QR_MPM_NOTIFY) == "4045200"
    assert payments() == 0


def test_payment_after_expiry_is_recorded_and_flagged(billed: Billed, frozen_clock: Any) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    frozen_clock.advance(timedelta(hours=3))  # the vendor paid a screenshot later that day
    result = notify(body(originalPartnerReferenceNo=code.reference, amount=amount(code.amount_idr)))
    assert result.flags["after_expiry"] is True
    payment = db.session.get(Payment, result.recorded.payment_id)
    assert payment is not None
    assert payment.flags["after_expiry"] is True
    assert payment.flags["code_expired_at"] == code.expires_at.isoformat()
    assert statuses() == [BillStatus.PAID, BillStatus.PAID]


def test_paid_time_from_the_acquirer_decides_expiry(billed: Billed, frozen_clock: Any) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    paid_at = clock.to_wib(clock.now() + timedelta(minutes=30))
    frozen_clock.advance(timedelta(hours=2))  # the notification itself arrives late
    result = notify(
        body(
            originalPartnerReferenceNo=code.reference,
            amount=amount(code.amount_idr),
            additionalInfo={"paidTime": paid_at.isoformat(timespec="seconds")},
        )
    )
    assert "after_expiry" not in result.flags
    assert result.recorded.paid_at == paid_at


def test_a_code_paid_twice_becomes_credit(billed: Billed) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids[:1])
    notify(body(originalPartnerReferenceNo=code.reference, amount=amount(code.amount_idr)))
    second = notify(
        body(
            originalReferenceNo="A20261123000002",
            originalPartnerReferenceNo=code.reference,
            amount=amount(code.amount_idr),
        )
    )
    assert second.flags["bills_already_paid"] == billed.bill_ids[:1]
    assert payments() == 2
    # Money received twice is kept: it pays the vendor's next bill, the rest is credit.
    owed_before = 2 * MONTH_IDR + 1_575
    assert statuses() == [BillStatus.PAID, BillStatus.PAID]
    assert credit_balance(billed.vendor_id) == 2 * code.amount_idr - owed_before
    assert_ledger_ok()


def test_same_reference_with_other_content_is_inconsistent(billed: Billed) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids[:1])
    other = dynamic_code_for(billed.vendor_id, billed.bill_ids[1:])
    notify(body(originalPartnerReferenceNo=code.reference, amount=amount(code.amount_idr)))
    error = refused_with(
        body(originalPartnerReferenceNo=other.reference, amount=amount(other.amount_idr)),
        Case.INCONSISTENT_REQUEST,
    )
    assert error.response_code(Service.QR_MPM_NOTIFY) == "4045218"
    assert payments() == 1


def test_two_acquirers_may_use_the_same_reference(billed: Billed) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    message = body(originalPartnerReferenceNo=code.reference, amount=amount(code.amount_idr))
    notify(message, sender="ACQ-A")
    notify(message, sender="ACQ-B")  # another acquirer's id space: a second payment
    assert payments() == 2


# ------------------------------------------------------------------------------- static codes


def test_static_code_pays_the_holders_oldest_bills(billed: Billed) -> None:
    label = stall_label(billed.holding.stall)
    result = notify(body(externalStoreId=label, amount=amount(100_000)))
    assert result.kind == "static"
    assert result.stall_id == billed.holding.stall.id
    assert result.recorded.vendor_id == billed.vendor_id
    assert [b.bill_id for b in result.recorded.bills] == [billed.bill_ids[0]]
    payment = db.session.get(Payment, result.recorded.payment_id)
    assert payment is not None
    assert payment.stall_id == billed.holding.stall.id
    assert payment.market_id == billed.holding.market.id
    assert payment.target_bill_ids == []
    assert payment.flags == {"stall_label": label}
    assert statuses() == [BillStatus.PARTIALLY_PAID, BillStatus.ISSUED]
    assert notify(body(externalStoreId=label, amount=amount(100_000))).recorded.replayed
    assert payments() == 1


def test_static_code_needs_an_amount(billed: Billed) -> None:
    refused_with(
        body(externalStoreId=stall_label(billed.holding.stall)), Case.INVALID_MANDATORY_FIELD
    )


def test_static_code_of_an_ended_shp_goes_to_its_last_holder(billed: Billed) -> None:
    placement = billed.holding.placement
    db.session.execute(
        sa.text("UPDATE placements SET status = 'revoked', ended_on = :d WHERE id = :id"),
        {"d": TODAY - timedelta(days=5), "id": placement.id},
    )
    db.session.commit()
    result = notify(body(externalStoreId=stall_label(billed.holding.stall), amount=amount(5000)))
    assert result.recorded.vendor_id == billed.vendor_id
    assert result.flags["holder_ended"] is True


def test_static_code_of_a_stall_never_held_is_refused(billed: Billed) -> None:
    empty = f.stall("KLEWER")
    refused_with(
        body(externalStoreId=stall_label(empty), amount=amount(5000)), Case.TRANSACTION_NOT_FOUND
    )


# -------------------------------------------------------------------------------- bad bodies


@pytest.mark.parametrize(
    ("payload", "case", "detail"),
    [
        ({}, Case.INVALID_MANDATORY_FIELD, "originalReferenceNo"),
        (body(originalReferenceNo=""), Case.INVALID_MANDATORY_FIELD, "originalReferenceNo"),
        (body(originalReferenceNo=12), Case.INVALID_FIELD_FORMAT, "originalReferenceNo"),
        (body(originalReferenceNo="A" * 65), Case.INVALID_FIELD_FORMAT, "originalReferenceNo"),
        (body(originalReferenceNo="has space"), Case.INVALID_FIELD_FORMAT, "originalReferenceNo"),
        (body(), Case.INVALID_MANDATORY_FIELD, "originalPartnerReferenceNo"),
        (
            body(latestTransactionStatus=None) | {"latestTransactionStatus": None},
            Case.INVALID_MANDATORY_FIELD,
            "latestTransactionStatus",
        ),
        (body(latestTransactionStatus=0), Case.INVALID_FIELD_FORMAT, "latestTransactionStatus"),
        (body(externalStoreId="S", amount="15000"), Case.INVALID_FIELD_FORMAT, "amount"),
        (
            body(externalStoreId="S", amount={"value": "15000.00"}),
            Case.INVALID_MANDATORY_FIELD,
            "amount.currency",
        ),
        (
            body(externalStoreId="S", amount={"currency": "IDR"}),
            Case.INVALID_MANDATORY_FIELD,
            "amount.value",
        ),
        (
            body(externalStoreId="S", amount={"value": "15000.00", "currency": "USD"}),
            Case.INVALID_FIELD_FORMAT,
            "amount.currency",
        ),
        (
            body(externalStoreId="S", amount={"value": "15000.50", "currency": "IDR"}),
            Case.INVALID_FIELD_FORMAT,
            "amount.value",
        ),
        (
            body(externalStoreId="S", amount={"value": "15000", "currency": "IDR"}),
            Case.INVALID_FIELD_FORMAT,
            "amount.value",
        ),
        (
            body(externalStoreId="S", amount={"value": 15000, "currency": "IDR"}),
            Case.INVALID_FIELD_FORMAT,
            "amount.value",
        ),
        (
            body(externalStoreId="S", amount={"value": "0.00", "currency": "IDR"}),
            Case.INVALID_FIELD_FORMAT,
            "amount.value",
        ),
        (
            body(externalStoreId="S", amount={"value": "10000001.00", "currency": "IDR"}),
            Case.INVALID_FIELD_FORMAT,
            "amount.value",
        ),
        (
            body(externalStoreId="S", amount={"value": "-5.00", "currency": "IDR"}),
            Case.INVALID_FIELD_FORMAT,
            "amount.value",
        ),
        (body(externalStoreId="S", additionalInfo=[]), Case.INVALID_FIELD_FORMAT, "additionalInfo"),
        (
            body(externalStoreId="S", additionalInfo={"paidTime": "yesterday"}),
            Case.INVALID_FIELD_FORMAT,
            "additionalInfo.paidTime",
        ),
        (
            body(externalStoreId="S", additionalInfo={"paidTime": "2026-11-23T10:00:00"}),
            Case.INVALID_FIELD_FORMAT,
            "additionalInfo.paidTime",
        ),
    ],
)
def test_bad_bodies_name_the_field(
    billed: Billed, payload: dict[str, Any], case: Case, detail: str
) -> None:
    with pytest.raises(NotifyError) as info:
        parse_notification(payload)
    assert info.value.case is case
    assert info.value.detail == detail
    assert payments() == 0


def test_paid_time_in_the_future_is_refused(billed: Billed) -> None:
    future = clock.to_wib(clock.now() + timedelta(hours=2)).isoformat()
    error = refused_with(
        body(
            externalStoreId=stall_label(billed.holding.stall),
            amount=amount(5000),
            additionalInfo={"paidTime": future},
        ),
        Case.INVALID_FIELD_FORMAT,
    )
    assert error.detail == "additionalInfo.paidTime"
    assert payments() == 0
