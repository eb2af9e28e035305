"""The payment ledger on a real database: allocation, credit, replays, reversals, receipts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from payments.ledger import credit_balance, record_payment, reverse_payment
from payments.models import (
    Allocation,
    Channel,
    Component,
    CreditEntry,
    CreditReason,
    Payment,
    PaymentReversal,
    Receipt,
)
from payments.receipts import public_key, verify_receipt
from payments.signing import verify_token
from payments.verify import verify_ledger
from retribusi.audit import AuditEvent
from retribusi.errors import Conflict, DomainError, NotFound, ValidationFailed
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills, open_bills_for_vendor
from retribusi.levy.errors import reason_of
from retribusi.levy.models import Bill
from tests.levy import factories as f
from tests.payments.factories import pay, payment_in

TODAY = date(2026, 11, 23)  # the frozen clock, in Jakarta
MONTH_IDR = 157_500  # a 5 m² Klewer kios under the illustrative table


@pytest.fixture(autouse=True)
def context(app: Flask) -> Any:
    with app.app_context():
        yield


@pytest.fixture
def klewer(app: Flask) -> f.Holding:
    f.illustrative_tariffs()
    return f.holding("KLEWER", area_m2="5")


def issue(*months: str) -> list[Bill]:
    for month in months:
        first = date(int(month[:4]), int(month[5:]), 1)
        issue_bills(month, actor="test", issued_on=min(first, TODAY))
    return list(db.session.scalars(sa.select(Bill).order_by(Bill.due_on)))


def written() -> tuple[int, int, int, int, int]:
    return (
        f.count(Payment),
        f.count(Allocation),
        f.count(CreditEntry),
        f.count(Receipt),
        f.count(PaymentReversal),
    )


def statuses() -> list[str]:
    db.session.expire_all()
    return [b.status.value for b in db.session.scalars(sa.select(Bill).order_by(Bill.due_on))]


def assert_ledger_ok() -> None:
    report = verify_ledger(db.session)
    assert report.ok, [v.to_dict() for v in report.violations]


def refused(call: Any, kind: type[DomainError], reason: str) -> None:
    before = written()
    with pytest.raises(kind) as caught:
        call()
    assert reason_of(caught.value) == reason
    db.session.rollback()
    assert written() == before


def test_oldest_bill_first_principal_before_sanction(klewer: f.Holding) -> None:
    august, september, october = issue("2026-08", "2026-09", "2026-10")
    # On 23 Nov: August 3 months late (4 725), September 2 (3 150), October 1 (1 575).
    paid = pay(klewer.vendor.id, 2 * MONTH_IDR + 1_000)
    assert [(b.number, b.principal_idr, b.sanction_idr) for b in paid.bills] == [
        (august.number, MONTH_IDR, 0),
        (september.number, MONTH_IDR, 0),
        (october.number, 1_000, 0),
    ]
    assert paid.credit_idr == 0
    assert statuses() == ["partially_paid", "partially_paid", "partially_paid"]
    # Paying the principal stopped the sanction on it: what is left is exactly what accrued.
    left = open_bills_for_vendor(klewer.vendor.id, TODAY)
    assert [(b.principal_outstanding_idr, b.sanction_outstanding_idr) for b in left] == [
        (0, 4_725),
        (0, 3_150),
        (MONTH_IDR - 1_000, 1_575),
    ]
    assert_ledger_ok()


def test_bill_by_bill_order_is_configuration(app: Flask, klewer: f.Holding) -> None:
    app.config["ALLOCATION_ORDER"] = "bill_by_bill"
    august, september = issue("2026-08", "2026-09")
    paid = pay(klewer.vendor.id, MONTH_IDR + 4_725 + 100)
    assert [(b.number, b.principal_idr, b.sanction_idr) for b in paid.bills] == [
        (august.number, MONTH_IDR, 4_725),
        (september.number, 100, 0),
    ]
    assert statuses() == ["paid", "partially_paid"]


def test_excess_becomes_credit_that_pays_the_next_bill(klewer: f.Holding) -> None:
    (november,) = issue("2026-11")
    paid = pay(klewer.vendor.id, MONTH_IDR + 50_000)
    assert (paid.allocated_idr, paid.credit_idr) == (MONTH_IDR, 50_000)
    assert credit_balance(klewer.vendor.id) == 50_000
    # December is billed on 1 Dec: the credit pays part of it at once.
    summary = issue_bills("2026-12", actor="test")
    assert summary.credit_applied_idr == 50_000
    assert credit_balance(klewer.vendor.id) == 0
    assert statuses() == ["paid", "partially_paid"]
    (december,) = open_bills_for_vendor(klewer.vendor.id, TODAY)
    assert december.principal_outstanding_idr == MONTH_IDR - 50_000
    applied = db.session.scalars(
        sa.select(CreditEntry).where(CreditEntry.reason == CreditReason.APPLIED)
    ).one()
    assert (applied.amount_idr, applied.payment_id) == (-50_000, paid.payment_id)
    # The answer to a replay is still what the payment did when it arrived.
    again = record_payment(payment_in(klewer.vendor.id, MONTH_IDR + 50_000, ref="R1"))
    assert again.replayed is False  # a new reference, a new payment: all of it pays December
    assert_ledger_ok()
    assert november.number in {b.number for b in paid.bills}


def test_a_payment_aimed_at_a_bill_pays_it_first(klewer: f.Holding) -> None:
    august, september, october = issue("2026-08", "2026-09", "2026-10")
    # October is a month late on 23 Nov: 1 575 of sanction, paid with it.
    paid = pay(klewer.vendor.id, MONTH_IDR + 1_575, targets=(october.id,))
    assert [(b.number, b.principal_idr, b.sanction_idr) for b in paid.bills] == [
        (october.number, MONTH_IDR, 1_575)
    ]
    assert statuses() == ["issued", "issued", "paid"]
    assert {august.id, september.id}.isdisjoint({b.bill_id for b in paid.bills})


def test_a_vendor_with_nothing_owed_gets_credit(klewer: f.Holding) -> None:
    paid = pay(klewer.vendor.id, 10_000)
    assert (paid.bills, paid.credit_idr) == ((), 10_000)
    assert paid.receipt_number.startswith("SSRD/2026/")
    assert_ledger_ok()


def test_a_replay_returns_the_first_answer_and_writes_nothing(klewer: f.Holding) -> None:
    issue("2026-11")
    first = pay(klewer.vendor.id, 100_000, ref="BANK-1")
    before = (*written(), f.count(AuditEvent))
    again = record_payment(
        payment_in(klewer.vendor.id, 100_000, ref="BANK-1", paid_at=first.paid_at)
    )
    assert again.replayed and not first.replayed
    assert (again.payment_id, again.receipt_number, again.bills) == (
        first.payment_id,
        first.receipt_number,
        first.bills,
    )
    assert (*written(), f.count(AuditEvent)) == before


def test_a_reference_reused_with_another_amount_is_a_conflict(klewer: f.Holding) -> None:
    issue("2026-11")
    first = pay(klewer.vendor.id, 100_000, ref="BANK-2")
    refused(
        lambda: record_payment(
            payment_in(klewer.vendor.id, 90_000, ref="BANK-2", paid_at=first.paid_at)
        ),
        Conflict,
        "reused",
    )
    # The same reference from another sender is another payment.
    other = pay(klewer.vendor.id, 90_000, ref="BANK-2", sender="bank-lain")
    assert other.payment_id != first.payment_id


@pytest.mark.parametrize(
    ("amount", "reason"),
    [(0, "not_positive"), (-1, "not_positive"), (100_000_001, "too_large"), (True, "type")],
)
def test_bad_amounts_are_refused(klewer: f.Holding, amount: Any, reason: str) -> None:
    refused(lambda: pay(klewer.vendor.id, amount), ValidationFailed, reason)


def test_a_fractional_amount_cannot_reach_the_ledger(klewer: f.Holding) -> None:
    refused(lambda: pay(klewer.vendor.id, 1500.5), ValidationFailed, "type")


def test_unknown_vendor_bad_times_and_foreign_bills_are_refused(klewer: f.Holding) -> None:
    (bill,) = issue("2026-11")
    other = f.holding("LEGI")
    refused(lambda: pay(999_999, 1_000), NotFound, "not_found")
    refused(
        lambda: pay(klewer.vendor.id, 1_000, paid_at=datetime(2026, 11, 23, 3)),  # noqa: DTZ001
        ValidationFailed,
        "naive",
    )
    refused(
        lambda: pay(klewer.vendor.id, 1_000, paid_at=datetime.now(UTC) + timedelta(days=400)),
        ValidationFailed,
        "future",
    )
    refused(
        lambda: pay(other.vendor.id, 1_000, targets=(bill.id,)), ValidationFailed, "not_vendors"
    )
    refused(lambda: pay(klewer.vendor.id, 1_000, ref=""), ValidationFailed, "length")
    refused(lambda: pay(klewer.vendor.id, 1_000, ref="x" * 129), ValidationFailed, "length")
    refused(lambda: pay(klewer.vendor.id, 1_000, ref="a\nb"), ValidationFailed, "characters")
    refused(lambda: pay(10**30, 1_000), NotFound, "not_found")
    refused(
        lambda: pay(klewer.vendor.id, 1_000, targets=(10**30,)), ValidationFailed, "not_vendors"
    )


def test_a_reversal_reopens_the_bills_and_withdraws_the_credit(klewer: f.Holding) -> None:
    issue("2026-10", "2026-11")
    paid = pay(klewer.vendor.id, 2 * MONTH_IDR + 1_575 + 5_000)
    assert statuses() == ["paid", "paid"] and paid.credit_idr == 5_000
    done = reverse_payment(
        paid.payment_id, reference="RVSL-9", reason="bank reversed the transfer", actor="test"
    )
    assert len(done.reopened_bill_ids) == 2 and done.credit_withdrawn_idr == 5_000
    assert statuses() == ["issued", "issued"]
    assert credit_balance(klewer.vendor.id) == 0
    negatives = db.session.scalars(sa.select(Allocation).where(Allocation.amount_idr < 0)).all()
    assert sorted(-a.amount_idr for a in negatives) == sorted(
        a.amount_idr
        for a in db.session.scalars(sa.select(Allocation).where(Allocation.amount_idr > 0))
    )
    assert db.session.scalars(sa.select(AuditEvent.action)).all()[-1] == "payment.reversed"
    assert_ledger_ok()
    refused(
        lambda: reverse_payment(
            paid.payment_id, reference="RVSL-10", reason="a second time by mistake", actor="t"
        ),
        Conflict,
        "already_reversed",
    )
    refused(
        lambda: reverse_payment(paid.payment_id, reference="R", reason="short", actor="t"),
        ValidationFailed,
        "required",
    )
    refused(
        lambda: reverse_payment(424242, reference="R", reason="no such payment here", actor="t"),
        NotFound,
        "not_found",
    )


def test_reversing_a_payment_lets_other_credit_pay_what_reopened(klewer: f.Holding) -> None:
    issue("2026-11")
    bill_payment = pay(klewer.vendor.id, MONTH_IDR)
    pay(klewer.vendor.id, 20_000)  # nothing left to pay: credit
    assert credit_balance(klewer.vendor.id) == 20_000
    reverse_payment(
        bill_payment.payment_id, reference="R-1", reason="cheque bounced at the bank", actor="t"
    )
    assert credit_balance(klewer.vendor.id) == 0
    assert statuses() == ["partially_paid"]
    assert_ledger_ok()


def test_receipts_are_numbered_per_year_and_signed(klewer: f.Holding) -> None:
    issue("2026-11")
    first, second = pay(klewer.vendor.id, 50_000), pay(klewer.vendor.id, 50_000)
    assert (first.receipt_number, second.receipt_number) == (
        "SSRD/2026/0000001",
        "SSRD/2026/0000002",
    )
    receipt = db.session.scalars(
        sa.select(Receipt).where(Receipt.number == first.receipt_number)
    ).one()
    payload = verify_token(public_key(), receipt.token)
    assert payload == receipt.payload
    assert (payload["a"], payload["c"], payload["k"], payload["v"]) == (
        50_000,
        "counter",
        1,
        klewer.vendor.full_name,
    )
    verdict = verify_receipt(receipt.token)
    assert verdict.valid and verdict.receipt is not None and not verdict.reversed
    # One character changed anywhere makes the link invalid.
    for position in (5, len(receipt.token) // 2, len(receipt.token) - 3):
        changed = receipt.token[position]
        tampered = (
            receipt.token[:position]
            + ("A" if changed != "A" else "B")
            + receipt.token[position + 1 :]
        )
        assert not verify_receipt(tampered).valid
    reverse_payment(first.payment_id, reference="R", reason="refunded at the counter", actor="t")
    assert verify_receipt(receipt.token).reversed


def test_money_facts_cannot_be_changed_in_the_database(klewer: f.Holding) -> None:
    issue("2026-11")
    pay(klewer.vendor.id, MONTH_IDR + 10_000)  # a row in every table of facts
    for statement in (
        sa.update(Payment).values(amount_idr=1),
        sa.update(Allocation).values(amount_idr=1),
        sa.delete(Allocation),
        sa.delete(Receipt),
        sa.update(CreditEntry).values(amount_idr=1),
    ):
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(statement)
        db.session.rollback()
    assert_ledger_ok()


def test_the_database_refuses_paying_a_voided_bill(klewer: f.Holding) -> None:
    from retribusi.levy.billing import void_bill

    (bill,) = issue("2026-11")
    void_bill(bill.id, reason="wrong stall on this bill", actor="t")
    paid = pay(klewer.vendor.id, 1_000)  # nothing open: credit
    db.session.add(
        Allocation(
            payment_id=paid.payment_id,
            bill_id=bill.id,
            component=Component.PRINCIPAL,
            amount_idr=1_000,
            paid_on=TODAY,
            created_at=datetime.now(UTC),
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def _disable_triggers() -> None:
    """Break the ledger by hand, past the database's own guards (an operator with psql)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SET session_replication_role = replica"))
    else:
        db.session.execute(sa.text("DROP TRIGGER allocations_within_bill"))


def test_ledger_verify_passes_then_names_each_broken_invariant(
    klewer: f.Holding, runner: FlaskCliRunner
) -> None:
    issue("2026-10", "2026-11")
    paid = pay(klewer.vendor.id, 100_000)
    ok = runner.invoke(args=["ledger", "verify", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True
    _disable_triggers()
    october, november = db.session.scalars(sa.select(Bill).order_by(Bill.due_on)).all()
    for bill in (october, november):  # October paid twice over; November paid, still "issued"
        db.session.add(
            Allocation(
                payment_id=paid.payment_id,
                bill_id=bill.id,
                component=Component.PRINCIPAL,
                amount_idr=MONTH_IDR,
                paid_on=TODAY,
                created_at=datetime.now(UTC),
            )
        )
    db.session.commit()
    broken = runner.invoke(args=["ledger", "verify", "--json"])
    assert broken.exit_code == 1
    body = json.loads(broken.output)
    checks = {(v["check"], v["subject"]) for v in body["violations"]}
    assert ("payment_balance", f"payment:{paid.payment_id}") in checks
    assert ("bill_over_allocated", f"bill:{october.number}") in checks
    assert ("bill_status", f"bill:{november.number}") in checks
    human = runner.invoke(args=["ledger", "verify"])
    assert human.exit_code == 1 and "payment_balance" in human.output


def test_the_cli_reverses_a_payment(klewer: f.Holding, runner: FlaskCliRunner) -> None:
    issue("2026-11")
    paid = pay(klewer.vendor.id, MONTH_IDR)
    args = ["ledger", "reverse", str(paid.payment_id), "--reference", "RV-1"]
    result = runner.invoke(args=[*args, "--reason", "bank reversal on 23 Nov", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["reopened_bill_ids"] == [paid.bills[0].bill_id]
    again = runner.invoke(args=[*args, "--reason", "bank reversal on 23 Nov", "--json"])
    assert again.exit_code == 1
    assert json.loads(again.output)["code"] == "conflict"
    assert statuses() == ["issued"]


def test_a_late_arriving_payment_is_not_charged_the_sanction_it_would_have_stopped(
    klewer: f.Holding,
) -> None:
    """September's bill (due 10 Sep, 1 % a month late) is unpaid. Today (23 Nov) a bank payment
    pays 100 000 of its principal; then cash taken on 15 Oct reaches us. Counted from 15 Oct,
    its principal stops the sanction on that part from then on: the bill owes the sanction of
    October on all of it and of November on the 100 000 still open after 15 Oct, not the
    sanction of two months on all of it."""
    (september,) = issue("2026-09")
    [as_today] = open_bills_for_vendor(klewer.vendor.id, TODAY)
    assert as_today.sanction_outstanding_idr == 2 * MONTH_IDR // 100
    bank = pay(klewer.vendor.id, 100_000)
    assert [(b.principal_idr, b.sanction_idr) for b in bank.bills] == [(100_000, 0)]
    cash = pay(klewer.vendor.id, 200_000, paid_at=datetime(2026, 10, 15, 3, 0, tzinfo=UTC))
    sanction = MONTH_IDR // 100 + 100_000 // 100  # October on all, November on 100 000
    assert [(b.principal_idr, b.sanction_idr) for b in cash.bills] == [
        (MONTH_IDR - 100_000, sanction)
    ]
    assert cash.credit_idr == 200_000 - (MONTH_IDR - 100_000) - sanction
    rows = db.session.scalars(sa.select(Allocation).where(Allocation.payment_id == cash.payment_id))
    assert {a.paid_on for a in rows} == {date(2026, 10, 15)}
    # The books agree: nothing is owed on the bill any more.
    assert open_bills_for_vendor(klewer.vendor.id, TODAY) == []
    assert statuses() == ["paid"]
    assert september.number in {b.number for b in cash.bills}
    assert_ledger_ok()


def test_payment_channels_are_kept_apart(klewer: f.Holding) -> None:
    issue("2026-11")
    va = pay(klewer.vendor.id, 1_000, ref="SAME", channel=Channel.VA, sender="bank-jateng")
    qris = pay(klewer.vendor.id, 1_000, ref="SAME", channel=Channel.QRIS, sender="bank-jateng")
    assert va.payment_id != qris.payment_id


def test_a_payment_dated_before_one_already_recorded_never_over_allocates(
    klewer: f.Holding,
) -> None:
    """Cash kept on an offline phone arrives after a later bank payment for the same bill: it
    is offered only the principal the later payment left, and its allocations count from its
    own day, so nothing is offered twice."""
    (november,) = issue("2026-11")
    today = pay(klewer.vendor.id, 100_000)
    earlier = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    backdated = pay(klewer.vendor.id, 100_000, paid_at=earlier)
    assert [(b.principal_idr, b.sanction_idr) for b in today.bills] == [(100_000, 0)]
    assert [(b.principal_idr, b.sanction_idr) for b in backdated.bills] == [
        (MONTH_IDR - 100_000, 0)
    ]
    assert backdated.credit_idr == 200_000 - MONTH_IDR
    rows = db.session.scalars(
        sa.select(Allocation).where(Allocation.payment_id == backdated.payment_id)
    ).all()
    assert {a.paid_on for a in rows} == {date(2026, 11, 21)}  # counted from its own day
    payment = db.session.get(Payment, backdated.payment_id)
    assert payment is not None and payment.paid_on == date(2026, 11, 21)  # as it was paid
    assert statuses() == ["paid"]
    assert_ledger_ok()
    assert november.number in {b.number for b in today.bills}
