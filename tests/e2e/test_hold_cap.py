"""Holds that cannot be hoarded: re-locking and ``extend`` stop at MAX_HOLD_SECONDS after the first lock.

Real clients and servers on SQLite and PostgreSQL, with the clock in the test's hand.
"""

from __future__ import annotations

import asyncio

from server.service import Replay
from tests.conftest import StartServer
from tests.fakes import ManualClock

TTL_MS, MAX_MS = 60_000, 150_000
CAPPED = {"hold_ttl_seconds": TTL_MS / 1000, "max_hold_seconds": MAX_MS / 1000}


async def test_relocks_and_extends_stop_at_the_cap_and_say_so(start_server: StartServer) -> None:
    clock = ManualClock()
    running = await start_server(clock=clock, **CAPPED)
    showtime = await running.showtime()
    holder, watcher = await running.client(), await running.client()
    await watcher.request("subscribe", showtimeId=showtime)
    start = clock.now()
    assert (await holder.request("lock", showtimeId=showtime, seatIds=["A1"]))["expiresAt"] == start + TTL_MS

    clock.advance(50_000)
    extended = await holder.request("extend", showtimeId=showtime, seatIds=["A1"])
    assert extended == {
        "type": "ack", "action": "extend", "showtimeId": showtime, "seatIds": ["A1"],
        "expiresAt": start + 50_000 + TTL_MS, "requestId": extended["requestId"],
    }  # fmt: skip

    clock.advance(50_000)  # REST re-locks the same way; A2 is new
    async with running.http.post(
        f"{running.http_url}/api/seat-locks",
        json={"showtimeId": showtime, "seatIds": ["A1", "A2"]},
        headers={"Authorization": f"Bearer {holder.token}"},
    ) as response:
        relocked = await response.json()
    assert (response.status, relocked["expiresAt"]) == (200, start + MAX_MS)  # A1's cap: the first to lapse
    resumed = await running.client(token=holder.token)
    await resumed.request("subscribe", showtimeId=showtime)
    snapshot = await resumed.next_pushed("current_seat_status")
    assert snapshot["holdExpiresAt"] == {"A1": start + MAX_MS, "A2": start + 100_000 + TTL_MS}

    clock.advance(50_000)  # A1 reached its cap: the sweeper releases it by itself, A2 stays
    changes = await watcher.changes(3)
    assert [(c["seatId"], c["status"], c["sessionId"]) for c in changes] == [
        ("A1", "locked", holder.session_id),
        ("A2", "locked", holder.session_id),
        ("A1", "unlocked", holder.session_id),
    ]
    fresh = await holder.request("lock", showtimeId=showtime, seatIds=["A1"])
    assert fresh["expiresAt"] == clock.now() + TTL_MS  # a new hold, counted from now
    assert (await watcher.next_pushed("seat_status_change"))["status"] == "locked"


async def test_a_capped_hold_waits_for_the_sweep_which_releases_it_once(start_server: StartServer) -> None:
    """Even its own session cannot have the seat again before it is released; two instances sweep it once."""
    clock = ManualClock()
    slow_sweep = CAPPED | {"hold_sweep_interval_seconds": 3600}  # the test plays the sweeper
    first, second = await start_server(clock=clock, **slow_sweep), await start_server(clock=clock, **slow_sweep)
    showtime = await first.showtime()
    holder, rival = await first.client(), await second.client()
    assert (await holder.request("lock", showtimeId=showtime, seatIds=["B1"]))["type"] == "ack"
    for step in (50_000, 50_000, 49_999):  # kept alive up to a millisecond before its cap
        clock.advance(step)
        last = await holder.request("extend", showtimeId=showtime, seatIds=["B1"])
    assert last["expiresAt"] == clock.now() + 1

    clock.advance(1)  # at the cap, not yet swept
    refused = await holder.request("lock", showtimeId=showtime, seatIds=["B2", "B1"])
    assert (refused["type"], refused["code"], refused["conflictingSeats"]) == ("error", "seat_unavailable", ["B1"])
    not_held = await holder.request("extend", showtimeId=showtime, seatIds=["B1"])
    assert (not_held["code"], not_held["conflictingSeats"]) == ("not_lock_owner", ["B1"])

    sweeps = (first.server.service.expire_lapsed_holds(), second.server.service.expire_lapsed_holds())
    assert sorted(await asyncio.gather(*sweeps)) == [0, 1]
    assert await first.server.service.expire_lapsed_holds() == 0
    replay = await first.server.service.replay(showtime, 0)
    assert isinstance(replay, Replay)
    assert [(e.change.seat, e.change.status.value) for e in replay.events] == [("B1", "locked"), ("B1", "unlocked")]
    # Released, the seat is anyone's again, its old holder's included, first come first served.
    taken = await rival.request("lock", showtimeId=showtime, seatIds=["B1"])
    assert taken["expiresAt"] == clock.now() + TTL_MS
    assert (await holder.request("lock", showtimeId=showtime, seatIds=["B1"]))["code"] == "seat_unavailable"


async def test_extend_refuses_seats_the_session_does_not_hold_all_or_nothing(start_server: StartServer) -> None:
    clock = ManualClock()
    running = await start_server(clock=clock, **CAPPED)
    showtime = await running.showtime()
    holder, other = await running.client(), await running.client()
    await holder.request("lock", showtimeId=showtime, seatIds=["C1"])
    await other.request("lock", showtimeId=showtime, seatIds=["C2"])
    clock.advance(10_000)
    for seats, refused in ((["C1", "C2"], ["C2"]), (["C3", "C1"], ["C3"])):
        reply = await holder.request("extend", showtimeId=showtime, seatIds=seats)
        assert (reply["type"], reply["code"], reply["conflictingSeats"]) == ("error", "not_lock_owner", refused)
    unknown = await holder.request("extend", showtimeId=showtime, seatIds=["Z99"])
    assert unknown["code"] == "unknown_seat"
    # Nothing was extended, and the free seat was not taken: C1 still lapses when it did, C3 is free.
    await holder.request("subscribe", showtimeId=showtime)
    snapshot = await holder.next_pushed("current_seat_status")
    assert (snapshot["holdExpiresAt"], snapshot["lockedSeats"]) == ({"C1": clock.now() - 10_000 + TTL_MS}, ["C1", "C2"])
