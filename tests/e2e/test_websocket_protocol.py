"""The WebSocket protocol end to end: real clients, a real server, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from server.core.clock import SystemClock
from tests.conftest import Running, StartServer
from tests.fakes import ManualClock


async def test_connection_established_gives_a_session_and_token(running: Running) -> None:
    client = await running.client()
    assert client.hello["sessionId"].startswith("s_")
    assert client.hello["token"]
    assert client.hello["resumed"] is False
    assert isinstance(client.hello["timestamp"], int)
    await client.close()


async def test_other_paths_are_refused_at_the_handshake(running: Running) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"ws://127.0.0.1:{running.server.websocket_port}/elsewhere")
    assert refused.value.response.status_code == 404


async def test_subscribe_answers_subscribed_then_a_snapshot(running: Running) -> None:
    showtime = await running.showtime()
    client = await running.client()
    reply = await client.request("subscribe", showtimeId=showtime)
    assert reply["type"] == "subscribed"
    assert reply["showtimeId"] == showtime
    snapshot = await client.next_pushed("current_seat_status")
    assert snapshot["showtimeId"] == showtime
    assert snapshot["seq"] == 0
    assert snapshot["bookedSeats"] == snapshot["lockedSeats"] == snapshot["mySeats"] == []
    assert "requestId" not in snapshot
    await client.close()


async def test_lock_is_acked_and_broadcast_one_message_per_seat_with_consecutive_seq(running: Running) -> None:
    showtime = await running.showtime()
    locker, watcher = await running.client(), await running.client()
    await watcher.request("subscribe", showtimeId=showtime)
    await watcher.next_pushed("current_seat_status")

    hold_ms = int(running.server.settings.hold_ttl_seconds * 1000)
    sent_at = SystemClock().now()
    ack = await locker.request("lock", showtimeId=showtime, seatIds=["A1", "A2"])
    answered_at = SystemClock().now()

    assert ack["type"] == "ack"
    assert ack["action"] == "lock"
    assert ack["seatIds"] == ["A1", "A2"]
    # The hold runs HOLD_TTL from when the server took the lock, which is between sending and the answer.
    assert sent_at + hold_ms <= ack["expiresAt"] <= answered_at + hold_ms
    changes = await watcher.changes(2)
    assert [(c["seatId"], c["status"], c["sessionId"], c["seq"]) for c in changes] == [
        ("A1", "locked", locker.session_id, 1),
        ("A2", "locked", locker.session_id, 2),
    ]
    assert all(c["showtimeId"] == showtime and isinstance(c["timestamp"], int) for c in changes)
    await locker.close()
    await watcher.close()


async def test_a_batch_subscriber_gets_a_multi_seat_lock_as_one_frame(running: Running) -> None:
    showtime = await running.showtime()
    locker, plain, batch = await running.client(), await running.client(), await running.client()
    await plain.request("subscribe", showtimeId=showtime)
    await batch.request("subscribe", showtimeId=showtime, batch=True)
    for watcher in (plain, batch):
        await watcher.next_pushed("current_seat_status")

    await locker.request("lock", showtimeId=showtime, seatIds=["A1", "A2", "A3"])
    frame = await batch.next_pushed()
    assert (frame["type"], frame["showtimeId"]) == ("seat_status_changes", showtime)
    assert [(c["type"], c["seatId"], c["status"], c["seq"]) for c in frame["changes"]] == [
        ("seat_status_change", seat, "locked", seq) for seq, seat in enumerate(["A1", "A2", "A3"], start=1)
    ]
    assert await plain.changes(3) == frame["changes"]
    await locker.request("unlock", showtimeId=showtime, seatIds=["A2"])
    assert [c["seq"] for c in (await batch.next_pushed("seat_status_changes"))["changes"]] == [4]
    for client in (locker, plain, batch):
        await client.close()


async def test_changes_reach_only_the_subscribers_of_that_showtime(running: Running) -> None:
    first, second = await running.showtime(), await running.showtime()
    on_first, on_second, locker = await running.client(), await running.client(), await running.client()
    for client, showtime in ((on_first, first), (on_second, second)):
        await client.request("subscribe", showtimeId=showtime)
        await client.next_pushed("current_seat_status")

    await locker.request("lock", showtimeId=first, seatIds=["A1"])
    await on_first.changes(1)
    # A later change on the second showtime is the fence: anything sent about the first would come before it.
    await locker.request("lock", showtimeId=second, seatIds=["B1"])
    fence = await on_second.next_pushed()
    assert (fence["type"], fence["showtimeId"], fence["seatId"]) == ("seat_status_change", second, "B1")
    assert on_first.drain() == []


async def test_unsubscribed_clients_stop_receiving(running: Running) -> None:
    showtime = await running.showtime()
    watcher, locker = await running.client(), await running.client()
    await watcher.request("subscribe", showtimeId=showtime)
    assert (await watcher.request("unsubscribe", showtimeId=showtime))["type"] == "unsubscribed"
    await locker.request("lock", showtimeId=showtime, seatIds=["A1"])
    pong = await watcher.request("ping")  # replies are ordered after any broadcast already sent
    assert pong["type"] == "pong"
    assert [m["type"] for m in watcher.drain()] == ["current_seat_status"]


async def test_unlock_and_book_are_broadcast_and_priced(running: Running) -> None:
    showtime = await running.showtime()
    buyer, watcher = await running.client(), await running.client()
    await watcher.request("subscribe", showtimeId=showtime)
    await watcher.next_pushed("current_seat_status")

    await buyer.request("lock", showtimeId=showtime, seatIds=["A1", "B1", "B2"])
    unlocked = await buyer.request("unlock", showtimeId=showtime, seatIds=["B2"])
    assert (unlocked["type"], unlocked["action"], unlocked["seatIds"]) == ("ack", "unlock", ["B2"])
    booked = await buyer.request(
        "book", showtimeId=showtime, seatIds=["A1", "B1"], customer={"name": "Ada", "email": "ada@example.com"}
    )
    assert booked["type"] == "ack"
    assert booked["action"] == "book"
    assert booked["bookingId"].startswith("bk_")
    assert booked["totalCents"] == 1500 + 1000  # row A is premium, row B standard
    assert booked["currency"] == "EUR"

    changes = await watcher.changes(6)
    assert [(c["seatId"], c["status"]) for c in changes] == [
        ("A1", "locked"),
        ("B1", "locked"),
        ("B2", "locked"),
        ("B2", "unlocked"),
        ("A1", "booked"),
        ("B1", "booked"),
    ]
    assert [c["seq"] for c in changes] == [1, 2, 3, 4, 5, 6]

    snapshot_client = await running.client()
    await snapshot_client.request("subscribe", showtimeId=showtime)
    snapshot = await snapshot_client.next_pushed("current_seat_status")
    assert (snapshot["seq"], snapshot["bookedSeats"], snapshot["lockedSeats"]) == (6, ["A1", "B1"], [])


async def test_a_seat_held_by_one_session_is_refused_to_another(running: Running) -> None:
    showtime = await running.showtime()
    holder, rival = await running.client(), await running.client()
    await holder.request("lock", showtimeId=showtime, seatIds=["A1"])

    taken = await rival.request("lock", showtimeId=showtime, seatIds=["A2", "A1"])
    assert (taken["type"], taken["code"], taken["conflictingSeats"]) == ("error", "seat_unavailable", ["A1"])
    foreign_unlock = await rival.request("unlock", showtimeId=showtime, seatIds=["A1"])
    assert (foreign_unlock["code"], foreign_unlock["conflictingSeats"]) == ("not_lock_owner", ["A1"])
    foreign_book = await rival.request(
        "book", showtimeId=showtime, seatIds=["A1"], customer={"name": "Eve", "email": "eve@example.com"}
    )
    assert foreign_book["code"] == "not_lock_owner"
    # All or nothing: the free seat named beside the taken one was not held either.
    assert (await rival.request("lock", showtimeId=showtime, seatIds=["A2"]))["type"] == "ack"


async def test_locking_a_held_seat_again_extends_the_hold_without_a_broadcast(start_server: StartServer) -> None:
    clock = ManualClock()
    running = await start_server(clock=clock)
    showtime = await running.showtime()
    holder, watcher = await running.client(), await running.client()
    await watcher.request("subscribe", showtimeId=showtime)
    first = await holder.request("lock", showtimeId=showtime, seatIds=["A1"])
    clock.advance(10)
    again = await holder.request("lock", showtimeId=showtime, seatIds=["A1"])
    assert again["expiresAt"] == first["expiresAt"] + 10
    await watcher.request("ping")
    assert [m.get("seq") for m in watcher.drain() if m["type"] == "seat_status_change"] == [1]


async def test_extend_announces_its_holds_locked_again_before_its_ack(start_server: StartServer) -> None:
    """Unlike a re-lock, an extend is logged, so it is announced (a seat already held, held still); the
    holder, subscribed, has its own changes by the time the ack comes."""
    clock = ManualClock()
    running = await start_server(clock=clock)
    showtime = await running.showtime()
    holder, watcher = await running.client(), await running.client()
    for client in (holder, watcher):
        await client.request("subscribe", showtimeId=showtime)
    await holder.request("lock", showtimeId=showtime, seatIds=["A1", "A2"])
    clock.advance(10)
    assert (await holder.request("extend", showtimeId=showtime, seatIds=["A2", "A1"]))["type"] == "ack"
    expected = [(seq, seat, "locked", holder.session_id) for seq, seat in ((1, "A1"), (2, "A2"), (3, "A2"), (4, "A1"))]
    told = [(m["seq"], m["seatId"], m["status"], m["sessionId"]) for m in holder.drain() if "seatId" in m]
    assert told == expected
    assert [(c["seq"], c["seatId"], c["status"], c["sessionId"]) for c in await watcher.changes(4)] == expected


async def test_a_reconnect_with_the_token_resumes_the_session_and_its_holds(running: Running) -> None:
    showtime = await running.showtime()
    first = await running.client()
    await first.request("lock", showtimeId=showtime, seatIds=["B3"])
    await first.close()

    again = await running.client(token=first.token)
    assert again.session_id == first.session_id
    assert again.hello["resumed"] is True
    await again.request("subscribe", showtimeId=showtime)
    snapshot = await again.next_pushed("current_seat_status")
    assert snapshot["mySeats"] == ["B3"]
    assert set(snapshot["holdExpiresAt"]) == {"B3"}
    assert (await again.request("unlock", showtimeId=showtime, seatIds=["B3"]))["type"] == "ack"


async def test_a_forged_token_gets_a_fresh_session(running: Running) -> None:
    genuine = await running.client()
    session, expiry, _ = genuine.token.split(".")
    forged = await running.client(token=f"{session}.{expiry}.AAAA")
    assert forged.session_id != genuine.session_id
    assert forged.hello["resumed"] is False


async def test_every_request_id_gets_exactly_one_reply(running: Running) -> None:
    showtime = await running.showtime()
    client = await running.client()
    frames = [
        {"type": "ping", "requestId": 1},
        {"type": "subscribe", "showtimeId": showtime, "requestId": "sub"},
        {"type": "lock", "showtimeId": showtime, "seatIds": ["A1"], "requestId": "l"},
        {"type": "lock", "showtimeId": showtime, "seatIds": ["nope"], "requestId": "bad-seat"},
        {"type": "teleport", "requestId": "bad-type"},
        {"type": "unsubscribe", "showtimeId": showtime, "requestId": 99},
    ]
    for frame in frames:
        await client.connection.send(orjson.dumps(frame).decode())
    await client.request("ping")  # everything before it has been answered by now
    replies = [m for m in client.drain() if "requestId" in m]
    assert [m["requestId"] for m in replies] == [1, "sub", "l", "bad-seat", "bad-type", 99]
    assert [m["type"] for m in replies] == ["pong", "subscribed", "ack", "error", "error", "unsubscribed"]


async def test_lapsed_holds_are_released_and_broadcast(start_server: StartServer) -> None:
    clock = ManualClock()
    running = await start_server(clock=clock, hold_ttl_seconds=60)
    showtime = await running.showtime()
    holder, watcher = await running.client(), await running.client()
    await watcher.request("subscribe", showtimeId=showtime)
    await holder.request("lock", showtimeId=showtime, seatIds=["A1", "A2"])
    changes = await watcher.changes(2)
    clock.advance(60_000)
    changes += await watcher.changes(2)  # from the sweeper, which runs every 50 ms; bounded by the client's timeout
    assert [(c["seatId"], c["status"], c["sessionId"]) for c in changes] == [
        ("A1", "locked", holder.session_id),
        ("A2", "locked", holder.session_id),
        ("A1", "unlocked", holder.session_id),
        ("A2", "unlocked", holder.session_id),
    ]
    # The seat is free for anyone now, and the holder can no longer book it.
    booking = await holder.request(
        "book", showtimeId=showtime, seatIds=["A1"], customer={"name": "Ada", "email": "ada@example.com"}
    )
    assert booking["code"] == "not_lock_owner"


async def test_holds_survive_a_restart_and_still_expire(start_server: StartServer) -> None:
    clock = ManualClock()
    first = await start_server(clock=clock, hold_ttl_seconds=60)
    showtime = await first.showtime()
    holder = await first.client()
    await holder.request("lock", showtimeId=showtime, seatIds=["C1"])
    await first.server.stop()

    second = await start_server(clock=clock, hold_ttl_seconds=60)
    resumed = await second.client(token=holder.token)
    await resumed.request("subscribe", showtimeId=showtime)
    snapshot = await resumed.next_pushed("current_seat_status")
    assert (snapshot["mySeats"], snapshot["seq"]) == (["C1"], 1)
    clock.advance(60_000)  # the new instance must expire a hold the old one made
    change = await resumed.next_pushed("seat_status_change")
    assert (change["seatId"], change["status"], change["seq"]) == ("C1", "unlocked", 2)
    reply = await (await second.client()).request("lock", showtimeId=showtime, seatIds=["C1"])
    assert reply["type"] == "ack"


async def test_stop_closes_sockets_with_going_away(start_server: StartServer) -> None:
    running = await start_server()
    client = await running.client()
    await running.server.stop()
    await asyncio.wait_for(client.connection.wait_closed(), 10)
    assert client.connection.close_code == 1001
