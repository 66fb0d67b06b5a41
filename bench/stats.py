"""Statistics of measured timings, one definition for every benchmark and the NLU report."""

from __future__ import annotations

import math
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    """Median of a sequence (0 if empty)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile, `fraction` in 0..1 (0.95: p95): the smallest value with at
    least that share of the values at or below it; 0 if empty."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    # The tolerance keeps an exact rank exact: 0.07 * 100 is 7.000000000000001 in floats.
    rank = math.ceil(fraction * len(ordered) - 1e-9)
    return ordered[min(len(ordered), max(1, rank)) - 1]
