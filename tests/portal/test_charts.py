"""Chart geometry: round axis steps, short rupiah labels, bars proportional to their figures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.portal.charts import Series, horizontal_bars, short_idr, stacked_columns, ticks


@pytest.mark.parametrize(
    ("top", "expected"),
    [(0, [0]), (7, [0, 2, 4, 6, 8]), (157_500, [0, 50_000, 100_000, 150_000, 200_000])],
)
def test_ticks_are_round_and_reach_the_top(top: int, expected: list[int]) -> None:
    assert ticks(top) == expected


@given(st.integers(min_value=1, max_value=10**13))
def test_ticks_always_cover_the_top_in_at_most_six_steps(top: int) -> None:
    scale = ticks(top)
    assert scale[0] == 0 and scale[-1] >= top and len(scale) <= 6
    step = scale[1]
    assert str(step).rstrip("0") in {"1", "2", "5"}


def test_short_rupiah_labels() -> None:
    assert [short_idr(v) for v in (950, 250_000, 1_500_000, 2_000_000_000)] == [
        "950",
        "250 rb",
        "1,5 jt",
        "2 M",
    ]


def test_stacked_columns_are_proportional() -> None:
    chart = stacked_columns(
        "t", ["a", "b"], [Series("va", (100, 50)), Series("cash", (100, 0))], height=220
    )
    bars = [b for b in chart.boxes if "·" in b.caption]
    assert [b.caption for b in bars] == ["a · va: Rp100", "a · cash: Rp100", "b · va: Rp50"]
    assert bars[0].height == pytest.approx(2 * bars[2].height)
    assert chart.description == "a: Rp200; b: Rp50"


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="one value"):
        stacked_columns("t", ["a"], [Series("x", (1, 2))])
    with pytest.raises(ValueError, match="MAX_BARS"):
        horizontal_bars("t", [(str(i), i) for i in range(61)])
