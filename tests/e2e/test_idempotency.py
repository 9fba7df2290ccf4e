"""Idempotency keys end to end, on SQLite and PostgreSQL: a request retried with its key is done once.

Without a key a second book of the same seats is refused (not_lock_owner: they are booked now); with it every
retry gets the first booking. So identical answers, with one booking in the database, prove the key did it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from server.storage.tables import booking, booking_seat, idempotency_key, seat_hold
from tests.client import SeatClient
from tests.conftest import Running, StartServer

CUSTOMER = {"name": "Ada", "email": "ada@example.com"}
RACERS = 12


async def post(
    running: Running, method: str, path: str, token: str | None, key: str | None, body: Any
) -> tuple[int, bytes, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with running.http.request(method, running.http_url + path, json=body, headers=headers) as response:
        return response.status, await response.read(), dict(response.headers)


async def sold(running: Running, showtime: str) -> tuple[int, list[str]]:
    """How many bookings the showtime has, and every seat sold (a seat twice would show twice)."""
    async with running.server.engine.connect() as conn:
        bookings = await conn.scalar(select(func.count()).where(booking.c.showtime_id == showtime))
        seats = await conn.execute(select(booking_seat.c.seat_code).where(booking_seat.c.showtime_id == showtime))
        return int(bookings or 0), sorted(seats.scalars())


async def held(running: Running, showtime: str) -> list[str]:
    async with running.server.engine.connect() as conn:
        rows = await conn.execute(select(seat_hold.c.seat_code).where(seat_hold.c.showtime_id == showtime))
        return sorted(rows.scalars())


def without_request_id(reply: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in reply.items() if name != "requestId"}


async def test_a_double_clicked_book_over_rest_makes_one_booking_and_one_answer(running: Running) -> None:
    showtime = await running.showtime()
    _, token = await running.session()
    seats = {"showtimeId": showtime, "seatIds": ["A1", "A2"]}
    await post(running, "POST", "/api/seat-locks", token, None, seats)

    answers = await asyncio.gather(
        *(
            post(running, "POST", "/api/bookings", token, "click", {**seats, "customer": CUSTOMER})
            for _ in range(RACERS)
        )
    )

    assert {(status, body) for status, body, _ in answers} == {(201, answers[0][1])}
    assert sum(headers.get("Idempotent-Replayed") == "true" for _, _, headers in answers) == RACERS - 1
    assert await sold(running, showtime) == (1, ["A1", "A2"])


async def test_a_double_clicked_book_from_several_connections_of_a_session_makes_one_booking(running: Running) -> None:
    showtime = await running.showtime()
    first = await running.client()
    await first.request("lock", showtimeId=showtime, seatIds=["B1"])
    tabs = [first, *await asyncio.gather(*(running.client(first.token) for _ in range(RACERS - 1)))]
    assert {tab.session_id for tab in tabs} == {first.session_id}

    replies = await asyncio.gather(
        *(
            tab.request("book", showtimeId=showtime, seatIds=["B1"], customer=CUSTOMER, idempotencyKey="click")
            for tab in tabs
        )
    )

    assert replies[0]["type"] == "ack"
    assert [without_request_id(reply) for reply in replies] == [without_request_id(replies[0])] * RACERS
    assert await sold(running, showtime) == (1, ["B1"])
    for tab in tabs:
        await tab.close()


async def test_the_same_key_on_two_instances_has_one_effect(start_server: StartServer) -> None:
    one, two = await start_server(), await start_server()
    showtime = await one.showtime()
    _, token = await one.session()
    seats = {"showtimeId": showtime, "seatIds": ["C1"]}
    await post(one, "POST", "/api/seat-locks", token, None, seats)
    body = {**seats, "customer": CUSTOMER}

    answers = await asyncio.gather(
        *(post(instance, "POST", "/api/bookings", token, "k", body) for instance in [one, two] * (RACERS // 2))
    )

    assert {(status, body) for status, body, _ in answers} == {(201, answers[0][1])}
    assert await sold(one, showtime) == (1, ["C1"])


async def test_the_answer_is_replayed_after_a_restart(start_server: StartServer) -> None:
    before = await start_server()
    showtime = await before.showtime()
    _, token = await before.session()
    seats = {"showtimeId": showtime, "seatIds": ["C2"]}
    await post(before, "POST", "/api/seat-locks", token, None, seats)
    first = await post(before, "POST", "/api/bookings", token, "k", {**seats, "customer": CUSTOMER})
    await before.server.stop()

    after = await start_server()
    again = await post(after, "POST", "/api/bookings", token, "k", {**seats, "customer": CUSTOMER})

    assert (again[0], again[1], again[2]["Idempotent-Replayed"]) == (201, first[1], "true")
    assert await sold(after, showtime) == (1, ["C2"])


async def test_a_used_key_with_another_request_is_refused_and_does_nothing(running: Running) -> None:
    showtime = await running.showtime()
    _, token = await running.session()
    await post(running, "POST", "/api/seat-locks", token, "k", {"showtimeId": showtime, "seatIds": ["A3"]})

    for method, path, body in [
        ("POST", "/api/seat-locks", {"showtimeId": showtime, "seatIds": ["A4"]}),  # another seat
        ("DELETE", "/api/seat-locks", {"showtimeId": showtime, "seatIds": ["A3"]}),  # another operation
        ("POST", "/api/bookings", {"showtimeId": showtime, "seatIds": ["A3"], "customer": CUSTOMER}),
    ]:
        status, problem, _ = await post(running, method, path, token, "k", body)
        assert (status, b'"code":"idempotency_key_reused"' in problem) == (422, True), problem

    assert await held(running, showtime) == ["A3"]
    assert await sold(running, showtime) == (0, [])


async def test_keys_of_one_session_mean_nothing_to_another(running: Running) -> None:
    showtime = await running.showtime()
    (owner, mine), (other, theirs) = await running.session(), await running.session()
    seats = {"showtimeId": showtime, "seatIds": ["B2"]}
    await post(running, "POST", "/api/seat-locks", mine, "k", seats)

    status, problem, headers = await post(running, "POST", "/api/seat-locks", theirs, "k", seats)

    assert (status, b"seat_unavailable" in problem, "Idempotent-Replayed" in headers) == (409, True, False)
    async with running.server.engine.connect() as conn:
        query = select(idempotency_key.c.fingerprint).where(
            idempotency_key.c.key == "k", idempotency_key.c.scope.in_([owner, other])
        )
        fingerprints = list((await conn.execute(query)).scalars())
    assert len(fingerprints) == 2  # the same key and request, kept once in each session
    assert len(set(fingerprints)) == 1


async def test_socket_lock_unlock_and_book_with_keys(running: Running) -> None:
    showtime = await running.showtime()
    buyer = await running.client()

    locked = await buyer.request("lock", showtimeId=showtime, seatIds=["C3"], idempotencyKey="lock")
    unlocked = await buyer.request("unlock", showtimeId=showtime, seatIds=["C3"], idempotencyKey="unlock")
    relocked = await buyer.request("lock", showtimeId=showtime, seatIds=["C3"], idempotencyKey="lock")
    assert (locked["type"], unlocked["type"]) == ("ack", "ack")
    assert without_request_id(relocked) == without_request_id(locked)
    assert await held(running, showtime) == []  # the retried lock was answered, not done again

    await buyer.request("lock", showtimeId=showtime, seatIds=["C3"], idempotencyKey="lock again")
    booking = {"showtimeId": showtime, "seatIds": ["C3"], "customer": CUSTOMER}
    booked = await buyer.request("book", **booking, idempotencyKey="book")
    again = await buyer.request("book", **booking, idempotencyKey="book")
    reunlocked = await buyer.request("unlock", showtimeId=showtime, seatIds=["C3"], idempotencyKey="unlock")
    assert booked["type"] == "ack"
    assert without_request_id(again) == without_request_id(booked)
    assert without_request_id(reunlocked) == without_request_id(unlocked)
    assert await sold(running, showtime) == (1, ["C3"])

    refused = await buyer.request("book", **{**booking, "seatIds": ["C4"]}, idempotencyKey="book")
    assert (refused["type"], refused["code"]) == ("error", "idempotency_key_reused")
    # Over REST the same key names another request (another transport): refused too.
    status, _, _ = await post(running, "POST", "/api/bookings", buyer.token, "book", booking)
    assert status == 422
    await buyer.close()


async def test_a_kept_refusal_is_replayed_on_the_socket(running: Running) -> None:
    showtime = await running.showtime()
    rival, buyer = await running.client(), await running.client()
    await rival.request("lock", showtimeId=showtime, seatIds=["A5"])
    taken = await buyer.request("lock", showtimeId=showtime, seatIds=["A5"], idempotencyKey="k")
    await rival.request("unlock", showtimeId=showtime, seatIds=["A5"])
    again = await buyer.request("lock", showtimeId=showtime, seatIds=["A5"], idempotencyKey="k")
    assert (taken["type"], taken["code"]) == ("error", "seat_unavailable")
    assert without_request_id(again) == without_request_id(taken)
    assert await held(running, showtime) == []
    for client in (rival, buyer):
        await client.close()


BAD_KEYS = [
    ("empty", ""),
    ("too long", "k" * 256),
    ("a control character", "a\tb"),
]


@pytest.mark.parametrize("key", [case[1] for case in BAD_KEYS], ids=[case[0] for case in BAD_KEYS])
async def test_a_malformed_key_is_refused_and_changes_nothing(running: Running, key: str) -> None:
    showtime = await running.showtime()
    _, token = await running.session()
    client: SeatClient = await running.client()
    seats = {"showtimeId": showtime, "seatIds": ["B4"]}
    status, problem, _ = await post(running, "POST", "/api/seat-locks", token, key, seats)
    assert (status, b'"code":"invalid_message"' in problem) == (400, True)
    reply = await client.request("lock", **seats, idempotencyKey=key)
    assert (reply["type"], reply["code"]) == ("error", "invalid_message")
    assert await held(running, showtime) == []
    await client.close()
