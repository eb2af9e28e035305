"""People's actions (match, unmatch, ignore, accept, reopen, assign, a credit turned into a
payment), each with actor and reason and undone only by another action; and the database's own
guarantees: a line or payment claimed at most once, facts never edited."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import DBAPIError, IntegrityError

from payments.ledger import record_payment
from payments.models import Allocation, Channel, Payment
from reconcile import actions
from reconcile.importing import import_file
from reconcile.models import (
    Claim,
    Event,
    EventAction,
    ExceptionStatus,
    ExceptionType,
    Line,
    Match,
    ReconException,
    Rule,
)
from reconcile.runs import run_reconciliation
from retribusi import clock
from retribusi.audit import AuditEvent
from retribusi.auth.models import Role
from retribusi.errors import DomainError
from retribusi.extensions import db
from retribusi.levy.errors import reason_of
from retribusi.levy.models import Bill, BillStatus
from tests.factories import make_user
from tests.reconcile import factories as rf

MONDAY = rf.DAY
WHY = "dicek dengan bukti transfer dari bank"


@pytest.fixture(autouse=True)
def context(app: Flask) -> Any:
    with app.app_context():
        yield


@pytest.fixture
def bills() -> list[Bill]:
    return rf.bills_for("KLEWER", "GEDE", "LEGI")


def exception_of(description: str) -> ReconException:
    db.session.expire_all()
    line = db.session.scalars(sa.select(Line).where(Line.description == description)).one()
    found = db.session.scalars(
        sa.select(ReconException).where(ReconException.line_id == line.id)
    ).one()
    return found


def run() -> Any:
    return run_reconciliation(actor="test")


def refused(call: Any, reason: str) -> None:
    events = db.session.scalar(sa.select(sa.func.count()).select_from(Event))
    with pytest.raises(DomainError) as caught:
        call()
    db.session.rollback()
    assert reason_of(caught.value) == reason
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == events


def test_manual_match_keeps_the_difference_and_the_reason(bills: list[Bill]) -> None:
    payment = rf.va_payment(bills[0], 157_500, va="88810000000001", paid_at=rf.at(MONDAY, 8))
    import_file(rf.Mt940().credit(157_000, "TRF VA 88810000000001").render(), "mt940", actor="t")
    run()
    exc = exception_of("TRF VA 88810000000001")
    assert exc.type is ExceptionType.AMOUNT_MISMATCH
    refused(
        lambda: actions.match_line(line_id=exc.line_id, actor="user:1", reason="short"), "required"
    )
    refused(
        lambda: actions.match_line(line_id=exc.line_id or 0, actor="user:1", reason=WHY),
        "one_target",
    )
    done = actions.match_line(
        line_id=exc.line_id or 0, actor="user:7", reason=WHY, payment_id=payment.payment_id
    )
    assert done.difference_idr == -500
    match = db.session.get(Match, done.match_id)
    assert match is not None and (match.rule, match.run_id) == (Rule.MANUAL, None)
    event = db.session.get(Event, done.event_id)
    assert event is not None and (event.actor, event.reason, event.action) == (
        "user:7",
        WHY,
        EventAction.MATCH,
    )
    assert exception_of("TRF VA 88810000000001").status is ExceptionStatus.RESOLVED
    audit = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert audit is not None and audit.action == "reconcile.match"
    refused(
        lambda: actions.match_line(
            line_id=exc.line_id or 0, actor="u", reason=WHY, payment_id=payment.payment_id
        ),
        "already_matched",
    )
    # A later run leaves the person's match alone.
    assert run().matched_count == 0


def test_unmatch_reopens_the_line_and_the_pair_is_not_matched_again(bills: list[Bill]) -> None:
    rf.va_payment(bills[0], 157_500, va="88810000000001", paid_at=rf.at(MONDAY, 8))
    import_file(rf.Mt940().credit(157_500, "TRF VA 88810000000001").render(), "mt940", actor="t")
    assert run().matched_count == 1
    match_id = db.session.scalars(sa.select(Claim.match_id)).one()
    done = actions.unmatch(match_id=match_id, actor="user:3", reason=WHY)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 0
    exc = exception_of("TRF VA 88810000000001")
    assert (exc.id, exc.status) == (done.exception_id, ExceptionStatus.OPEN)
    refused(lambda: actions.unmatch(match_id=match_id, actor="u", reason=WHY), "not_matched")
    # The engine does not redo what a person undid: the payment stays a candidate only.
    again = run()
    assert again.matched_count == 0
    exc = exception_of("TRF VA 88810000000001")
    assert exc.type is ExceptionType.AMBIGUOUS and exc.detail["candidates"][0]["kind"] == "payment"
    # The match itself is a fact: still there, and the event says who released it and why.
    assert db.session.get(Match, match_id) is not None
    event = db.session.scalars(sa.select(Event).where(Event.action == EventAction.UNMATCH)).one()
    assert (event.match_id, event.actor, event.reason) == (match_id, "user:3", WHY)


def test_ignore_accept_reopen_and_a_decision_that_lapses(bills: list[Bill]) -> None:
    import_file(
        rf.Mt940().credit(75_000, "TRF VA 88810000000003").debit(5_000, "BIAYA ADM").render(),
        "mt940",
        actor="t",
    )
    run()
    fee = exception_of("BIAYA ADM")
    credit = exception_of("TRF VA 88810000000003")
    assert (fee.type, credit.type) == (ExceptionType.UNKNOWN_DEBIT, ExceptionType.UNKNOWN_CREDIT)
    actions.decide(exception_id=fee.id, action=EventAction.IGNORE, actor="u", reason=WHY)
    refused(
        lambda: actions.decide(
            exception_id=fee.id, action=EventAction.IGNORE, actor="u", reason=WHY
        ),
        "unchanged",
    )
    actions.decide(exception_id=credit.id, action=EventAction.ACCEPT, actor="u", reason=WHY)
    reopened = actions.decide(exception_id=fee.id, action=EventAction.REOPEN, actor="u", reason=WHY)
    undone = db.session.get(Event, reopened.event_id)
    assert undone is not None and undone.undoes_id is not None
    actions.decide(exception_id=fee.id, action=EventAction.IGNORE, actor="u", reason=WHY)
    # Decisions stand while nothing changes...
    run()
    assert exception_of("BIAYA ADM").status is ExceptionStatus.IGNORED
    assert exception_of("TRF VA 88810000000003").status is ExceptionStatus.ACCEPTED
    # ...and lapse when a run finds another type (a payment into that VA, another amount).
    rf.va_payment(bills[1], 70_000, va="88810000000003", paid_at=rf.at(MONDAY, 9))
    result = run()
    assert result.reopened == 1
    lapsed = exception_of("TRF VA 88810000000003")
    assert (lapsed.type, lapsed.status) == (ExceptionType.AMOUNT_MISMATCH, ExceptionStatus.OPEN)
    assert lapsed.id == credit.id


def test_assign_to_finance_staff_only() -> None:
    import_file(rf.Mt940().debit(5_000, "BIAYA ADM").render(), "mt940", actor="t")
    run()
    exc = exception_of("BIAYA ADM")
    finance = make_user(Role.FINANCE, secret="finance-password-1")
    officer = make_user(Role.OFFICER, secret="officer-password-1")
    actions.assign(exception_id=exc.id, assignee_id=finance.id, actor="u")
    assert exception_of("BIAYA ADM").assignee_id == finance.id
    refused(
        lambda: actions.assign(exception_id=exc.id, assignee_id=officer.id, actor="u"), "not_staff"
    )
    actions.assign(exception_id=exc.id, assignee_id=None, actor="u")
    assert exception_of("BIAYA ADM").assignee_id is None
    refused(
        lambda: actions.assign(exception_id="RX-NOPE", assignee_id=None, actor="u"), "not_found"
    )


def test_paid_but_not_credited_becomes_the_vendors_payment_once(bills: list[Bill]) -> None:
    text = f"TRF VA 88810000000001 {bills[0].number}"
    import_file(rf.Mt940().credit(157_500, text).render(), "mt940", actor="t")
    run()
    exc = exception_of(text)
    assert exc.type is ExceptionType.UNKNOWN_CREDIT
    created = actions.create_payment(
        line_id=exc.line_id or 0, vendor_id=bills[0].vendor_id, actor="user:5", reason=WHY
    )
    assert not created.replayed and created.receipt_number
    payment = db.session.get(Payment, created.payment_id)
    assert payment is not None
    assert (payment.channel, payment.sender, payment.amount_idr) == (
        Channel.COUNTER,
        "reconcile",
        157_500,
    )
    assert payment.paid_at == clock.start_of_day_wib(MONDAY)
    db.session.expire_all()
    assert db.session.get(Bill, bills[0].id).status is BillStatus.PAID  # type: ignore[union-attr]
    assert exception_of(text).status is ExceptionStatus.RESOLVED
    again = actions.create_payment(
        line_id=exc.line_id or 0, vendor_id=bills[0].vendor_id, actor="user:5", reason=WHY
    )
    assert (again.payment_id, again.match_id, again.replayed) == (
        created.payment_id,
        created.match_id,
        True,
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1
    assert run().matched_count == 0


def test_a_payment_made_from_a_line_is_claimed_by_the_next_run(bills: list[Bill]) -> None:
    """The two steps of create_payment are each idempotent; if the second never happened, the
    engine's ``created`` rule finishes it."""
    text = "TRF VA 88810000000002"
    import_file(rf.Mt940().credit(100_000, text).render(), "mt940", actor="t")
    run()
    line = db.session.get(Line, exception_of(text).line_id)
    assert line is not None
    incoming = actions.payment_for_line(line, vendor_id=bills[1].vendor_id, actor="u", reason=WHY)
    record_payment(incoming)  # as if the claim had not been written after it
    result = run()
    assert result.matched == {"created": {"count": 1, "amount_idr": 100_000}}
    assert exception_of(text).status is ExceptionStatus.RESOLVED


def test_a_debit_cannot_be_matched_nor_become_a_payment(bills: list[Bill]) -> None:
    import_file(rf.Mt940().debit(5_000, "BIAYA ADM").render(), "mt940", actor="t")
    run()
    exc = exception_of("BIAYA ADM")
    refused(
        lambda: actions.create_payment(
            line_id=exc.line_id or 0, vendor_id=bills[0].vendor_id, actor="u", reason=WHY
        ),
        "not_credit",
    )


def test_the_database_refuses_a_second_claim_and_edits_of_facts(bills: list[Bill]) -> None:
    rf.va_payment(bills[0], 157_500, va="88810000000001", paid_at=rf.at(MONDAY, 8))
    import_file(
        rf.Mt940().credit(157_500, "TRF VA 88810000000001").credit(157_500, "OTHER").render(),
        "mt940",
        actor="t",
    )
    run()
    claim = db.session.scalars(sa.select(Claim)).one()
    other = db.session.scalars(sa.select(Line).where(Line.description == "OTHER")).one()
    db.session.commit()
    # The same payment claimed by another line, written by hand around every service.
    params = {"line": other.id, "payment": claim.payment_id, "now": clock.now()}
    db.session.execute(
        sa.text(
            "INSERT INTO recon_matches (id, line_id, payment_id, rule, difference_idr, created_at)"
            " VALUES (9001, :line, :payment, 'manual', 0, :now)"
        ),
        params,
    )
    claim_sql = (
        "INSERT INTO recon_claims (match_id, line_id, payment_id) VALUES (9001, :line, :payment)"
    )
    with pytest.raises(IntegrityError):
        db.session.execute(sa.text(claim_sql), params)
    db.session.rollback()
    for statement in (
        "UPDATE recon_lines SET amount_idr = 1",
        "DELETE FROM recon_matches",
        "UPDATE recon_runs SET actor = 'x'",
        "DELETE FROM recon_files",
    ):
        with pytest.raises(DBAPIError):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    assert db.session.get(Line, other.id).amount_idr == 157_500  # type: ignore[union-attr]


def test_reversed_payments_are_not_matched(bills: list[Bill]) -> None:
    from payments.ledger import reverse_payment

    paid = rf.va_payment(bills[0], 157_500, va="88810000000001", paid_at=rf.at(MONDAY, 8))
    reverse_payment(paid.payment_id, reference="RV-9", reason="refund ke pedagang", actor="test")
    import_file(rf.Mt940().credit(157_500, "TRF VA 88810000000001").render(), "mt940", actor="t")
    assert run().matched_count == 0
    refused(
        lambda: actions.match_line(
            line_id=exception_of("TRF VA 88810000000001").line_id or 0,
            actor="u",
            reason=WHY,
            payment_id=paid.payment_id,
        ),
        "reversed",
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Allocation)) == 2
