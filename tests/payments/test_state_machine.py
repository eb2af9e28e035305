"""Random sequences of billing, paying (some aimed at a bill), replaying, reversing and credit,
on the real database, with ``verify_ledger`` and money conservation checked after every step.

Each example starts from an empty migrated database (a fresh copy of the template on SQLite,
every table truncated on PostgreSQL) and a clock on 1 August 2026 that the steps move forward.
The example count is modest so that the ordinary suite stays fast; the database of failing
examples that hypothesis keeps makes any failure found once come back first.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from payments.ledger import PaymentIn, Recorded, apply_credit, credit_balance, record_payment
from payments.ledger import reverse_payment as reverse
from payments.models import Allocation, CreditEntry, Payment, PaymentReversal, Receipt
from payments.verify import verify_ledger
from retribusi import clock
from retribusi.audit import AuditEvent
from retribusi.db import transaction
from retribusi.errors import Conflict, ValidationFailed
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills, open_bills_for_vendor
from retribusi.levy.rules import Period
from tests.conftest import PG_URL, _truncate_all
from tests.levy import factories as f
from tests.payments.factories import payment_in

START = datetime(2026, 8, 1, 3, 0, tzinfo=UTC)  # 10:00 WIB on the first of the month
MAX_MONTHS = 8
# Modest by default, for the ordinary suite; RETRIBUSI_LEDGER_EXAMPLES=200 for a long hunt.
EXAMPLES = int(os.environ.get("RETRIBUSI_LEDGER_EXAMPLES", "8"))
STEPS = int(os.environ.get("RETRIBUSI_LEDGER_STEPS", "14"))


def facts() -> tuple[int, ...]:
    return tuple(
        f.count(model)
        for model in (Payment, Allocation, CreditEntry, Receipt, PaymentReversal, AuditEvent)
    )


class LedgerMachine(RuleBasedStateMachine):
    app: ClassVar[Flask]
    reset: ClassVar[Callable[[], None]]

    def __init__(self) -> None:
        super().__init__()
        type(self).reset()
        self.clock = clock.FrozenClock(START)
        self.app.extensions[clock.EXTENSION_KEY] = self.clock
        self.context = self.app.app_context()
        self.context.push()
        self.sent: list[tuple[PaymentIn, Recorded]] = []
        self.reversed: set[int] = set()
        self.period = Period.of(START.date())
        self.vendors: list[int] = []

    def teardown(self) -> None:
        db.session.remove()
        self.context.pop()

    @initialize()
    def registry(self) -> None:
        f.illustrative_tariffs()
        first = f.holding("KLEWER", area_m2="5")
        f.holding("KLEWER", area_m2="4", block_code="B", vendor_row=first.vendor)
        second = f.holding("LEGI", area_m2="3")
        self.vendors = [first.vendor.id, second.vendor.id]
        issue_bills(self.period.label, actor="sm", issued_on=self.period.first_day)
        # The second vendor pays months ahead: every later bill is paid from credit first.
        ahead = payment_in(second.vendor.id, 400_000)
        self.sent.append((ahead, record_payment(ahead)))

    # --- steps --------------------------------------------------------------------------------

    @precondition(
        lambda self: self.period.first_day < date(2026, 8, 1) + timedelta(days=31 * MAX_MONTHS)
    )
    @rule()
    def bill_next_month(self) -> None:
        self.period = self.period.next()
        start = datetime.combine(self.period.first_day, START.timetz())
        self.clock.set(max(start, self.clock.now()))
        summary = issue_bills(self.period.label, actor="sm", issued_on=self.period.first_day)
        assert summary.bills == 3

    @rule(days=st.integers(min_value=1, max_value=45))
    def time_passes(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    @rule(
        who=st.integers(min_value=0, max_value=1),
        amount=st.integers(min_value=1, max_value=700_000),
        aim=st.booleans(),
        # Some payments are dated days before others already recorded: cash kept on an
        # offline phone, a bank whose clock is behind.
        days_back=st.sampled_from([0, 0, 0, 1, 3, 9]),
        data=st.data(),
    )
    def pay(self, who: int, amount: int, aim: bool, days_back: int, data: st.DataObject) -> None:
        vendor = self.vendors[who]
        targets: tuple[int, ...] = ()
        open_bills = open_bills_for_vendor(vendor, clock.today_wib())
        if aim and open_bills:
            targets = (data.draw(st.sampled_from([b.bill_id for b in open_bills])),)
        paid_at = self.clock.now() - timedelta(days=days_back)
        incoming = payment_in(vendor, amount, targets=targets, paid_at=paid_at)
        recorded = record_payment(incoming)
        assert not recorded.replayed
        assert recorded.allocated_idr + recorded.credit_idr == amount
        if targets:  # an aimed payment pays its bill before any other
            assert targets[0] in {b.bill_id for b in recorded.bills}
        self.sent.append((incoming, recorded))

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        incoming, first = data.draw(st.sampled_from(self.sent))
        before = facts()
        again = record_payment(incoming)
        assert again.replayed
        assert (again.payment_id, again.receipt_number, again.bills, again.credit_idr) == (
            first.payment_id,
            first.receipt_number,
            first.bills,
            first.credit_idr,
        )
        assert facts() == before

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), delta=st.integers(min_value=1, max_value=1000))
    def reuse_a_reference(self, data: st.DataObject, delta: int) -> None:
        incoming, _ = data.draw(st.sampled_from(self.sent))
        before = facts()
        other = PaymentIn(**{**incoming.__dict__, "amount_idr": incoming.amount_idr + delta})
        with pytest.raises(Conflict):
            record_payment(other)
        db.session.rollback()
        assert facts() == before

    @precondition(lambda self: len(self.reversed) < len(self.sent))
    @rule(data=st.data())
    def reverse_a_payment(self, data: st.DataObject) -> None:
        standing = [r.payment_id for _, r in self.sent if r.payment_id not in self.reversed]
        payment_id = data.draw(st.sampled_from(standing))
        reverse(
            payment_id, reference=f"RV-{payment_id}", reason="state machine says so", actor="sm"
        )
        self.reversed.add(payment_id)

    @precondition(lambda self: self.reversed)
    @rule(data=st.data())
    def reverse_it_again(self, data: st.DataObject) -> None:
        payment_id = data.draw(st.sampled_from(sorted(self.reversed)))
        before = facts()
        with pytest.raises(Conflict):
            reverse(payment_id, reference="RV-AGAIN", reason="a reversal of a reversal", actor="sm")
        db.session.rollback()
        assert facts() == before

    @rule()
    def credit_pays_open_bills(self) -> None:
        with transaction(db.session):
            apply_credit(db.session, self.vendors, as_of=clock.today_wib(), actor="sm")

    @rule(amount=st.one_of(st.integers(max_value=0), st.integers(min_value=100_000_001)))
    def a_bad_amount_changes_nothing(self, amount: int) -> None:
        before = facts()
        with pytest.raises(ValidationFailed):
            record_payment(payment_in(self.vendors[0], amount))
        db.session.rollback()
        assert facts() == before

    # --- after every step ---------------------------------------------------------------------

    @invariant()
    def the_ledger_verifies(self) -> None:
        if not self.vendors:
            return
        report = verify_ledger(db.session)
        db.session.rollback()
        assert report.ok, [v.to_dict() for v in report.violations]

    @invariant()
    def money_is_conserved(self) -> None:
        standing = sum(r.amount_idr for _, r in self.sent if r.payment_id not in self.reversed)
        allocated = db.session.scalar(sa.select(sa.func.sum(Allocation.amount_idr))) or 0
        credit = db.session.scalar(sa.select(sa.func.sum(CreditEntry.amount_idr))) or 0
        assert allocated + credit == standing
        for vendor in self.vendors:
            assert credit_balance(vendor) >= 0
        db.session.rollback()


def _resetter(app: Flask, template_url: str, url: str) -> Callable[[], None]:
    def reset() -> None:
        with app.app_context():
            db.engine.dispose()
        if PG_URL:
            _truncate_all(app)
            return
        target = Path(sa.make_url(url).database or "")
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(sa.make_url(template_url).database or "", target)

    return reset


def test_random_ledger_histories_keep_every_invariant(
    app: Flask, database: str, database_url: str
) -> None:
    LedgerMachine.app = app
    LedgerMachine.reset = staticmethod(_resetter(app, database, database_url))  # type: ignore[assignment]
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
