"""Reversing a payment from a page or the API: once, and the same request twice is one reversal.

:func:`payments.ledger.reverse_payment` refuses a second reversal of a payment. A person who
submits the reversal form twice, or an API client that retries, sends the same reference again:
that is answered with the reversal already made, not with an error; another reference for a
payment already reversed is the conflict it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from payments.ledger import Reversed, reverse_payment
from payments.models import Payment, PaymentReversal
from retribusi.auth.models import Role, User
from retribusi.errors import Conflict, Forbidden
from retribusi.extensions import db
from retribusi.levy.errors import conflict, not_found

REVERSERS = frozenset({Role.FINANCE, Role.ADMIN})


@dataclass(frozen=True)
class ReversalResult:
    reversal: PaymentReversal
    replayed: bool
    reopened_bill_ids: tuple[int, ...] = ()
    credit_withdrawn_idr: int = 0


def reverse(payment_id: int, *, reference: str, reason: str, user: User) -> ReversalResult:
    if user.role not in REVERSERS:
        raise Forbidden("finance staff and administrators reverse payments")
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise not_found("payment", f"no payment {payment_id}")
    existing = payment.reversal
    if existing is not None:
        if existing.reference == (reference or "").strip():
            return ReversalResult(existing, replayed=True)
        raise conflict("payment", "already_reversed", "this payment is already reversed")
    try:
        done: Reversed = reverse_payment(
            payment_id,
            reference=reference,
            reason=reason,
            actor=f"user:{user.id}",
            user_label=user.login_name,
        )
    except Conflict:
        # A retry raced the first request: the reversal it made answers both.
        db.session.rollback()
        again = db.session.get(Payment, payment_id)
        reversal = again.reversal if again is not None else None
        if reversal is not None and reversal.reference == (reference or "").strip():
            return ReversalResult(reversal, replayed=True)
        raise
    reversal = db.session.get(PaymentReversal, done.reversal_id)
    assert reversal is not None
    return ReversalResult(
        reversal,
        replayed=False,
        reopened_bill_ids=done.reopened_bill_ids,
        credit_withdrawn_idr=done.credit_withdrawn_idr,
    )
