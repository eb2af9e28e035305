"""How a payment is split over a vendor's open bills: pure, deterministic, exhaustively tested.

Rules (DESIGN.md flow 6): a payment aimed at a bill (a dynamic QRIS code) pays that bill first;
then the oldest bill first; within the configured order principal comes before sanction; what is
left becomes vendor credit. Nothing here touches the database: the ledger service feeds it the
outstanding amounts it read under lock, and writes what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Component(StrEnum):
    PRINCIPAL = "principal"
    SANCTION = "sanction"


class AllocationOrder(StrEnum):
    # Each bill is settled whole (principal, then its sanction) before the next one.
    BILL_BY_BILL = "bill_by_bill"
    # Every bill's principal, oldest first, before any sanction: a vendor who pays part of the
    # arrears stops further sanction accruing on as much principal as possible.
    PRINCIPAL_ACROSS_BILLS = "principal_across_bills"


@dataclass(frozen=True)
class OpenItem:
    """What one bill still owes, as of the payment's date."""

    bill_id: int
    due_on: date
    principal_idr: int
    sanction_idr: int

    def __post_init__(self) -> None:
        if self.principal_idr < 0 or self.sanction_idr < 0:
            raise ValueError("outstanding amounts cannot be negative")


@dataclass(frozen=True)
class Part:
    bill_id: int
    component: Component
    amount_idr: int


@dataclass(frozen=True)
class Split:
    parts: tuple[Part, ...]
    credit_idr: int

    @property
    def allocated_idr(self) -> int:
        return sum(p.amount_idr for p in self.parts)


def _queue(
    items: Sequence[OpenItem], order: AllocationOrder, target: frozenset[int]
) -> list[tuple[int, Component, int]]:
    # Targeted bills first, then oldest due date; the bill id breaks ties so the result never
    # depends on the order the caller listed the bills in.
    ranked = sorted(items, key=lambda i: (i.bill_id not in target, i.due_on, i.bill_id))
    if order is AllocationOrder.BILL_BY_BILL:
        return [
            (i.bill_id, component, amount)
            for i in ranked
            for component, amount in (
                (Component.PRINCIPAL, i.principal_idr),
                (Component.SANCTION, i.sanction_idr),
            )
        ]
    targeted = [i for i in ranked if i.bill_id in target]
    others = [i for i in ranked if i.bill_id not in target]
    queue = [
        (i.bill_id, component, amount)
        for i in targeted
        for component, amount in (
            (Component.PRINCIPAL, i.principal_idr),
            (Component.SANCTION, i.sanction_idr),
        )
    ]
    queue += [(i.bill_id, Component.PRINCIPAL, i.principal_idr) for i in others]
    queue += [(i.bill_id, Component.SANCTION, i.sanction_idr) for i in others]
    return queue


def split_payment(
    amount_idr: int,
    items: Iterable[OpenItem],
    *,
    order: AllocationOrder = AllocationOrder.BILL_BY_BILL,
    target_bill_ids: Iterable[int] = (),
) -> Split:
    """Split ``amount_idr`` over ``items``; Σ parts + credit = amount, always."""
    if amount_idr <= 0:
        raise ValueError("a payment amount is positive")
    listed = list(items)
    if len({i.bill_id for i in listed}) != len(listed):
        raise ValueError("a bill may appear only once")
    remaining = amount_idr
    parts: list[Part] = []
    for bill_id, component, outstanding in _queue(listed, order, frozenset(target_bill_ids)):
        if remaining == 0:
            break
        take = min(remaining, outstanding)
        if take:
            parts.append(Part(bill_id, component, take))
            remaining -= take
    split = Split(parts=tuple(parts), credit_idr=remaining)
    assert split.allocated_idr + split.credit_idr == amount_idr
    return split
