"""Fan-out: each seq delivered once and in order, whatever order changes arrive in; late joiners and slow readers."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from server.core.changes import Event
from server.core.origins import Origin
from server.core.seats import Claim, SeatChange, SeatState, SeatStatus
from server.fanout import Channel, Claims, Fanout, FellBehind
from server.metrics import Metrics
from tests.fakes import FakeConnection, FakeOutlet

LIMIT = 1 << 20


def event(seq: int, showtime: str = "st") -> Event:
    return Event(showtime, seq, SeatChange(f"A{seq}", SeatStatus.LOCKED, "s", Origin.LOCK), 1000 + seq)


def channel_at(delivered: int, history: int = 10) -> Channel[FakeConnection]:
    return Channel(FakeOutlet(), delivered, history, LIMIT, evict=lambda c: None, observe=lambda e, n: None)


def delivered(channel: Channel[FakeConnection]) -> list[int]:
    return [orjson.loads(frame)["seq"] for _, frame in channel.recent]


def fanout(history: int = 256) -> Fanout[FakeConnection]:
    async def no_log(showtime_id: str, after: int, upto: int) -> list[Event]:
        raise AssertionError("the event log is not read in these tests")

    return Fanout(no_log, FakeOutlet(), Metrics(), LIMIT, history=history)


def test_out_of_order_and_repeated_changes_come_out_once_in_order() -> None:
    channel = channel_at(0)
    for seq in (3, 1, 1, 2, 3, 5):
        channel.offer(event(seq))
    assert delivered(channel) == [1, 2, 3]
    assert channel.delivered == 3
    assert set(channel.ahead) == {5}  # waits for 4
    channel.offer(event(4))
    assert delivered(channel) == [1, 2, 3, 4, 5]
    assert channel.ahead == {}


def test_changes_a_snapshot_already_covers_are_dropped() -> None:
    channel = channel_at(7)
    channel.offer(event(7))
    channel.offer(event(8))
    assert delivered(channel) == [8]


def test_a_late_joiner_gets_the_kept_frames_it_missed_or_is_told_to_reread() -> None:
    channel = channel_at(0, history=3)
    for seq in range(1, 6):
        channel.offer(event(seq))
    assert channel.frames_after(5) == []
    assert [orjson.loads(f)["seq"] for f in channel.frames_after(3)] == [4, 5]
    with pytest.raises(FellBehind):
        channel.frames_after(1)  # seq 2 is no longer kept


def test_subscribers_get_only_what_their_snapshot_did_not_cover() -> None:
    hub = fanout()
    early, late = FakeConnection("early"), FakeConnection("late")
    assert hub.join("st", early, 0) == []
    hub.publish([event(1), event(2)])
    assert hub.join("st", late, 2) == []  # its snapshot already shows 1 and 2
    hub.publish([event(3)])
    assert (early.seqs(), late.seqs()) == ([1, 2, 3], [3])


def test_a_joiner_whose_snapshot_is_older_than_the_channel_gets_the_difference() -> None:
    hub = fanout()
    hub.join("st", FakeConnection("first"), 0)
    hub.publish([event(1), event(2), event(3)])
    joiner = FakeConnection("joiner")
    missing = hub.join("st", joiner, 1)
    assert [orjson.loads(frame)["seq"] for frame in missing] == [2, 3]
    hub.publish([event(4)])
    assert joiner.seqs() == [4]  # 2 and 3 are the caller's to send, first


def test_a_batch_subscriber_gets_one_frame_per_commit_with_the_same_changes_as_a_plain_one() -> None:
    hub = fanout()
    plain, batch = FakeConnection("plain"), FakeConnection("batch")
    hub.join("st", plain, 0)
    hub.join("st", batch, 0, batch=True)
    hub.publish([event(3), event(1), event(2)])  # one commit, in any order
    hub.publish([event(4)])
    assert [m["type"] for m in batch.messages()] == ["seat_status_changes"] * 2
    assert len(plain.frames) == 4
    assert batch.changes() == plain.changes()
    assert batch.seqs() == [1, 2, 3, 4]


async def test_a_commit_held_behind_a_gap_goes_out_with_the_change_that_fills_it() -> None:
    hub = fanout()
    batch = FakeConnection("batch")
    hub.join("st", batch, 0, batch=True)
    hub.publish([event(2), event(3)])
    assert batch.frames == []
    hub.publish([event(1)])
    assert [len(m["changes"]) for m in batch.messages()] == [3]  # type: ignore[arg-type]
    assert batch.seqs() == [1, 2, 3]


def test_joiners_whose_snapshot_covered_part_of_a_commit_get_only_the_rest() -> None:
    hub = fanout()
    early, plain, batch = FakeConnection("early"), FakeConnection("plain"), FakeConnection("batch")
    hub.join("st", early, 0, batch=True)
    # Their snapshots were read after seqs 1 and 2 committed, before the commit reached this channel.
    assert hub.join("st", plain, 2) == []
    assert hub.join("st", batch, 2, batch=True) == []
    hub.publish([event(1), event(2), event(3)])
    hub.publish([event(4), event(5)])
    assert early.seqs() == [1, 2, 3, 4, 5]
    assert plain.seqs() == batch.seqs() == [3, 4, 5]
    assert [m["type"] for m in batch.messages()] == ["seat_status_changes"] * 2


def test_resubscribing_may_switch_between_batched_and_single_frames() -> None:
    hub = fanout()
    connection = FakeConnection("c")
    hub.join("st", connection, 0, batch=True)
    hub.publish([event(1), event(2)])
    hub.leave("st", connection)
    hub.join("st", connection, 2)
    hub.publish([event(3), event(4)])
    assert [m["type"] for m in connection.messages()] == ["seat_status_changes"] + ["seat_status_change"] * 2
    assert connection.seqs() == [1, 2, 3, 4]


def test_a_slow_batch_reader_is_dropped() -> None:
    hub = fanout()
    slow = FakeConnection("slow", unread=LIMIT + 1)
    hub.join("st", slow, 0, batch=True)
    hub.publish([event(1), event(2)])
    assert (slow.dropped, slow.frames, hub.subscription_count()) == (True, [], 0)


def test_a_joiner_too_far_behind_is_not_added() -> None:
    hub = fanout(history=2)
    hub.join("st", FakeConnection("first"), 0)
    hub.publish([event(seq) for seq in range(1, 6)])
    joiner = FakeConnection("joiner")
    with pytest.raises(FellBehind):
        hub.join("st", joiner, 1)
    assert hub.subscriptions_of(joiner) == frozenset()
    assert hub.subscriber_count("st") == 1


def test_changes_reach_only_the_subscribers_of_their_showtime() -> None:
    hub = fanout()
    here, there = FakeConnection("here"), FakeConnection("there")
    hub.join("one", here, 0)
    hub.join("two", there, 0)
    hub.publish([event(1, "one"), event(1, "two"), event(2, "one")])
    assert (here.seqs(), there.seqs()) == ([1, 2], [1])
    assert all(m["showtimeId"] == "one" for m in here.messages())


def test_a_slow_reader_is_dropped_and_forgotten_while_the_others_get_the_change() -> None:
    hub = fanout()
    slow, fast = FakeConnection("slow", unread=LIMIT + 1), FakeConnection("fast")
    hub.join("st", slow, 0)
    hub.join("st", fast, 0)
    hub.join("other", slow, 0)
    hub.publish([event(1)])
    assert slow.dropped
    assert slow.frames == []
    assert fast.seqs() == [1]
    assert hub.subscriptions_of(slow) == frozenset()
    assert hub.subscription_count() == 1


def test_sending_to_an_overloaded_connection_evicts_it_instead() -> None:
    hub = fanout()
    reader, stalled = FakeConnection("reader"), FakeConnection("stalled", unread=LIMIT + 1)
    assert hub.send(reader, ["a", "b"]) is True
    assert hub.send(stalled, ["a"]) is False
    assert (reader.frames, stalled.frames, stalled.dropped) == (["a", "b"], [], True)


def test_who_holds_which_seats_follows_the_claims_change_by_change() -> None:
    claims = Claims({"A1": Claim(SeatState.HELD, "s1", 9000), "P1": Claim(SeatState.PENDING, "s1", 9000)})
    steps = [
        ("A2", SeatStatus.LOCKED, "s1"),
        ("B1", SeatStatus.LOCKED, "s2"),
        ("A1", SeatStatus.BOOKED, "s1"),
        ("B1", SeatStatus.LOCKED, "s3"),  # its hold lapsed and another took it
        ("A2", SeatStatus.UNLOCKED, "s1"),
        ("C1", SeatStatus.BLOCKED, ""),
        ("B1", SeatStatus.UNLOCKED, "s3"),
    ]
    for seat, status, session in steps:
        claims.apply(SeatChange(seat, status, session, Origin.LOCK))
        for holder in ("s1", "s2", "s3"):
            walked = {s for s, c in claims.by_seat.items() if c.state is SeatState.HELD and c.session_id == holder}
            assert claims.held_by(holder) == walked, (seat, status, holder)
    assert claims.by_seat == {
        "P1": Claim(SeatState.PENDING, "s1", 9000),
        "A1": Claim(SeatState.BOOKED, "s1"),
        "C1": Claim(SeatState.BLOCKED, ""),
    }


def test_a_frame_made_once_per_seq_is_made_again_for_another_seq_only() -> None:
    hub = fanout()
    renders: list[int] = []

    def frame_at(seq: int) -> str:
        def render() -> str:
            renders.append(seq)
            return f"frame {seq}"

        return hub.once_per_seq("st", seq, render)

    assert frame_at(4) == "frame 4"  # no channel: nothing kept
    hub.join("st", FakeConnection("c"), 4)
    made = [frame_at(seq) for seq in (4, 4, 5, 5)]
    assert (made, renders) == (["frame 4", "frame 4", "frame 5", "frame 5"], [4, 4, 5])


def test_leaving_the_last_subscriber_forgets_the_channel() -> None:
    hub = fanout()
    connection = FakeConnection("c")
    hub.join("st", connection, 4)
    assert hub.sent_upto("st", connection) == 4
    assert hub.positions() == {"st": 4}
    hub.forget(connection)
    assert hub.positions() == {}
    assert hub.sent_upto("st", connection) is None


async def test_waiting_for_a_change_ends_when_it_is_delivered_not_when_it_arrives() -> None:
    """A change queued behind a gap is not out yet: whoever must not overtake it (its ack) waits."""
    fan, connection = fanout(), FakeConnection("c")
    fan.join("st", connection, 0)
    fan.publish([event(2)])  # ahead of a gap: held back
    waiting = asyncio.create_task(fan.delivered("st", 2))
    await asyncio.sleep(0)
    assert not waiting.done()
    fan.publish([event(1)])
    await asyncio.wait_for(waiting, 1)
    assert connection.seqs() == [1, 2]
    await asyncio.wait_for(fan.delivered("st", 2), 1)  # already out: no wait


async def test_waiting_ends_when_the_showtime_loses_its_last_subscriber() -> None:
    fan, connection = fanout(), FakeConnection("c")
    fan.join("st", connection, 0)
    fan.publish([event(2)])
    waiting = asyncio.create_task(fan.delivered("st", 2))
    await asyncio.sleep(0)
    fan.leave("st", connection)
    await asyncio.wait_for(waiting, 1)
