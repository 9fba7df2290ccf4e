"""The retry schedule of a webhook delivery: doubling waits with equal jitter, capped, within the window."""

from __future__ import annotations

import pytest

from server.core.deliveries import RetryPolicy, succeeded

POLICY = RetryPolicy(first_ms=10_000, max_ms=3_600_000, window_ms=24 * 3_600_000)


def test_each_wait_doubles_half_fixed_half_random() -> None:
    assert [POLICY.delay(n, 0.0) for n in (1, 2, 3, 4)] == [5_000, 10_000, 20_000, 40_000]
    assert [POLICY.delay(n, 0.999999) for n in (1, 2, 3, 4)] == [9_999, 19_999, 39_999, 79_999]


@pytest.mark.parametrize("jitters", [(0.0, 0.999999), (0.999999, 0.0), (0.5, 0.5)])
def test_a_wait_is_longer_than_the_one_before_whatever_the_draws(jitters: tuple[float, float]) -> None:
    for failures in range(1, 9):
        assert POLICY.delay(failures + 1, jitters[1]) > POLICY.delay(failures, jitters[0])


def test_waits_stop_growing_at_the_cap_even_after_thousands_of_failures() -> None:
    assert POLICY.delay(10, 0.0) == 1_800_000
    assert POLICY.delay(5000, 0.999999) == 3_599_998
    assert POLICY.delay(5000, 0.0) == POLICY.max_ms // 2


def test_the_next_attempt_comes_after_the_wait_and_never_after_the_window() -> None:
    created = 1_000_000
    assert POLICY.next_attempt(created, created + 1_000, 1, 0.0) == created + 6_000
    deadline = created + POLICY.window_ms
    # An attempt that would fall beyond the window is made at its end instead, and after that, none.
    assert POLICY.next_attempt(created, deadline - 60_000, 20, 0.5) == deadline
    assert POLICY.next_attempt(created, deadline, 21, 0.5) is None
    assert POLICY.next_attempt(created, deadline + 1, 1, 0.5) is None


def test_a_full_day_of_failures_is_a_few_dozen_attempts() -> None:
    """The defaults' schedule: the receiver is tried about 40 times over the day, then given up."""
    created = now = 0
    attempts = 1
    while (retry := POLICY.next_attempt(created, now, attempts, 0.5)) is not None:
        now, attempts = retry, attempts + 1
    assert now == POLICY.window_ms
    assert 30 <= attempts <= 50


@pytest.mark.parametrize(
    ("status", "delivered"),
    [(200, True), (204, True), (299, True), (301, False), (404, False), (500, False), (None, False), (199, False)],
)
def test_only_a_2xx_is_delivered(status: int | None, delivered: bool) -> None:
    assert succeeded(status) is delivered
