"""The system clock: wall time in epoch milliseconds, and a monotonic clock that never goes back."""

from __future__ import annotations

import time

from server.core.clock import SystemClock


def test_wall_time_is_epoch_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    now = SystemClock().now()
    after = time.time_ns() // 1_000_000
    assert before <= now <= after


def test_monotonic_time_is_milliseconds_and_never_goes_back() -> None:
    clock = SystemClock()
    before = time.monotonic_ns() // 1_000_000
    readings = [clock.monotonic() for _ in range(1000)]
    after = time.monotonic_ns() // 1_000_000
    assert readings == sorted(readings)
    assert before <= readings[0]
    assert readings[-1] <= after
