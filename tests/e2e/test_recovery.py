"""A client that comes back with ``lastSeq`` gets exactly the changes it missed, or a fresh snapshot."""

from __future__ import annotations

from typing import Any

from server.storage.store import SeatStore
from tests.client import SeatClient
from tests.conftest import Running, StartServer


async def subscribe_from(client: SeatClient, showtime_id: str, last_seq: int) -> dict[str, Any]:
    return await client.request("subscribe", showtimeId=showtime_id, lastSeq=last_seq)


async def test_a_client_that_missed_n_changes_gets_exactly_those_n(running: Running) -> None:
    showtime = await running.showtime(rows=2, seats_per_row=5)
    client, other = await running.client(), await running.client()
    await client.request("subscribe", showtimeId=showtime)
    await client.request("lock", showtimeId=showtime, seatIds=["A1"])
    seen = (await client.next_pushed("seat_status_change"))["seq"]
    await client.close()

    await other.request("lock", showtimeId=showtime, seatIds=["B1", "B2", "B3"])
    await other.request("unlock", showtimeId=showtime, seatIds=["B2"])

    back = await running.client(token=client.token)
    reply = await subscribe_from(back, showtime, seen)
    replayed = back.drain()
    assert (reply["type"], reply["recovered"], reply["seq"]) == ("subscribed", True, seen + 4)
    assert [(m["type"], m["seatId"], m["status"], m["seq"]) for m in replayed] == [
        ("seat_status_change", "B1", "locked", 2),
        ("seat_status_change", "B2", "locked", 3),
        ("seat_status_change", "B3", "locked", 4),
        ("seat_status_change", "B2", "unlocked", 5),
    ]
    # Live again: the next change follows the replay with no gap and no repeat.
    await other.request("lock", showtimeId=showtime, seatIds=["B4"])
    assert (await back.next_pushed("seat_status_change"))["seq"] == 6


async def test_nothing_missed_means_nothing_replayed(running: Running) -> None:
    showtime = await running.showtime()
    client = await running.client()
    await client.request("lock", showtimeId=showtime, seatIds=["A1"])
    reply = await subscribe_from(client, showtime, 1)
    assert (reply["recovered"], reply["seq"]) == (True, 1)
    assert client.drain() == []


async def test_a_gap_larger_than_the_replay_limit_gets_a_snapshot(start_server: StartServer) -> None:
    running = await start_server(max_replay_events=2)
    showtime = await running.showtime()
    locker, late = await running.client(), await running.client()
    await locker.request("lock", showtimeId=showtime, seatIds=["A1", "A2", "A3"])
    reply = await subscribe_from(late, showtime, 0)
    assert (reply["type"], reply["recovered"]) == ("subscribed", False)
    snapshot = await late.next_pushed()
    assert (snapshot["type"], snapshot["seq"], snapshot["lockedSeats"]) == (
        "current_seat_status",
        3,
        ["A1", "A2", "A3"],
    )


async def test_a_pruned_log_gets_a_snapshot(running: Running) -> None:
    showtime = await running.showtime()
    locker, late = await running.client(), await running.client()
    await locker.request("lock", showtimeId=showtime, seatIds=["A1", "A2"])
    await SeatStore(running.server.engine).prune_events(before=2**62)
    reply = await subscribe_from(late, showtime, 1)
    assert reply["recovered"] is False
    assert (await late.next_pushed())["type"] == "current_seat_status"


async def test_a_last_seq_from_the_future_gets_a_snapshot(running: Running) -> None:
    showtime = await running.showtime()
    client = await running.client()
    reply = await subscribe_from(client, showtime, 99)
    assert reply["recovered"] is False
    assert (await client.next_pushed())["seq"] == 0


async def test_a_negative_last_seq_is_invalid(running: Running) -> None:
    showtime = await running.showtime()
    client = await running.client()
    reply = await subscribe_from(client, showtime, -1)
    assert (reply["type"], reply["code"]) == ("error", "invalid_message")
