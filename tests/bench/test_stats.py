"""One percentile and one median for every benchmark and the NLU report."""

from __future__ import annotations

import pytest

from bench.stats import median, percentile


def test_percentile_is_the_nearest_rank_on_a_0_to_1_scale() -> None:
    values = list(range(1, 101))  # 1..100, shuffled order must not matter
    values.reverse()
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile(values, 0.0) == 1
    # Exact ranks stay exact although 0.07 * 100 is 7.000000000000001 in floats.
    assert percentile(values, 0.07) == 7
    # Between ranks: the next value up (ceil), never an interpolation.
    assert percentile([10.0, 20.0, 30.0], 0.5) == 20.0
    assert percentile([10.0, 20.0, 30.0], 0.34) == 20.0
    assert percentile([10.0, 20.0, 30.0], 0.33) == 10.0
    assert percentile([], 0.95) == 0.0


@pytest.mark.parametrize("n", [20, 40, 2280])
def test_p95_of_an_exact_rank_is_that_rank(n: int) -> None:
    """0.95 * n is a whole rank here: p95 is the value at that rank, not the next one (the
    report's old percentile gave the next one when float rounding tipped it over)."""
    values = [float(i) for i in range(1, n + 1)]
    assert percentile(values, 0.95) == 0.95 * n


def test_median_of_odd_even_and_empty() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([]) == 0.0
