"""Holds that cannot be hoarded: re-locking and ``extend`` stop at MAX_HOLD_SECONDS after the first lock.

Real clients and servers on SQLite and PostgreSQL, with the clock in the test's hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from sqlalchemy import select

from server.core.seats import SeatStatus
from server.service import Replay
from server.storage.tables import seat_hold
from tests.client import SeatClient
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
    changes = await watcher.changes(4)
    assert [(c["seatId"], c["status"], c["sessionId"]) for c in changes] == [
        ("A1", "locked", holder.session_id),
        ("A1", "locked", holder.session_id),  # the extend; the REST re-lock is silent
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

    # Both instances sweep at once, then one again; the log says what was released (the sweeps also release
    # the lapsed holds other tests left in a shared database).
    await asyncio.gather(first.server.service.expire_lapsed(), second.server.service.expire_lapsed())
    await first.server.service.expire_lapsed()
    replay = await first.server.service.replay(showtime, 0)
    assert isinstance(replay, Replay)
    # The last extend left the hold at its cap, where it was: it moved nothing, so it logged nothing.
    assert [(e.change.seat, e.change.status.value, e.change.origin.value) for e in replay.events] == [
        ("B1", "locked", "lock"),
        ("B1", "locked", "extend"),
        ("B1", "locked", "extend"),
        ("B1", "unlocked", "hold_expired"),
    ]
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


async def test_at_the_cap_holders_rivals_and_two_sweepers_race_and_no_seat_is_held_twice(
    start_server: StartServer,
) -> None:
    """At the cap, two instances sweep while holders lock their seats again, some against a rival: each seat has
    one winner, and an old holder wins its seat back only after it was released."""
    clock = ManualClock()
    slow_sweep = CAPPED | {"hold_sweep_interval_seconds": 3600}  # the test plays the sweepers
    first, second = await start_server(clock=clock, **slow_sweep), await start_server(clock=clock, **slow_sweep)
    showtime = await first.showtime(rows=2, seats_per_row=10)
    contested, alone = [f"A{n}" for n in range(1, 11)], [f"B{n}" for n in range(1, 11)]
    seats = contested + alone
    holders = [await (first, second)[n % 2].client() for n in range(len(seats))]
    rivals = [await (second, first)[n % 2].client() for n in range(len(contested))]
    for holder, seat in zip(holders, seats, strict=True):
        assert (await holder.request("lock", showtimeId=showtime, seatIds=[seat]))["type"] == "ack"
    for _ in range(2):
        clock.advance(50_000)
        extends = [
            holder.request("extend", showtimeId=showtime, seatIds=[seat])
            for holder, seat in zip(holders, seats, strict=True)
        ]
        assert {reply["type"] for reply in await asyncio.gather(*extends)} == {"ack"}
    clock.advance(50_000)  # every hold at its cap

    def lock(client: SeatClient, seat: str) -> Awaitable[dict[str, Any]]:
        return client.request("lock", showtimeId=showtime, seatIds=[seat])

    async def until_held(client: SeatClient, seat: str) -> list[dict[str, Any]]:
        """Lock the seat again and again until it is had: nobody else wants it, so once it is released."""
        replies = [await lock(client, seat)]
        while replies[-1]["type"] != "ack" and len(replies) < 1000:
            replies.append(await lock(client, seat))
        return replies

    pairs = zip(holders[: len(contested)], rivals, contested, strict=True)
    once = [(client, seat) for holder, rival, seat in pairs for client in (holder, rival)]
    racing: list[Awaitable[Any]] = [
        *(lock(client, seat) for client, seat in once),
        *(until_held(holder, seat) for holder, seat in zip(holders[len(contested) :], alone, strict=True)),
        first.server.service.expire_lapsed(),
        second.server.service.expire_lapsed(),
    ]
    outcomes = await asyncio.gather(*racing)
    replies, retried = outcomes[: len(once)], outcomes[len(once) : len(once) + len(alone)]

    replay = await first.server.service.replay(showtime, 0)
    assert isinstance(replay, Replay)
    released = {e.change.seat: e.seq for e in replay.events if e.change.status is SeatStatus.UNLOCKED}
    assert len(released) == sum(e.change.status is SeatStatus.UNLOCKED for e in replay.events)  # once at most
    winners: dict[str, SeatClient] = {}
    for (client, seat), reply in zip(once, replies, strict=True):
        if reply["type"] == "ack":
            assert seat not in winners, f"{seat} was won twice"
            assert reply["expiresAt"] == clock.now() + TTL_MS  # a fresh hold, whoever won it
            winners[seat] = client
        else:
            assert (reply["code"], reply["conflictingSeats"]) == ("seat_unavailable", [seat])
    for holder, seat, tries in zip(holders[len(contested) :], alone, retried, strict=True):
        assert [reply.get("code") for reply in tries] == ["seat_unavailable"] * (len(tries) - 1) + [None]
        assert tries[-1]["expiresAt"] == clock.now() + TTL_MS
        winners[seat] = holder
    assert set(winners) == set(seats)  # a rival's unless its old holder was first after the sweep
    for holder, seat in zip(holders, seats, strict=True):
        if winners[seat] is holder:
            relocked = max(
                e.seq for e in replay.events if e.change.seat == seat and e.change.status is SeatStatus.LOCKED
            )
            assert released[seat] < relocked, f"{seat} was held again by its holder before it was released"
    async with first.server.engine.connect() as conn:
        rows = await conn.execute(
            select(seat_hold.c.seat_code, seat_hold.c.session_id).where(seat_hold.c.showtime_id == showtime)
        )
        held = {seat: session for seat, session in rows}
    assert held == {seat: client.session_id for seat, client in winners.items()}
