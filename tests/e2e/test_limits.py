"""Each abuse limit, its error code, and that everything else keeps working while it bites."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import Running, StartServer, eventually
from tests.fakes import ManualClock


async def test_messages_per_connection_are_rate_limited_with_a_retry_hint(start_server: StartServer) -> None:
    clock = ManualClock()
    running = await start_server(clock=clock, messages_per_second=2, message_burst=3)
    client = await running.client()
    replies = [await client.request("ping") for _ in range(5)]
    assert [r["type"] for r in replies[:3]] == ["pong"] * 3
    limited = replies[3]
    assert (limited["type"], limited["code"], limited["retryAfterMs"]) == ("error", "rate_limited", 500)
    clock.advance(499)
    assert (await client.request("ping"))["retryAfterMs"] == 1
    clock.advance(1)
    assert (await client.request("ping"))["type"] == "pong"
    # Another connection has its own bucket.
    assert (await (await running.client()).request("ping"))["type"] == "pong"


async def test_seat_changes_per_session_are_limited_across_socket_and_rest(start_server: StartServer) -> None:
    # A manual clock: on the system clock a slow machine could refill the bucket between the requests.
    running = await start_server(clock=ManualClock(), seat_changes_per_second=1, seat_change_burst=2)
    showtime = await running.showtime()
    client = await running.client()
    assert (await client.request("lock", showtimeId=showtime, seatIds=["A1"]))["type"] == "ack"
    assert (await client.request("unlock", showtimeId=showtime, seatIds=["A1"]))["type"] == "ack"
    async with running.http.post(
        f"{running.http_url}/api/seat-locks",
        json={"showtimeId": showtime, "seatIds": ["A2"]},
        headers={"Authorization": f"Bearer {client.token}"},
    ) as response:
        problem = await response.json(content_type=None)
        assert response.status == 429
        assert int(response.headers["Retry-After"]) >= 1
    assert (problem["code"], problem["retryAfterMs"] > 0) == ("rate_limited", True)
    # Nothing was locked by the refused request, and other sessions are not slowed down.
    other = await running.client()
    assert (await other.request("lock", showtimeId=showtime, seatIds=["A2"]))["type"] == "ack"


async def test_a_session_holds_at_most_its_quota_per_showtime(start_server: StartServer) -> None:
    running = await start_server(max_held_seats_per_session=3)
    showtime, other_showtime = await running.showtime(), await running.showtime()
    client = await running.client()
    assert (await client.request("lock", showtimeId=showtime, seatIds=["A1", "A2"]))["type"] == "ack"
    refused = await client.request("lock", showtimeId=showtime, seatIds=["B1", "B2"])
    assert (refused["type"], refused["code"]) == ("error", "hold_limit_reached")
    assert (await client.request("lock", showtimeId=showtime, seatIds=["B1"]))["type"] == "ack"
    # The quota is per showtime.
    assert (await client.request("lock", showtimeId=other_showtime, seatIds=["A1", "A2", "A3"]))["type"] == "ack"


async def test_subscriptions_per_connection_are_limited(start_server: StartServer) -> None:
    running = await start_server(max_subscriptions_per_connection=2)
    first, second, third = [await running.showtime() for _ in range(3)]
    client = await running.client()
    await client.request("subscribe", showtimeId=first)
    await client.request("subscribe", showtimeId=second)
    assert (await client.request("subscribe", showtimeId=second))["type"] == "subscribed"  # a resync is not a new one
    refused = await client.request("subscribe", showtimeId=third)
    assert (refused["type"], refused["code"]) == ("error", "too_many_subscriptions")
    await client.request("unsubscribe", showtimeId=first)
    assert (await client.request("subscribe", showtimeId=third))["type"] == "subscribed"


async def test_connections_per_ip_are_limited_at_the_handshake(start_server: StartServer) -> None:
    running = await start_server(max_connections_per_ip=3)
    clients = [await running.client() for _ in range(3)]
    with pytest.raises(InvalidStatus) as refused:
        await running.client()
    assert refused.value.response.status_code == 429
    assert orjson.loads(refused.value.response.body)["code"] == "too_many_connections"
    await clients[0].close()
    await eventually(lambda: _connections_are(running, 2))  # the server has seen the close
    assert (await (await running.client()).request("ping"))["type"] == "pong"


async def test_new_sessions_per_address_are_limited_but_resuming_is_not(start_server: StartServer) -> None:
    running = await start_server(new_sessions_per_minute_per_ip=2)
    first = await running.client()
    await running.client()
    with pytest.raises(InvalidStatus) as refused:
        await running.client()
    assert refused.value.response.status_code == 429
    assert orjson.loads(refused.value.response.body)["code"] == "rate_limited"
    async with running.http.post(f"{running.http_url}/api/sessions") as response:  # the same budget
        assert (response.status, (await response.json(content_type=None))["code"]) == (429, "rate_limited")
    resumed = await running.client(token=first.token)
    assert resumed.session_id == first.session_id


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://127.0.0.1:{http_port}", True),  # the demo page of this very server
        ("https://evil.example", False),
        ("http://127.0.0.1:1", False),
    ],
)
async def test_foreign_origins_cannot_open_the_socket(running: Running, origin: str, allowed: bool) -> None:
    origin = origin.format(http_port=running.server.http_port)
    if allowed:
        async with connect(running.ws_url, origin=origin) as connection:  # type: ignore[arg-type]
            assert orjson.loads(await connection.recv())["type"] == "connection_established"
        return
    with pytest.raises(InvalidStatus) as refused:
        await connect(running.ws_url, origin=origin)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    assert orjson.loads(refused.value.response.body)["code"] == "origin_not_allowed"


async def test_allowed_origins_setting_admits_the_listed_shops(start_server: StartServer) -> None:
    running = await start_server(allowed_origins="https://shop.example, https://tickets.example")
    async with connect(running.ws_url, origin="https://shop.example") as connection:  # type: ignore[arg-type]
        assert orjson.loads(await connection.recv())["type"] == "connection_established"
    with pytest.raises(InvalidStatus):
        await connect(running.ws_url, origin=f"http://127.0.0.1:{running.server.http_port}")  # type: ignore[arg-type]


async def test_rest_answers_cors_preflights_for_allowed_origins_only(start_server: StartServer) -> None:
    running = await start_server(allowed_origins="https://shop.example")
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    url = f"{running.http_url}/api/seat-locks"
    async with running.http.options(url, headers={"Origin": "https://shop.example", **preflight}) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    async with running.http.options(url, headers={"Origin": "https://evil.example", **preflight}) as response:
        assert response.status == 403
        assert "Access-Control-Allow-Origin" not in response.headers
    async with running.http.get(
        f"{running.http_url}/api/showtimes", headers={"Origin": "https://shop.example"}
    ) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"


async def test_expired_and_forged_tokens_get_no_session(start_server: StartServer) -> None:
    running = await start_server(session_ttl_seconds=60)
    client = await running.client()
    session_id, expiry, signature = client.token.split(".")
    stale = f"{session_id}.1000.{signature}"  # an old expiry under the same signature
    resigned = (await running.client(token=stale)).hello
    assert (resigned["resumed"], resigned["sessionId"] != session_id) == (False, True)
    for bad in (stale, f"{session_id}.{expiry}.{signature[:-2]}xx", "garbage"):
        async with running.http.delete(
            f"{running.http_url}/api/seat-locks",
            json={"showtimeId": "x", "seatIds": ["A1"]},
            headers={"Authorization": f"Bearer {bad}"},
        ) as response:
            assert response.status == 401


async def test_a_slow_consumer_is_disconnected_while_others_keep_receiving(start_server: StartServer) -> None:
    """A subscriber that never reads fills its buffers; past the limit it is cut off, and nobody waits for it.

    The kernel buffers about 4 MiB for a stalled peer on loopback before the server's own write buffer
    grows, so the test produces changes in batches of 100 seats until the eviction happens (bounded).
    """
    running = await start_server(
        slow_consumer_buffer_bytes=64 * 1024, max_seats_per_request=100, max_held_seats_per_session=100
    )
    showtime = await running.showtime(rows=4, seats_per_row=25)
    reader = await running.client()
    await reader.request("subscribe", showtimeId=showtime)
    await reader.next_pushed("current_seat_status")

    stalled = await _non_reader(running)
    try:
        subscribe = _masked_text(orjson.dumps({"type": "subscribe", "showtimeId": showtime}))
        await asyncio.get_running_loop().sock_sendall(stalled, subscribe)
        await eventually(lambda: _true(running.server.fanout.subscriber_count(showtime) == 2))

        locker = await running.client()
        seats = [f"{row}{n}" for row in "ABCD" for n in range(1, 26)]
        sent = 0
        for _ in range(400):  # 400 x 200 changes of ~190 bytes: far past the kernel's buffers
            await locker.request("lock", showtimeId=showtime, seatIds=seats)
            await locker.request("unlock", showtimeId=showtime, seatIds=seats)
            sent += 2 * len(seats)
            if running.server.fanout.subscriber_count(showtime) == 1:
                break
        assert running.server.fanout.subscriber_count(showtime) == 1, "the stalled subscriber was never evicted"
        changes = await reader.changes(sent)  # the reader got everything, in order, meanwhile
        assert [c["seq"] for c in changes] == list(range(1, sent + 1))
        # The connection itself is gone, not just its subscription: its slot and buffers are freed.
        await eventually(lambda: _connections_are(running, 2))
    finally:
        stalled.close()


async def test_a_client_that_asks_for_replays_but_never_reads_is_dropped(start_server: StartServer) -> None:
    """Replays are sent without waiting, like broadcasts, so they are bounded the same way."""
    running = await start_server(
        slow_consumer_buffer_bytes=64 * 1024, max_seats_per_request=100, max_held_seats_per_session=100
    )
    showtime = await running.showtime(rows=4, seats_per_row=25)
    locker = await running.client()
    seats = [f"{row}{n}" for row in "ABCD" for n in range(1, 26)]
    for _ in range(5):  # 1,000 changes in the log: each replay from lastSeq 0 is about 190 KB
        await locker.request("lock", showtimeId=showtime, seatIds=seats)
        await locker.request("unlock", showtimeId=showtime, seatIds=seats)

    greedy = await _non_reader(running)
    loop = asyncio.get_running_loop()
    # Leaving first makes each subscribe a fresh one, so each replays the whole log.
    leave = _masked_text(orjson.dumps({"type": "unsubscribe", "showtimeId": showtime}))
    ask = leave + _masked_text(orjson.dumps({"type": "subscribe", "showtimeId": showtime, "lastSeq": 0}))
    try:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):  # dropped while still asking
            for _ in range(200):  # far past the kernel's buffers; the server must cut it off before the end
                await loop.sock_sendall(greedy, ask)
                await asyncio.sleep(0.01)
        # dropped by the server (ours is still open); a bound, generous for a loaded machine, not a speed check
        await eventually(lambda: _connections_are(running, 1), timeout=30)
    finally:
        greedy.close()
    assert (await locker.request("ping"))["type"] == "pong"


async def _true(value: bool) -> bool:
    return value


async def _connections_are(running: Running, count: int) -> bool:
    """Open WebSocket connections as the server's metrics count them (read in-process: an HTTP request would
    take one of the address's connections itself)."""
    return running.server.metrics.registry.get_sample_value("seat_connections") == count


async def _non_reader(running: Running) -> socket.socket:
    """A raw socket that completes the WebSocket handshake and will never read. Its receive buffer is made
    tiny before connecting, so as little as possible is in flight towards it."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(raw, ("127.0.0.1", running.server.websocket_port))
    await loop.sock_sendall(raw, _handshake(running.server.websocket_port))
    return raw


def _handshake(port: int) -> bytes:
    return (
        f"GET /ws/seat-updates HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def _masked_text(payload: bytes) -> bytes:
    """One client-to-server text frame (clients must mask; a zero mask keeps the payload as is)."""
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + b"\x00\x00\x00\x00" + payload
