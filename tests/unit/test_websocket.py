"""The socket adapter: its helpers, and real frames over a loopback socket with the clock in the test's hand."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request

from server.connections import ConnectionBudget
from server.fanout import Fanout
from server.idempotency import Idempotency
from server.metrics import Metrics
from server.rejections import Refusals
from server.service import SeatService
from server.sessions import Sessions
from server.settings import LimitSettings, SeatSettings, SessionSettings, TransportSettings
from server.storage.idempotency import IdempotencyKeys
from server.storage.store import SeatStore
from server.subscriptions import Subscriptions
from server.websocket import PATH, SeatSocket, WebSocketOutlet, _request_id_of, _token
from tests.client import SeatClient
from tests.fakes import ManualClock
from tests.unit.database import SHOWTIME, engine

__all__ = ["engine"]

Serve = Callable[..., Awaitable[str]]  # limit overrides -> the socket's URL


@pytest.mark.parametrize(
    ("path", "token"),
    [(f"{PATH}?token=abc.1.xyz&x=1", "abc.1.xyz"), (PATH, None), (f"{PATH}?token=", None), (f"{PATH}?x=1", None)],
)
def test_the_resume_token_is_read_from_the_query(path: str, token: str | None) -> None:
    assert _token(Request(path, Headers())) == token


@pytest.mark.parametrize(
    ("frame", "update"),
    [
        ('{"type":"lock","requestId":"r1"}', {"request_id": "r1"}),
        ('{"type":"lock","requestId":7}', {"request_id": 7}),
        ('{"type":"lock"}', {}),
        ('{"type":"lock","requestId":null}', {}),
        ("[1, 2]", {}),
        ("{not json", {"request_id": None}),
        ('{"requestId":true}', {"request_id": None}),
        ('{"requestId":1.5}', {"request_id": None}),
        ('{"requestId":"' + "x" * 129 + '"}', {"request_id": None}),
    ],
)
def test_a_refused_frames_request_id_is_kept_when_valid_and_null_when_not(frame: str, update: dict[str, Any]) -> None:
    assert _request_id_of(frame) == update


@pytest.fixture
async def serve(engine: AsyncEngine, clock: ManualClock) -> AsyncIterator[Serve]:
    servers = []

    async def start(**limit_overrides: Any) -> str:
        metrics, store = Metrics(), SeatStore(engine)
        limits = LimitSettings(**limit_overrides)
        fanout = Fanout(store.events, WebSocketOutlet(), metrics, limits.slow_consumer_buffer_bytes)
        service = SeatService(store, SeatSettings(), fanout.publish, metrics, clock)
        sessions = Sessions(b"a-secret-of-sixteen-or-more", SessionSettings(), clock)
        seat_socket = SeatSocket(
            service, Subscriptions(service, fanout, 10), fanout, sessions, Refusals(metrics), metrics, clock,
            TransportSettings(), limits, http_port=8000,
            connections=ConnectionBudget(limits.max_connections_per_ip, ceiling=1000).port(),
            idempotency=Idempotency(IdempotencyKeys(engine), clock, ttl_seconds=3600),
        )  # fmt: skip
        server = await seat_socket.serve(socket.create_server(("127.0.0.1", 0)))
        servers.append(server)
        return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}{PATH}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_requests_are_answered_and_changes_broadcast(serve: Serve, clock: ManualClock) -> None:
    url = await serve()
    holder, watcher = await SeatClient.connect(url), await SeatClient.connect(url)
    assert (holder.hello["timestamp"], holder.hello["resumed"]) == (clock.now(), False)
    assert (await watcher.request("subscribe", showtimeId=SHOWTIME))["type"] == "subscribed"
    assert (await watcher.next_pushed("current_seat_status"))["seq"] == 0
    ack = await holder.request("lock", showtimeId=SHOWTIME, seatIds=["A1"])
    assert (ack["type"], ack["expiresAt"]) == ("ack", clock.now() + 600_000)
    change = await watcher.next_pushed("seat_status_change")
    assert (change["seatId"], change["status"], change["sessionId"], change["seq"]) == (
        "A1", "locked", holder.session_id, 1,
    )  # fmt: skip
    resumed = await SeatClient.connect(url, holder.token)
    assert (resumed.session_id, resumed.hello["resumed"]) == (holder.session_id, True)
    for client in (holder, watcher, resumed):
        await client.close()


async def test_bad_frames_get_errors_and_the_connection_stays_open(serve: Serve) -> None:
    client = await SeatClient.connect(await serve(max_message_bytes=1024))
    unreadable = await client.send_raw("{not json", "None")  # its reply carries "requestId": null
    assert (unreadable["code"], unreadable["requestId"]) == ("invalid_message", None)
    await client.connection.send(b'{"type":"ping","requestId":"b"}')
    binary = await client.next_pushed("error")  # no request of ours: SeatClient sends text
    assert (binary["code"], binary["requestId"]) == ("invalid_message", "b")
    large = '{"type":"ping","requestId":"big","pad":"' + "x" * 2000 + '"}'
    assert (await client.send_raw(large, "big"))["code"] == "message_too_large"
    assert (await client.request("ping"))["type"] == "pong"
    await client.close()


async def test_messages_are_rate_limited_by_the_monotonic_clock(serve: Serve, clock: ManualClock) -> None:
    client = await SeatClient.connect(await serve(messages_per_second=2, message_burst=2))
    assert [(await client.request("ping"))["type"] for _ in range(2)] == ["pong", "pong"]
    limited = await client.request("ping")
    assert (limited["code"], limited["retryAfterMs"]) == ("rate_limited", 500)
    clock.step_wall(10_000)  # a wall step refills nothing
    assert (await client.request("ping"))["code"] == "rate_limited"
    clock.advance(500)
    assert (await client.request("ping"))["type"] == "pong"
    await client.close()


async def test_the_handshake_refuses_other_paths_and_foreign_origins(serve: Serve) -> None:
    url = await serve()
    for target, origin, status, code in (
        (url.replace(PATH, "/elsewhere"), None, 404, "not_found"),
        (url, "https://evil.example", 403, "origin_not_allowed"),
    ):
        with pytest.raises(InvalidStatus) as refused:
            await connect(target, origin=origin)  # type: ignore[arg-type]
        response = refused.value.response
        assert (response.status_code, response.headers["Content-Type"]) == (status, "application/problem+json")
        assert orjson.loads(response.body)["code"] == code


async def test_a_keyed_change_is_done_once_and_its_reply_sent_again_with_the_new_request_id(serve: Serve) -> None:
    url = await serve()
    buyer = await SeatClient.connect(url)
    book = {"showtimeId": SHOWTIME, "seatIds": ["C1"], "customer": {"name": "Ada", "email": "ada@example.com"}}
    locked = await buyer.request("lock", showtimeId=SHOWTIME, seatIds=["C1"], idempotencyKey="lock-1")
    booked = await buyer.request("book", **book, idempotencyKey="book-1")
    resumed = await SeatClient.connect(url, buyer.token)  # the reply was lost with the connection: retry
    again = await resumed.request("book", **book, idempotencyKey="book-1")
    assert booked["type"] == "ack"
    assert again["requestId"] != booked["requestId"]
    assert {**again, "requestId": booked["requestId"]} == booked  # the same booking, not a second one
    relocked = await resumed.request("lock", showtimeId=SHOWTIME, seatIds=["C1"], idempotencyKey="lock-1")
    assert {**relocked, "requestId": locked["requestId"]} == locked  # not seat_unavailable: nothing ran
    reused = await resumed.request("lock", showtimeId=SHOWTIME, seatIds=["C2"], idempotencyKey="lock-1")
    assert (reused["type"], reused["code"]) == ("error", "idempotency_key_reused")
    stranger = await SeatClient.connect(url)  # another session: the key means nothing to it
    refused = await stranger.request("book", **book, idempotencyKey="book-1")
    assert (refused["type"], refused["code"]) == ("error", "not_lock_owner")
    for client in (buyer, resumed, stranger):
        await client.close()
