"""Per-address limits behind a proxy: a trusted proxy's forwarding headers name the client; nobody else's do.

The test itself plays the proxy: it connects from 127.0.0.1 and sends the headers a proxy would add.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.conftest import Running, StartServer, eventually

LIMITS: dict[str, Any] = {"max_connections_per_ip": 2, "new_sessions_per_minute_per_ip": 3}


async def open_socket(running: Running, headers: dict[str, str]) -> ClientConnection:
    connection = await connect(running.ws_url, additional_headers=headers)
    assert orjson.loads(await connection.recv())["type"] == "connection_established"
    return connection


async def refused_socket(running: Running, headers: dict[str, str]) -> dict[str, Any]:
    with pytest.raises(InvalidStatus) as refused:
        await connect(running.ws_url, additional_headers=headers)
    assert refused.value.response.status_code == 429
    problem: dict[str, Any] = orjson.loads(refused.value.response.body)
    return problem


async def new_session_status(running: Running, headers: dict[str, str]) -> int:
    async with running.http.post(f"{running.http_url}/api/sessions", headers=headers) as response:
        return response.status


async def answers(running: Running) -> bool:
    async with running.http.get(f"{running.http_url}/healthz") as response:
        return response.status == 200


async def test_through_a_trusted_proxy_each_client_has_its_own_limits(start_server: StartServer) -> None:
    running = await start_server(trusted_proxies="192.0.2.1, 127.0.0.0/8", **LIMITS)
    ada = {"X-Forwarded-For": "198.51.100.7"}
    bob = {"Forwarded": 'for="[2001:db8::b0b]:51000";proto=https'}
    # Ada's connections are counted as hers: the third is refused...
    sockets = [await open_socket(running, ada) for _ in range(2)]
    assert (await refused_socket(running, ada))["code"] == "too_many_connections"
    # ...while Bob, behind the same proxy, connects, and so does a client with a forged hop left of its own.
    sockets += [await open_socket(running, bob) for _ in range(2)]
    sockets.append(await open_socket(running, {"X-Forwarded-For": "198.51.100.7, 203.0.113.50"}))
    # New sessions, socket and REST together: Ada has used 2 of her 3, Bob 2 of his.
    assert await new_session_status(running, ada) == 201
    assert await new_session_status(running, ada) == 429
    assert await new_session_status(running, bob) == 201
    assert await new_session_status(running, {"X-Forwarded-For": "203.0.113.99"}) == 201
    for socket in sockets:
        await socket.close()


async def test_from_an_untrusted_peer_the_headers_are_ignored(start_server: StartServer) -> None:
    running = await start_server(trusted_proxies="192.0.2.1", **LIMITS)
    # One peer (127.0.0.1), pretending to be many clients: all count against its own address.
    sockets = [
        await open_socket(running, {"X-Forwarded-For": "198.51.100.1"}),
        await open_socket(running, {"Forwarded": "for=198.51.100.2"}),
    ]
    assert (await refused_socket(running, {"X-Forwarded-For": "198.51.100.3"}))["code"] == "too_many_connections"
    assert (await refused_socket(running, {"Forwarded": "for=198.51.100.4"}))["code"] == "too_many_connections"
    for socket in sockets:  # REST calls are connections of this address too: room for them
        await socket.close()
    await eventually(lambda: answers(running))
    assert await new_session_status(running, {"X-Forwarded-For": "198.51.100.5"}) == 201
    assert await new_session_status(running, {"X-Forwarded-For": "198.51.100.6"}) == 429
