"""``retribusi ledger verify``: every invariant of DESIGN.md, checked against the stored rows.

Each check is one set-based query (or a walk in bounded batches), so the whole ledger is checked
in seconds; each violation names the row it concerns. The checks:

* ``payment_balance``: for every payment, Σ allocations + Σ credit = amount (0 once reversed);
* ``payment_credit_negative``: no payment's credit goes below zero;
* ``bill_over_allocated``: for every bill, Σ principal allocations ≤ principal, Σ sanction
  allocations ≤ the sanction its regime can ever reach, and neither sum below zero;
* ``voided_bill_paid``: a voided bill carries no allocation;
* ``bill_status``: a bill's status agrees with its allocations (issued: nothing paid; paid:
  nothing left today; partly paid: something paid, something left);
* ``reversal_pairing``: every negative allocation undoes one positive one of the same payment,
  bill, component, amount and day; a reversed payment's every allocation is undone;
* ``receipt``: every payment has a receipt whose signature verifies and whose facts are its own.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select

from payments.models import Allocation, Component, CreditEntry, Payment, PaymentReversal, Receipt
from payments.receipts import public_key
from payments.signing import InvalidToken, verify_token
from retribusi import clock
from retribusi.db import AnySession
from retribusi.levy.balances import figures_for
from retribusi.levy.models import Bill, BillStatus
from retribusi.levy.rules import sanction_cap_idr

BATCH = 5000


@dataclass(frozen=True)
class Violation:
    check: str
    subject: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "subject": self.subject, "message": self.message}


@dataclass(frozen=True)
class Report:
    payments: int
    bills: int
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


def _payment_balance(session: AnySession) -> list[Violation]:
    allocated = (
        select(Allocation.payment_id, func.sum(Allocation.amount_idr).label("total"))
        .group_by(Allocation.payment_id)
        .subquery()
    )
    credited = (
        select(CreditEntry.payment_id, func.sum(CreditEntry.amount_idr).label("total"))
        .group_by(CreditEntry.payment_id)
        .subquery()
    )
    expected = case((PaymentReversal.id.is_(None), Payment.amount_idr), else_=0)
    total = func.coalesce(allocated.c.total, 0) + func.coalesce(credited.c.total, 0)
    rows = session.execute(
        select(Payment.id, Payment.amount_idr, expected, total, func.coalesce(credited.c.total, 0))
        .outerjoin(allocated, allocated.c.payment_id == Payment.id)
        .outerjoin(credited, credited.c.payment_id == Payment.id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where((total != expected) | (func.coalesce(credited.c.total, 0) < 0))
        .order_by(Payment.id)
    ).all()
    found = []
    for payment_id, amount, want, got, credit in rows:
        if int(got) != int(want):
            found.append(
                Violation(
                    "payment_balance",
                    f"payment:{payment_id}",
                    f"allocations + credit = {int(got)}, expected {int(want)} (amount {amount})",
                )
            )
        if int(credit) < 0:
            found.append(
                Violation(
                    "payment_credit_negative",
                    f"payment:{payment_id}",
                    f"credit of this payment is {int(credit)}",
                )
            )
    return found


def _bill_sums(session: AnySession) -> dict[int, tuple[int, int]]:
    rows = session.execute(
        select(
            Allocation.bill_id,
            func.sum(
                case((Allocation.component == Component.PRINCIPAL, Allocation.amount_idr), else_=0)
            ),
            func.sum(
                case((Allocation.component == Component.SANCTION, Allocation.amount_idr), else_=0)
            ),
        ).group_by(Allocation.bill_id)
    ).all()
    return {bill_id: (int(p), int(s)) for bill_id, p, s in rows}


def _bill_bounds(bill: Bill, principal: int, sanction: int) -> list[Violation]:
    subject = f"bill:{bill.number}"
    cap = sanction_cap_idr(bill.sanction_terms)
    found = []
    if principal < 0 or sanction < 0:
        found.append(Violation("bill_over_allocated", subject, "allocations sum below zero"))
    if principal > bill.principal_idr:
        found.append(
            Violation(
                "bill_over_allocated",
                subject,
                f"principal allocated {principal} > principal {bill.principal_idr}",
            )
        )
    if sanction > cap:
        found.append(
            Violation(
                "bill_over_allocated",
                subject,
                f"sanction allocated {sanction} > the most it can reach, {cap}",
            )
        )
    if bill.status is BillStatus.VOIDED and (principal or sanction):
        found.append(Violation("voided_bill_paid", subject, "voided but paid"))
    return found


def _bills(session: AnySession, sums: dict[int, tuple[int, int]], today: date) -> list[Violation]:
    found: list[Violation] = []
    # Bills with allocations, and every bill whose status claims a payment.
    claimed = set(
        session.scalars(
            select(Bill.id).where(Bill.status.in_((BillStatus.PAID, BillStatus.PARTIALLY_PAID)))
        )
    )
    ids = sorted(set(sums) | claimed)
    for start in range(0, len(ids), BATCH):
        bills = list(session.scalars(select(Bill).where(Bill.id.in_(ids[start : start + BATCH]))))
        sound = []
        for bill in bills:
            problems = _bill_bounds(bill, *sums.get(bill.id, (0, 0)))
            found += problems
            if not problems and bill.status is not BillStatus.VOIDED:
                sound.append(bill)
        # A bill's account can only be computed from allocations within its bounds.
        accounts = figures_for(session, sound, today)
        for bill in sound:
            principal, sanction = sums.get(bill.id, (0, 0))
            want = (
                BillStatus.ISSUED
                if principal + sanction == 0
                else BillStatus.PAID
                if accounts[bill.id].outstanding_idr == 0
                else BillStatus.PARTIALLY_PAID
            )
            if bill.status is not want:
                found.append(
                    Violation(
                        "bill_status",
                        f"bill:{bill.number}",
                        f"status {bill.status.value}, but its allocations say {want.value}",
                    )
                )
    return found


def _reversal_pairing(session: AnySession) -> list[Violation]:
    found: list[Violation] = []
    reversed_payments = dict(
        session.execute(select(PaymentReversal.id, PaymentReversal.payment_id)).all()
    )
    rows = session.execute(
        select(
            Allocation.payment_id,
            Allocation.bill_id,
            Allocation.component,
            Allocation.amount_idr,
            Allocation.paid_on,
            Allocation.reversal_id,
        ).where(
            Allocation.payment_id.in_(select(PaymentReversal.payment_id))
            | Allocation.reversal_id.is_not(None)
        )
    ).all()
    positive: dict[int, Counter[tuple[int, str, int, date]]] = defaultdict(Counter)
    negative: dict[int, Counter[tuple[int, str, int, date]]] = defaultdict(Counter)
    for payment_id, bill_id, component, amount, paid_on, reversal_id in rows:
        key = (bill_id, str(component), abs(int(amount)), paid_on)
        if reversal_id is None:
            positive[payment_id][key] += 1
        else:
            if reversed_payments.get(reversal_id) != payment_id:
                found.append(
                    Violation(
                        "reversal_pairing",
                        f"payment:{payment_id}",
                        f"a negative allocation names reversal {reversal_id} of another payment",
                    )
                )
            negative[payment_id][key] += 1
    for payment_id in sorted(set(positive) | set(negative)):
        if (
            payment_id in reversed_payments.values()
            and positive[payment_id] != negative[payment_id]
        ):
            found.append(
                Violation(
                    "reversal_pairing",
                    f"payment:{payment_id}",
                    "the reversal does not undo each allocation exactly once",
                )
            )
        elif payment_id not in reversed_payments.values() and negative[payment_id]:
            found.append(
                Violation(
                    "reversal_pairing",
                    f"payment:{payment_id}",
                    "negative allocations on a payment that was not reversed",
                )
            )
    return found


def _receipts(session: AnySession) -> list[Violation]:
    found: list[Violation] = []
    key = public_key()
    last = 0
    while True:
        rows = session.execute(
            select(Payment.id, Payment.amount_idr, Receipt.number, Receipt.token, Receipt.payload)
            .outerjoin(Receipt, Receipt.payment_id == Payment.id)
            .where(Payment.id > last)
            .order_by(Payment.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return found
        for payment_id, amount, number, token, payload in rows:
            subject = f"payment:{payment_id}"
            if number is None:
                found.append(Violation("receipt", subject, "no receipt"))
                continue
            try:
                signed = verify_token(key, token)
            except InvalidToken as error:
                found.append(Violation("receipt", subject, f"{number}: {error}"))
                continue
            if signed != payload or signed.get("n") != number or signed.get("a") != amount:
                found.append(Violation("receipt", subject, f"{number}: facts differ"))
        last = rows[-1][0]


def verify_ledger(session: AnySession) -> Report:
    today = clock.today_wib()
    sums = _bill_sums(session)
    violations = [
        *_payment_balance(session),
        *_bills(session, sums, today),
        *_reversal_pairing(session),
        *_receipts(session),
    ]
    payments = int(session.scalar(select(func.count()).select_from(Payment)) or 0)
    bills = int(session.scalar(select(func.count()).select_from(Bill)) or 0)
    return Report(payments, bills, tuple(violations))
