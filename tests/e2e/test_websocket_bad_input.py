"""Every bad message gets a typed error, leaves the state as it was, and keeps the connection usable."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from tests.client import SeatClient
from tests.conftest import Running

CUSTOMER = {"name": "Ada", "email": "ada@example.com"}
# "{s}" stands for the test's showtime; seats A1 is held by another session, A2 by the sender.
CASES: list[tuple[str, Any, str]] = [
    ("not json", "{nope", "invalid_message"),
    ("json but not an object", "[1, 2, 3]", "invalid_message"),
    ("a bare string", '"lock"', "invalid_message"),
    ("no type", {"showtimeId": "{s}"}, "invalid_message"),
    ("unknown type", {"type": "teleport"}, "invalid_message"),
    ("type of the wrong kind", {"type": 7}, "invalid_message"),
    ("missing showtime", {"type": "lock", "seatIds": ["A3"]}, "invalid_message"),
    ("showtime not a string", {"type": "lock", "showtimeId": 1, "seatIds": ["A3"]}, "invalid_message"),
    ("seat ids not a list", {"type": "lock", "showtimeId": "{s}", "seatIds": "A3"}, "invalid_message"),
    ("seat id not a string", {"type": "lock", "showtimeId": "{s}", "seatIds": [3]}, "invalid_message"),
    ("no seats", {"type": "lock", "showtimeId": "{s}", "seatIds": []}, "invalid_message"),
    ("null seats", {"type": "lock", "showtimeId": "{s}", "seatIds": None}, "invalid_message"),
    ("bad email", {"type": "book", "showtimeId": "{s}", "seatIds": ["A2"], "customer": {"name": "A", "email": "x"}}, "invalid_message"),
    ("no customer", {"type": "book", "showtimeId": "{s}", "seatIds": ["A2"]}, "invalid_message"),
    ("request id object", {"type": "ping", "requestId": {"a": 1}}, "invalid_message"),
    ("python field names", {"type": "lock", "showtime_id": "{s}", "seat_ids": ["A3"]}, "invalid_message"),
    ("unknown showtime", {"type": "lock", "showtimeId": "no-such", "seatIds": ["A3"]}, "unknown_showtime"),
    ("subscribe unknown showtime", {"type": "subscribe", "showtimeId": "no-such"}, "unknown_showtime"),
    ("unknown seat", {"type": "lock", "showtimeId": "{s}", "seatIds": ["A3", "Z42"]}, "unknown_seat"),
    ("too many seats", {"type": "lock", "showtimeId": "{s}", "seatIds": [f"B{n}" for n in range(1, 6)] + [f"C{n}" for n in range(1, 7)]}, "too_many_seats"),
    ("lock a held seat", {"type": "lock", "showtimeId": "{s}", "seatIds": ["A3", "A1"]}, "seat_unavailable"),
    ("unlock someone else's seat", {"type": "unlock", "showtimeId": "{s}", "seatIds": ["A1"]}, "not_lock_owner"),
    ("unlock a free seat", {"type": "unlock", "showtimeId": "{s}", "seatIds": ["A2", "A3"]}, "not_lock_owner"),
    ("book seats not held", {"type": "book", "showtimeId": "{s}", "seatIds": ["A2", "A3"], "customer": CUSTOMER}, "not_lock_owner"),
    ("book someone else's seat", {"type": "book", "showtimeId": "{s}", "seatIds": ["A1"], "customer": CUSTOMER}, "not_lock_owner"),
    ("huge frame", {"type": "lock", "showtimeId": "{s}", "seatIds": ["A3"], "pad": "x" * 100_000}, "message_too_large"),
]  # fmt: skip


async def state_of(client: SeatClient, showtime: str) -> dict[str, Any]:
    await client.request("subscribe", showtimeId=showtime)
    snapshot = await client.next_pushed("current_seat_status")
    return {key: snapshot[key] for key in ("seq", "bookedSeats", "lockedSeats", "mySeats")}


@pytest.mark.parametrize(("frame", "code"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
async def test_bad_message(running: Running, frame: Any, code: str) -> None:
    showtime = await running.showtime()
    other, sender = await running.client(), await running.client()
    await other.request("lock", showtimeId=showtime, seatIds=["A1"])
    await sender.request("lock", showtimeId=showtime, seatIds=["A2"])
    before = await state_of(sender, showtime)

    text = frame if isinstance(frame, str) else orjson.dumps(frame).decode().replace("{s}", showtime)
    if isinstance(frame, dict) and isinstance(frame.get("requestId", "rid"), str):
        text = orjson.dumps({**orjson.loads(text), "requestId": "rid"}).decode()
    await sender.connection.send(text)
    reply = await sender.next_pushed("error") if '"requestId":"rid"' not in text else await _reply(sender)

    assert reply["type"] == "error"
    assert reply["code"] == code
    assert reply["message"]
    assert await state_of(sender, showtime) == before
    assert (await sender.request("ping"))["type"] == "pong"


async def _reply(client: SeatClient) -> dict[str, Any]:
    message = await client.next_pushed()
    while message.get("requestId") != "rid":
        message = await client.next_pushed()
    return message


async def test_an_error_echoes_the_request_id_even_when_the_message_is_invalid(running: Running) -> None:
    client = await running.client()
    reply = await client.send_raw('{"type":"lock","requestId":"abc","seatIds":5}', "abc")
    assert (reply["type"], reply["code"], reply["requestId"]) == ("error", "invalid_message", "abc")


async def test_binary_frames_are_refused_without_closing(running: Running) -> None:
    client = await running.client()
    await client.connection.send(b'{"type":"ping"}')
    assert (await client.next_pushed("error"))["code"] == "invalid_message"
    assert (await client.request("ping"))["type"] == "pong"


async def test_a_frame_past_the_hard_ceiling_closes_with_1009(running: Running) -> None:
    client = await running.client()
    ceiling = running.server.settings.max_message_bytes * 16
    await client.connection.send("x" * (ceiling + 1))
    await asyncio.wait_for(client.connection.wait_closed(), 10)
    assert client.connection.close_code == 1009
    # The server itself is fine.
    assert (await (await running.client()).request("ping"))["type"] == "pong"


async def test_a_request_id_that_is_not_valid_unicode_is_not_echoed(running: Running) -> None:
    """A lone surrogate escape makes the frame invalid; its requestId cannot be sent back as UTF-8 either."""
    client = await running.client()
    await client.connection.send('{"type":"ping","requestId":"\\ud800"}')
    error = await client.next_pushed("error")
    assert (error["code"], "requestId" in error) == ("invalid_message", False)
    assert (await client.request("ping"))["type"] == "pong"


@pytest.mark.parametrize(
    ("frame", "request_id"),
    [
        ('{"type":"lock","requestId":18446744073709551616}', 18446744073709551616),  # beyond 64 bits
        ('{"type":"ping","requestId":"r","x":' + "[" * 1025 + "]" * 1025 + "}", "r"),  # deeper than parsers go
        ('{"x":{"requestId":"inner"},"requestId":"o\\"k","y":"[{"' + "[" * 300 + "]" * 300 + "}", 'o"k'),
        ('{"requestId":' + "[" * 3000, None),
        ('"' * 100_000, None),  # an unterminated string: scanned once, not once per quote
        ('{"type":"lock","requestId":0.0,"x":' + "[" * 1025 + "]" * 1025 + "}", None),  # 0.0 is not the integer 0
    ],
    ids=["huge int", "deep", "nested key and escapes", "deep value", "quotes", "float"],
)
async def test_errors_carry_the_request_id_of_frames_no_parser_takes(
    running: Running, frame: str, request_id: object
) -> None:
    client = await running.client()
    await client.connection.send(frame)
    error = await client.next_pushed()
    assert (error["type"], error.get("requestId")) == ("error", request_id)
    assert (await client.request("ping"))["type"] == "pong"
