"""The audience tally: the other instances' counts as last heard, this instance's added, the silent forgotten."""

from __future__ import annotations

from server.core.audience import Tally

INTERVAL = 1000


def test_a_showtimes_audience_is_the_local_count_and_every_others_last_one() -> None:
    tally = Tally(INTERVAL)
    tally.hear("b", {"st": 2, "other": 5}, now=0)
    tally.hear("c", {"st": 3}, now=0)
    tally.hear("b", {"st": 4}, now=10)  # replaces what b said before: it has left "other"
    assert tally.viewers("st", local=1) == 8
    assert tally.viewers("other", local=0) == 0
    assert tally.totals({"st": 1, "alone": 2}) == {"st": 8, "alone": 2}
    assert tally.everyone(local=3) == 10


def test_alone_the_audience_is_the_local_count() -> None:
    tally = Tally(INTERVAL)
    assert tally.totals({"st": 3}) == {"st": 3}
    assert tally.everyone(local=3) == 3
    assert tally.expire(now=10 * INTERVAL) == []


def test_an_instance_is_forgotten_after_an_interval_of_silence_and_not_before() -> None:
    tally = Tally(INTERVAL)
    tally.hear("live", {"st": 2}, now=0)
    tally.hear("dead", {"st": 5}, now=0)
    tally.hear("live", {"st": 2}, now=INTERVAL // 2)  # announcements come twice per interval
    assert tally.expire(now=INTERVAL - 1) == []  # one late announcement is not death
    assert tally.viewers("st", local=0) == 7
    assert tally.expire(now=INTERVAL) == ["dead"]
    assert tally.viewers("st", local=0) == 2
    tally.hear("dead", {"st": 1}, now=INTERVAL + 5)  # it came back (Redis was away): counted again
    assert tally.viewers("st", local=0) == 3


def test_an_instance_that_announces_nothing_counts_for_nothing() -> None:
    tally = Tally(INTERVAL)
    tally.hear("b", {"st": 3, "zero": 0}, now=0)
    tally.hear("b", {}, now=1)  # it stopped: its audience is gone at once
    assert (tally.viewers("st", local=1), tally.everyone(local=1)) == (1, 1)
