"""The throttle: the first change at once, the rest of a burst in one piece of work an interval later, none lost."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from server.core.throttle import Throttle

INTERVAL = 1000


def test_the_first_change_is_acted_on_at_once() -> None:
    throttle: Throttle[str] = Throttle(INTERVAL)
    assert throttle.changed("st", now=5) == 0


def test_changes_before_the_work_begins_share_it() -> None:
    throttle: Throttle[str] = Throttle(INTERVAL)
    assert throttle.changed("st", now=0) == 0
    assert throttle.changed("st", now=0) is None
    assert throttle.changed("st", now=1) is None


def test_a_change_after_the_work_began_waits_out_the_interval() -> None:
    throttle: Throttle[str] = Throttle(INTERVAL)
    throttle.changed("st", now=0)
    throttle.begin("st", now=0)
    assert throttle.changed("st", now=300) == 700  # the read under way may not see it: another one, later
    assert throttle.changed("st", now=400) is None
    throttle.begin("st", now=1000)
    assert throttle.changed("st", now=2500) == 0  # a quiet interval: at once again


def test_keys_are_throttled_apart() -> None:
    throttle: Throttle[str] = Throttle(INTERVAL)
    throttle.changed("a", now=0)
    throttle.begin("a", now=0)
    assert throttle.changed("b", now=10) == 0
    assert throttle.changed("a", now=10) == 990


def test_a_forgotten_key_starts_afresh() -> None:
    throttle: Throttle[str] = Throttle(INTERVAL)
    throttle.changed("st", now=0)
    throttle.begin("st", now=0)
    throttle.changed("st", now=10)
    throttle.forget("st")
    assert throttle.changed("st", now=20) == 0


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=200))
def test_work_begins_at_most_once_per_interval_and_after_the_last_change(gaps: list[int]) -> None:
    """Changes at random times, work begun whenever it is due: never two beginnings closer than the interval,
    and some work begins at or after every change."""
    throttle: Throttle[str] = Throttle(INTERVAL)
    now, due, begun = 0, None, []
    for gap in gaps:
        for at in range(now, now + gap * 40):
            if due is not None and at >= due:
                throttle.begin("st", at)
                begun.append(at)
                due = None
        now += gap * 40
        if (wait := throttle.changed("st", now)) is not None:
            due = now + wait
        last_change = now
    assert due is not None or begun[-1] >= last_change
    if due is not None:
        begun.append(due)
    assert all(later - earlier >= INTERVAL for earlier, later in itertools.pairwise(begun))
    assert begun[-1] >= last_change
