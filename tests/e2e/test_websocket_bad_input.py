"""Every bad message gets a typed error, leaves the state as it was, and keeps the connection usable."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect

from tests.client import SeatClient
from tests.conftest import Running, StartServer

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
    ("empty idempotency key", {"type": "lock", "showtimeId": "{s}", "seatIds": ["A3"], "idempotencyKey": ""}, "invalid_message"),
    ("idempotency key too long", {"type": "lock", "showtimeId": "{s}", "seatIds": ["A3"], "idempotencyKey": "k" * 256}, "invalid_message"),
    ("idempotency key not a string", {"type": "book", "showtimeId": "{s}", "seatIds": ["A2"], "customer": CUSTOMER, "idempotencyKey": 7}, "invalid_message"),
    ("idempotency key with a control character", {"type": "unlock", "showtimeId": "{s}", "seatIds": ["A2"], "idempotencyKey": "a\x00b"}, "invalid_message"),
    ("keyed lock of a held seat", {"type": "lock", "showtimeId": "{s}", "seatIds": ["A1"], "idempotencyKey": "k"}, "seat_unavailable"),
    ("keyed book of seats not held", {"type": "book", "showtimeId": "{s}", "seatIds": ["A3"], "customer": CUSTOMER, "idempotencyKey": "k"}, "not_lock_owner"),
    ("book with an unknown payment", {"type": "book", "showtimeId": "{s}", "seatIds": ["A2"], "customer": CUSTOMER, "payment": "later"}, "invalid_message"),
    ("book with payment not a string", {"type": "book", "showtimeId": "{s}", "seatIds": ["A2"], "customer": CUSTOMER, "payment": 1}, "invalid_message"),
    ("book with a phone too long", {"type": "book", "showtimeId": "{s}", "seatIds": ["A2"], "customer": {**CUSTOMER, "phone": "1" * 41}}, "invalid_message"),
    ("book with a phone with NUL", {"type": "book", "showtimeId": "{s}", "seatIds": ["A2"], "customer": {**CUSTOMER, "phone": "1\u0000"}}, "invalid_message"),
    ("book with notes too long", {"type": "book", "showtimeId": "{s}", "seatIds": ["A2"], "customer": CUSTOMER, "notes": "x" * 2001}, "invalid_message"),
    ("book with an empty order reference", {"type": "book", "showtimeId": "{s}", "seatIds": ["A2"], "customer": CUSTOMER, "orderReference": ""}, "invalid_message"),
    ("book someone else's seat, payment pending", {"type": "book", "showtimeId": "{s}", "seatIds": ["A1"], "customer": CUSTOMER, "payment": "pending"}, "not_lock_owner"),
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


NONE = object()  # the error has no requestId field at all
DEEP = 200  # arrays and objects the server parses around a value; deeper is not JSON to it
REQUEST_IDS: list[tuple[str, str | bytes, object]] = [
    ("invalid message", '{"type":"lock","requestId":"abc","seatIds":5}', "abc"),
    ("huge int", '{"type":"lock","requestId":18446744073709551616}', 18446744073709551616),
    ("128 characters", '{"type":"lock","requestId":"' + "\u20ac" * 128 + '"}', "\u20ac" * 128),
    ("surrogate pair", '{"type":"lock","requestId":"\\ud83d\\udca9"}', "\U0001f4a9"),
    ("nested key and escapes", '{"x":{"requestId":"inner"},"requestId":"o\\"k","y":"[{"}', 'o"k'),
    ("last of duplicate keys", '{"requestId":"first","type":"lock","requestId":"last"}', "last"),
    ("NaN elsewhere", '{"type":"lock","requestId":"n","x":NaN}', "n"),
    ("as deep as parsed", '{"type":"lock","requestId":"d","x":' + "[" * (DEEP - 1) + "1" + "]" * (DEEP - 1) + "}", "d"),
    ("binary", b'{"type":"ping","requestId":"b"}', "b"),
    ("too large", '{"type":"ping","requestId":"big","pad":"' + "x" * 100_000 + '"}', "big"),
    ("not json", "{nope", None),
    ("truncated", '{"type":"lock","requestId":"t"', None),
    ("deeper than parsed", '{"type":"lock","requestId":"d","x":' + "[" * DEEP + "1" + "]" * DEEP + "}", None),
    ("deep value", '{"requestId":' + "[" * 3000, None),
    ("quotes", '"' * 100_000, None),
    ("lone surrogate", '{"type":"ping","requestId":"\\ud800"}', None),  # no UTF-8 for it: not JSON
    ("binary not utf-8", b'{"type":"ping","requestId":"\xff"}', None),
    ("float", '{"type":"lock","requestId":0.0}', None),  # 0.0 is not the integer 0
    ("boolean", '{"type":"lock","requestId":true}', None),
    ("object", '{"type":"ping","requestId":{"a":1}}', None),
    ("129 characters", '{"type":"lock","requestId":"' + "r" * 129 + '"}', None),
    ("no request id", '{"type":"lock"}', NONE),
    ("null request id", '{"type":"lock","requestId":null}', NONE),
    ("json but not an object", '[{"requestId":"a"}]', NONE),
]  # fmt: skip


@pytest.mark.parametrize(
    ("frame", "request_id"), [case[1:] for case in REQUEST_IDS], ids=[case[0] for case in REQUEST_IDS]
)
async def test_the_error_for_a_refused_frame_carries_its_request_id(
    running: Running, frame: str | bytes, request_id: object
) -> None:
    """Read from the JSON when it is a valid id; null when the frame is not JSON or the id is not valid."""
    async with connect(running.ws_url) as connection:  # json, not orjson: integers past 64 bits stay integers
        await asyncio.wait_for(connection.recv(), 10)  # connection_established
        await connection.send(frame)
        error = json.loads(await asyncio.wait_for(connection.recv(), 10))
        assert error["type"] == "error"
        assert error.get("requestId", NONE) == request_id
        assert type(error.get("requestId", NONE)) is type(request_id)
        await connection.send('{"type":"ping","requestId":"after"}')
        assert json.loads(await asyncio.wait_for(connection.recv(), 10))["requestId"] == "after"


async def test_a_rate_limited_frame_gets_its_request_id_by_the_same_rule(start_server: StartServer) -> None:
    running = await start_server(messages_per_second=0.001, message_burst=1)
    client = await running.client()
    assert (await client.request("ping"))["type"] == "pong"
    replies = []
    for frame in ('{"type":"ping","requestId":"p"}', '{"type":"ping"}', "{nope"):
        await client.connection.send(frame)
        replies.append(await client.next_pushed())
    assert [(r["code"], r.get("requestId", NONE)) for r in replies] == [
        ("rate_limited", "p"),
        ("rate_limited", NONE),
        ("rate_limited", None),
    ]
