"""The HTTP port's connections on loopback: counted per address from accept to close, refused over budget
before a byte is read, closed when headers never end, and malformed requests answered with a problem."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from server.connections import ConnectionBudget, PortConnections
from server.http_server import listen
from server.metrics import Metrics
from server.rejections import Refusals
from server.settings import TransportSettings
from tests.conftest import eventually

Serve = Callable[..., Awaitable[tuple[int, PortConnections]]]
GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


async def broken(request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start the listener on a loopback port with a budget and transport settings of the test's choosing."""
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start(per_address: int = 10, **transport: Any) -> tuple[int, PortConnections]:
        app = web.Application()
        app.router.add_get("/", hello)
        app.router.add_get("/broken", broken)
        runner = web.AppRunner(app)
        await runner.setup()
        sock = socket.create_server(("127.0.0.1", 0))
        port = ConnectionBudget(per_address, ceiling=100).port()
        listener = await listen(runner, sock, port, Refusals(Metrics()), TransportSettings(**transport))

        async def stop() -> None:
            listener.close()
            await runner.cleanup()
            await listener.wait_closed()

        stops.append(stop)
        return sock.getsockname()[1], port

    yield start
    for stop in stops:
        await stop()


async def exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` on a new connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


def problem(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)["code"]


async def counted(connections: PortConnections, count: int) -> None:
    """Wait until the port counts ``count`` open connections: the server sees opens and closes a moment later."""

    async def check() -> bool:
        return connections.count == count

    await eventually(check)


async def test_an_address_over_its_budget_is_refused_at_accept(serve: Serve) -> None:
    port, connections = await serve(per_address=2)
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    await counted(connections, 2)
    refused = await exchange(port, b"")  # answered before it sends anything
    assert problem(refused) == (429, "too_many_connections")
    assert b"Connection: close" in refused
    held[0][1].close()
    await counted(connections, 1)
    assert (await exchange(port, GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))).endswith(b"hello")
    held[1][1].close()
    await counted(connections, 0)


async def test_a_trusted_proxys_connections_are_not_held_to_one_address_budget(serve: Serve) -> None:
    port, connections = await serve(per_address=1, trusted_proxies="127.0.0.1/32")
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    await counted(connections, 3)
    for _, writer in held:
        writer.close()
    await counted(connections, 0)


async def test_headers_that_never_end_are_cut_off_at_the_idle_timeout(serve: Serve) -> None:
    port, connections = await serve(http_idle_timeout_seconds=0.2)
    assert await exchange(port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n") == b""  # closed without an answer
    await counted(connections, 0)


async def test_a_malformed_request_is_a_problem_and_a_throttled_warning(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    port, _ = await serve()
    with caplog.at_level(logging.WARNING, logger="server.http_server"):
        for garbage in (b"GET / HTTX/1\r\n\r\n", b"\x00\x01\x02\r\n\r\n"):
            assert problem(await exchange(port, garbage)) == (400, "invalid_message")
    warnings = [record.getMessage() for record in caplog.records if record.name == "server.http_server"]
    assert len(warnings) == 1, warnings  # the second within the interval is held back
    assert warnings[0].startswith("malformed HTTP request from 127.0.0.1: ")
    assert "\n" not in warnings[0]


async def test_a_handlers_bug_stays_a_500_not_a_malformed_request(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    port, _ = await serve()
    answer = await exchange(port, b"GET /broken HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 500 ")
    assert not [record for record in caplog.records if "malformed" in record.getMessage()]
    assert any(record.levelno == logging.ERROR and record.exc_info for record in caplog.records)
