"""Payments made through the real payment core, for tests."""

from __future__ import annotations

import itertools
from datetime import datetime

from payments.ledger import PaymentIn, Recorded, record_payment
from payments.models import Channel
from retribusi import clock

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
