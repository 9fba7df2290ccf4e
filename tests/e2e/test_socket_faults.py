"""The WebSocket side under faults: a database failing mid-resubscribe, clients that queue work and leave,
connections that never complete their handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
from collections.abc import AsyncIterator

import asyncpg
import orjson

from server.storage.database import sqlite_path
from tests.conftest import Running, StartServer, eventually
from tests.e2e.test_operations import sample, scrape
from tests.services import POSTGRES_ADMIN_URL

# Tables a catch-up reads: the claims for a snapshot, the event log for a replay.
CATCH_UP_TABLES = ("seat_hold", "seat_event")


@contextlib.asynccontextmanager
async def database_outage(running: Running) -> AsyncIterator[None]:
    """Make the server's reads fail until the block ends: a real fault of the database, not of the code.

    PostgreSQL refuses the server's connections (they are terminated and may not come back); on SQLite,
    whose file cannot be taken from a process that has it open, the tables a catch-up reads go away.
    """
    path = sqlite_path(running.server.settings.database.database_url)
    if path is not None:
        with contextlib.closing(sqlite3.connect(path, timeout=5, isolation_level=None)) as db:
            for table in CATCH_UP_TABLES:
                db.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
            try:
                yield
            finally:
                for table in CATCH_UP_TABLES:
                    db.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
        return
    name = running.server.settings.database.database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        try:
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


async def test_a_resubscribe_the_database_fails_says_the_connection_is_no_longer_subscribed(
    running: Running,
) -> None:
    showtime = await running.showtime()
    client, locker = await running.client(), await running.client()
    await client.request("subscribe", showtimeId=showtime)
    await client.next_pushed("current_seat_status")
    await locker.request("lock", showtimeId=showtime, seatIds=["A1"])
    assert (await client.next_pushed("seat_status_change"))["seq"] == 1

    async with database_outage(running):
        failed = await client.request("subscribe", showtimeId=showtime, lastSeq=1)
    assert (failed["type"], failed["code"]) == ("error", "internal_error")
    # Sent before the error: the client is told plainly, not left waiting for changes that will not come.
    told = [message for message in client.drain() if message["type"] == "unsubscribed"]
    assert [message["showtimeId"] for message in told] == [showtime]
    assert told[0]["reason"]

    # Unsubscribed it is, until it subscribes again; then it catches up and follows again.
    await locker.request("lock", showtimeId=showtime, seatIds=["A2"])
    again = await client.request("subscribe", showtimeId=showtime, lastSeq=1)
    assert (again["recovered"], again["seq"]) == (True, 2)
    await locker.request("lock", showtimeId=showtime, seatIds=["A3"])
    assert [change["seq"] for change in await client.changes(2)] == [2, 3]


async def test_work_a_client_queues_is_bounded_and_dropped_when_it_leaves(start_server: StartServer) -> None:
    """Subscribes waiting for a busy showtime: those past the bound are refused, the rest die with the connection."""
    running = await start_server(max_pending_messages=3)
    showtime = await running.showtime()
    client = await running.client()
    async with running.server.service.serialized(showtime):  # a long change in progress: subscribes wait
        for _ in range(12):
            await client.connection.send(orjson.dumps({"type": "subscribe", "showtimeId": showtime}).decode())
            await asyncio.sleep(0)

        async def refused() -> bool:
            return sample(await scrape(running), "seat_errors_total", code="rate_limited") >= 1

        await eventually(refused)  # while the first is still waiting, not after it
        started = sample(await scrape(running), "seat_messages_received_total", type="subscribe")
        await client.close()  # returns once the server has answered the close frame
    await eventually(lambda: _connections(running, 0))
    # Nothing queued was started once the client had gone.
    assert sample(await scrape(running), "seat_messages_received_total", type="subscribe") == started


async def test_a_connection_that_never_sends_its_handshake_is_cut_off(start_server: StartServer) -> None:
    running = await start_server(handshake_timeout_seconds=0.5)
    loop = asyncio.get_running_loop()
    with socket.create_connection(("127.0.0.1", running.server.websocket_port)) as silent:
        silent.setblocking(False)
        assert await asyncio.wait_for(loop.sock_recv(silent, 1024), 5) == b""  # closed, well before 10 s


async def test_stop_returns_promptly_with_a_handshake_never_sent(running: Running) -> None:
    with socket.create_connection(("127.0.0.1", running.server.websocket_port)):
        await asyncio.sleep(0.1)  # accepted by the server
        await asyncio.wait_for(running.server.stop(), 3)  # a bound: it used to wait the handshake out (10 s)


async def _connections(running: Running, count: int) -> bool:
    return sample(await scrape(running), "seat_connections") == count
