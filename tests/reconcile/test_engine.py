"""The engine's decisions as pure functions: pairing, ambiguity, classification (hypothesis for
the claim-once and determinism properties)."""

from __future__ import annotations

import random
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.engine import (
    Candidate,
    Evidence,
    Matcher,
    Target,
    classify_line,
    pair_edges,
)
from reconcile.models import ExceptionType, Rule

D = date(2026, 11, 23)


def order(ids: range | list[int]) -> dict[int, tuple[date, str]]:
    return {i: (D, f"{i:04d}") for i in ids}


def test_one_line_one_target_is_a_pair() -> None:
    result = pair_edges([(1, 10)], order([1]), order([10]))
    assert result.pairs == [(1, 10)] and not result.ambiguous_lines


def test_interchangeable_lines_and_targets_pair_in_their_natural_order() -> None:
    # Two Rp3.000 tickets on one VA the same day: the rule cannot tell them apart.
    lines = {1: (D, "b"), 2: (D, "a")}
    targets = {10: (D, "y"), 11: (D, "x")}
    result = pair_edges([(1, 10), (1, 11), (2, 10), (2, 11)], lines, targets)
    assert sorted(result.pairs) == [(1, 10), (2, 11)]  # "a"→"x", "b"→"y"


def test_an_extra_line_is_a_duplicate_of_the_paired_one() -> None:
    result = pair_edges([(1, 10), (2, 10)], order([1, 2]), order([10]))
    assert result.pairs == [(1, 10)] and result.extras == {2: (1,)}


def test_an_incomplete_group_is_ambiguous_and_nothing_in_it_is_matched() -> None:
    # L1 fits only P10; L2 fits P10 and P11: a guess would be a guess.
    result = pair_edges([(1, 10), (2, 10), (2, 11)], order([1, 2]), order([10, 11]))
    assert result.pairs == []
    assert result.ambiguous_lines == {1: (10,), 2: (10, 11)}
    assert result.ambiguous_targets == {10: (1, 2), 11: (2,)}


def test_a_group_over_the_bound_is_ambiguous_without_more_work() -> None:
    edges = [(line, target) for line in range(5) for target in range(100, 105)]
    result = pair_edges(edges, order(range(5)), order(range(100, 105)), max_component=4)
    assert result.pairs == [] and len(result.ambiguous_lines) == 5


edge_sets = st.sets(st.tuples(st.integers(0, 14), st.integers(100, 114)), min_size=0, max_size=60)


@settings(max_examples=300, deadline=None)
@given(edge_sets, st.randoms(use_true_random=False))
def test_pairing_claims_once_uses_only_edges_and_ignores_input_order(
    edges: set[tuple[int, int]], rnd: random.Random
) -> None:
    lines = order(sorted({a for a, _ in edges}))
    targets = order(sorted({b for _, b in edges}))
    listed = sorted(edges)
    first = pair_edges(listed, lines, targets)
    rnd.shuffle(listed)
    second = pair_edges(listed, lines, targets)
    assert sorted(first.pairs) == sorted(second.pairs)
    assert first.extras == second.extras
    assert first.ambiguous_lines == second.ambiguous_lines
    paired_lines = [a for a, _ in first.pairs]
    paired_targets = [b for _, b in first.pairs]
    assert len(paired_lines) == len(set(paired_lines))
    assert len(paired_targets) == len(set(paired_targets))
    assert set(first.pairs) <= edges
    # Every line with an edge is paired, a duplicate, or ambiguous: exactly one of them.
    for line in lines:
        states = [line in paired_lines, line in first.extras, line in first.ambiguous_lines]
        assert states.count(True) == 1, (line, edges)


def test_the_matcher_takes_each_line_and_target_once_across_rules() -> None:
    matcher = Matcher()
    lines, targets = order([1, 2]), order([10])
    va = [Candidate(1, 10, True, True, None, 5), Candidate(2, 10, True, True, None, 5)]
    assert matcher.apply(Rule.VA, Target.PAYMENT, va, lines, targets) == [(1, 10)]
    # A later rule cannot give line 1 or payment 10 to anyone again.
    again = [Candidate(1, 10, True, True, None, 5), Candidate(2, 10, True, True, None, 5)]
    assert matcher.apply(Rule.REFERENCE, Target.PAYMENT, again, lines, targets) == []
    assert matcher.duplicates == {2: (1,)}
    assert [e.claimed_by for e in matcher.evidence[2]] == [1]


def test_a_released_pair_is_not_matched_again_but_stays_a_candidate() -> None:
    matcher = Matcher(released=frozenset({(1, Target.PAYMENT, 10)}))
    pairs = matcher.apply(
        Rule.VA, Target.PAYMENT, [Candidate(1, 10, True, True, None, 5)], order([1]), order([10])
    )
    assert pairs == [] and matcher.evidence[1][0].target == 10


def verdict(evidence: list[Evidence], amount: int = 75_000, **kwargs: object) -> ExceptionType:
    result = classify_line(
        is_credit=kwargs.get("is_credit", True),  # type: ignore[arg-type]
        amount_idr=amount,
        evidence=evidence,
        duplicate_of=kwargs.get("duplicate_of"),  # type: ignore[arg-type]
        target_ref={},
        line_ref={},
    )
    return result.type


def test_classification_order() -> None:
    other_amount = Evidence(Rule.VA, Target.PAYMENT, 10, False, None, 70_000)
    claimed = Evidence(Rule.VA, Target.PAYMENT, 11, True, 5, 75_000)
    free = Evidence(Rule.VA, Target.PAYMENT, 12, True, None, 75_000)
    assert verdict([], is_credit=False) is ExceptionType.UNKNOWN_DEBIT
    assert verdict([]) is ExceptionType.UNKNOWN_CREDIT
    assert verdict([other_amount]) is ExceptionType.AMOUNT_MISMATCH
    assert verdict([other_amount, free]) is ExceptionType.AMBIGUOUS
    assert verdict([other_amount, free, claimed]) is ExceptionType.DUPLICATE
    assert verdict([], duplicate_of=(3,)) is ExceptionType.DUPLICATE
    mismatch = classify_line(
        is_credit=True,
        amount_idr=75_000,
        evidence=[other_amount],
        duplicate_of=None,
        target_ref={(Target.PAYMENT, 10): "payment:va:b:R1"},
        line_ref={},
    )
    assert mismatch.difference_idr == 5_000
    assert mismatch.detail["candidates"][0]["ref"] == "payment:va:b:R1"
