"""A showtime's channel delivers each seq once, in order, whatever order the changes arrive in."""

from __future__ import annotations

import orjson

from server.core.seats import SeatChange, SeatStatus
from server.fanout import Channel
from server.storage.store import Event


def event(seq: int) -> Event:
    return Event("st", seq, SeatChange(f"A{seq}", SeatStatus.LOCKED, "s"), 1000 + seq)


def channel_at(delivered: int, history: int = 10) -> Channel:
    return Channel(delivered, history, 1 << 20, evict=lambda connection: None, observe=lambda event, reached: None)


def delivered(channel: Channel) -> list[int]:
    return [orjson.loads(frame)["seq"] for _, frame in channel.recent]


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
    assert [orjson.loads(f)["seq"] for f in channel.frames_after(3) or []] == [4, 5]
    assert channel.frames_after(1) is None  # seq 2 is no longer kept
