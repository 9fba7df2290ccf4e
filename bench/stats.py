"""Order statistics of latency samples, without numpy."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Latency", "percentile"]


def percentile(ordered: list[int], fraction: float) -> int:
    """Nearest-rank percentile of an ascending list: the smallest value with ``fraction`` of samples at or below."""
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Latency:
    """Latency of a set of samples, in milliseconds."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, samples_ns: Iterable[int]) -> Latency:
        ordered = sorted(samples_ns)
        if not ordered:
            return cls(0, math.nan, math.nan, math.nan)
        return cls(
            count=len(ordered),
            p50_ms=percentile(ordered, 0.50) / 1e6,
            p99_ms=percentile(ordered, 0.99) / 1e6,
            max_ms=ordered[-1] / 1e6,
        )
