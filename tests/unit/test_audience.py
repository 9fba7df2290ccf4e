"""Audience messages: greeted on joining, told only changes, once per update, across instances, never to opt-outs."""

from __future__ import annotations

from server.audience import AudienceCounts
from server.core.changes import Event
from server.fanout import Fanout
from server.metrics import Metrics
from tests.fakes import FakeConnection, FakeOutlet, ManualClock

INTERVAL = 1.0
LIMIT = 1 << 20


def counts(
    clock: ManualClock | None = None, metrics: Metrics | None = None
) -> tuple[Fanout[FakeConnection], AudienceCounts[FakeConnection]]:
    async def no_log(showtime_id: str, after: int, upto: int) -> list[Event]:
        raise AssertionError("the event log is not read in these tests")

    fanout: Fanout[FakeConnection] = Fanout(no_log, FakeOutlet(), metrics or Metrics(), LIMIT)
    return fanout, AudienceCounts(fanout, clock or ManualClock(), INTERVAL)


def join(
    fanout: Fanout[FakeConnection], audience: AudienceCounts[FakeConnection], name: str, wants: bool = True
) -> FakeConnection:
    """Subscribe as Subscriptions does: join, then (unless opted out) the greeting after the catch-up."""
    connection = FakeConnection(name)
    fanout.join("st", connection, 0)
    if wants:
        connection.frames.append(fanout.greet("st", connection, audience.viewers("st")))
    return connection


def told(connection: FakeConnection) -> list[int]:
    return [int(m["viewers"]) for m in connection.messages() if m["type"] == "audience"]  # type: ignore[call-overload]


def test_a_subscriber_is_greeted_with_the_audience_itself_included_then_told_each_change_once_per_update() -> None:
    fanout, audience = counts()
    first = join(fanout, audience, "first")
    second = join(fanout, audience, "second")
    assert (told(first), told(second)) == ([1], [2])
    audience.update()
    assert (told(first), told(second)) == ([1, 2], [2])  # the second was greeted with 2 already
    third, fourth = join(fanout, audience, "third"), join(fanout, audience, "fourth")
    fanout.leave("st", second)
    audience.update()  # two joins and a leave since the last update: one message, with where it ended
    assert (told(first), told(third), told(fourth)) == ([1, 2, 3], [3], [4, 3])
    audience.update()  # nothing changed: nothing sent
    assert (told(first), told(third), told(fourth)) == ([1, 2, 3], [3], [4, 3])


def test_a_subscriber_that_opted_out_is_counted_but_told_nothing() -> None:
    fanout, audience = counts()
    watcher = join(fanout, audience, "watcher")
    quiet = join(fanout, audience, "quiet", wants=False)
    audience.update()
    assert (told(watcher), told(quiet)) == ([1, 2], [])


def test_the_other_instances_counts_add_up_until_they_fall_silent_for_an_interval() -> None:
    clock = ManualClock()
    fanout, audience = counts(clock)
    audience.hear("b", {"st": 3, "elsewhere": 7})
    watcher = join(fanout, audience, "watcher")
    assert told(watcher) == [4]
    assert audience.everyone() == 11
    clock.advance(500)
    audience.hear("c", {"st": 2})
    audience.update()
    assert told(watcher) == [4, 6]
    clock.advance(500)  # b silent for an interval: gone; c for half of one: still there
    audience.update()
    assert told(watcher) == [4, 6, 3]
    assert audience.everyone() == 3


def test_the_local_counts_name_only_showtimes_with_subscribers_here() -> None:
    fanout, audience = counts()
    audience.hear("b", {"elsewhere": 5})
    assert audience.local() == {}
    quiet = join(fanout, audience, "quiet", wants=False)
    assert audience.local() == {"st": 1}
    fanout.forget(quiet)
    assert audience.local() == {}


def test_a_subscriber_that_stopped_reading_is_dropped_instead_of_told() -> None:
    metrics = Metrics()
    fanout, audience = counts(metrics=metrics)
    stuck = join(fanout, audience, "stuck")
    reader = join(fanout, audience, "reader")
    stuck.unread = LIMIT + 1
    join(fanout, audience, "another")
    audience.update()
    assert stuck.dropped
    assert told(stuck) == [1]
    assert fanout.subscriber_count("st") == 2
    assert told(reader) == [2, 3]
    # The reader's; greetings go out with the subscribe's other frames.
    assert 'seat_messages_sent_total{kind="audience"} 1.0' in metrics.exposition().decode().splitlines()


def test_dropping_a_slow_subscriber_of_several_showtimes_leaves_the_others_told() -> None:
    fanout, audience = counts()
    stuck, reader = FakeConnection("stuck"), FakeConnection("reader")
    for showtime_id in ("st", "other"):
        for connection in (stuck, reader):
            fanout.join(showtime_id, connection, 0)
            fanout.greet(showtime_id, connection, 0)
    stuck.unread = LIMIT + 1
    audience.update()  # dropping it while telling "st" also takes it out of "other"; only the survivor remains
    assert stuck.dropped
    assert fanout.subscriptions_of(stuck) == frozenset()
    assert sorted((m["showtimeId"], m["viewers"]) for m in reader.messages()) == [("other", 2), ("st", 2)]
