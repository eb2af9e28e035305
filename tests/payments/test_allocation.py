from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.allocation import AllocationOrder, Component, OpenItem, Part, split_payment

JAN, FEB, MAR = date(2026, 1, 10), date(2026, 2, 10), date(2026, 3, 10)


def test_oldest_bill_first_principal_before_sanction() -> None:
    items = [OpenItem(2, FEB, 216_000, 2_160), OpenItem(1, JAN, 216_000, 4_320)]
    split = split_payment(300_000, items)
    assert split.parts == (
        Part(1, Component.PRINCIPAL, 216_000),
        Part(1, Component.SANCTION, 4_320),
        Part(2, Component.PRINCIPAL, 79_680),
    )
    assert split.credit_idr == 0


def test_principal_across_bills_order() -> None:
    items = [OpenItem(1, JAN, 100, 10), OpenItem(2, FEB, 100, 5)]
    split = split_payment(205, items, order=AllocationOrder.PRINCIPAL_ACROSS_BILLS)
    assert split.parts == (
        Part(1, Component.PRINCIPAL, 100),
        Part(2, Component.PRINCIPAL, 100),
        Part(1, Component.SANCTION, 5),
    )


def test_targeted_bill_is_paid_first() -> None:
    items = [OpenItem(1, JAN, 100, 10), OpenItem(3, MAR, 100, 0)]
    split = split_payment(100, items, target_bill_ids=[3])
    assert split.parts == (Part(3, Component.PRINCIPAL, 100),)


def test_excess_becomes_credit_and_no_bills_means_all_credit() -> None:
    assert split_payment(500, [OpenItem(1, JAN, 100, 0)]).credit_idr == 400
    assert split_payment(500, []).credit_idr == 500


@pytest.mark.parametrize("amount", [0, -1])
def test_amount_must_be_positive(amount: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        split_payment(amount, [])


def test_bad_items_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        OpenItem(1, JAN, -1, 0)
    with pytest.raises(ValueError, match="once"):
        split_payment(10, [OpenItem(1, JAN, 5, 0), OpenItem(1, JAN, 5, 0)])


items_strategy = st.lists(
    st.builds(
        OpenItem,
        bill_id=st.integers(1, 10_000),
        due_on=st.dates(date(2024, 1, 1), date(2027, 12, 31)),
        principal_idr=st.integers(0, 5_000_000),
        sanction_idr=st.integers(0, 1_200_000),
    ),
    max_size=30,
    unique_by=lambda i: i.bill_id,
)


@given(
    amount=st.integers(1, 200_000_000),
    items=items_strategy,
    order=st.sampled_from(AllocationOrder),
    seed=st.integers(0, 2**32),
    target_count=st.integers(0, 3),
)
def test_split_invariants(
    amount: int, items: list[OpenItem], order: AllocationOrder, seed: int, target_count: int
) -> None:
    rng = random.Random(seed)
    targets = [i.bill_id for i in rng.sample(items, min(target_count, len(items)))]
    split = split_payment(amount, items, order=order, target_bill_ids=targets)
    # Conservation: every rupiah is allocated or credited.
    assert split.allocated_idr + split.credit_idr == amount
    # Nothing is over-allocated, and every part is positive.
    by_key = {(i.bill_id, Component.PRINCIPAL): i.principal_idr for i in items}
    by_key |= {(i.bill_id, Component.SANCTION): i.sanction_idr for i in items}
    for part in split.parts:
        assert 0 < part.amount_idr <= by_key[(part.bill_id, part.component)]
    assert len({(p.bill_id, p.component) for p in split.parts}) == len(split.parts)
    # Credit only when every bill is paid in full.
    if split.credit_idr:
        assert split.allocated_idr == sum(by_key.values())
    # Deterministic, whatever order the bills were listed in.
    shuffled = list(items)
    rng.shuffle(shuffled)
    assert split_payment(amount, shuffled, order=order, target_bill_ids=targets) == split


@given(amount=st.integers(1, 10_000_000), items=items_strategy)
def test_oldest_first_means_no_younger_bill_paid_while_older_principal_open(
    amount: int, items: list[OpenItem]
) -> None:
    split = split_payment(amount, items)
    paid = {(p.bill_id, p.component): p.amount_idr for p in split.parts}
    for older in items:
        for younger in items:
            if (older.due_on, older.bill_id) < (younger.due_on, younger.bill_id) and paid.get(
                (younger.bill_id, Component.PRINCIPAL)
            ):
                assert paid.get((older.bill_id, Component.PRINCIPAL), 0) == older.principal_idr
                assert older.due_on <= younger.due_on + timedelta(0)
