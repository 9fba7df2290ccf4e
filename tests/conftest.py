"""Fixtures: a real database per backend, a real server on ephemeral ports, real clients."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.app import SeatServer
from server.core.clock import Clock, SystemClock
from server.settings import Settings
from server.storage.database import create_engine
from server.storage.migrations import apply_migrations
from server.storage.seed import Category, create_showtime
from tests.client import SeatClient
from tests.services import create_database, drop_database

BACKENDS = ["sqlite", "postgresql"]
GENEROUS_LIMITS = {
    "max_connections_per_ip": 100_000,
    "new_sessions_per_minute_per_ip": 1_000_000,
    "showtime_reads_per_minute_per_ip": 1_000_000,
    "messages_per_second": 100_000,
    "message_burst": 100_000,
    "seat_changes_per_second": 100_000,
    "seat_change_burst": 100_000,
}


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    url = await create_database()
    yield url
    await drop_database(url)


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the test's own, for tests that build a schema from nothing or must see no one else's
    rows."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = await create_database("seats_schema")
    yield url
    await drop_database(url)


@pytest.fixture
async def migrated_engine(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database of the test's own, every migration applied."""
    engine = create_engine(empty_database_url)
    await apply_migrations(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'seats.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_settings(database_url: str, **overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "database_url": database_url,
        "host": "127.0.0.1",
        "websocket_server_port": 0,
        "http_port": 0,
        "secret_key": "test-secret-for-tokens",
        "demo_data": False,
        "hold_sweep_interval_seconds": 0.05,
        # Hundreds of test clients share one address and fire requests at once; the limit tests set these low.
        **GENEROUS_LIMITS,
    }
    return Settings(_env_file=None, **(defaults | overrides))


class Running:
    """A started server and what tests need to talk to it."""

    def __init__(self, server: SeatServer, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.http = http

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.websocket_port}/ws/seat-updates"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.server.http_port}"

    async def client(self, token: str | None = None) -> SeatClient:
        return await SeatClient.connect(self.ws_url, token)

    async def showtime(self, rows: int = 3, seats_per_row: int = 5, **options: Any) -> str:
        """A fresh showtime of its own, so tests sharing a database never see each other's seats."""
        return await create_showtime(
            self.server.engine,
            rows=rows,
            seats_per_row=seats_per_row,
            title="Test " + secrets.token_hex(3),
            starts_at=SystemClock().now() + 3_600_000,
            categories=options.pop("categories", (Category("Standard", 1000), Category("Premium", 1500, range(0, 1)))),
            **options,
        )

    async def session(self) -> tuple[str, str]:
        async with self.http.post(f"{self.http_url}/api/sessions") as response:
            body = await response.json()
        return body["sessionId"], body["token"]


StartServer = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_server(database_url: str) -> AsyncIterator[StartServer]:
    """Start servers on the test's database, on the system clock or the one given; all are stopped at the end."""
    started: list[SeatServer] = []
    http = aiohttp.ClientSession()

    async def start(clock: Clock | None = None, **overrides: Any) -> Running:
        server = SeatServer(test_settings(database_url, **overrides), clock=clock)
        await server.start()
        started.append(server)
        return Running(server, http)

    yield start
    for server in started:
        if server.running:
            await server.stop()
    await http.close()


@pytest.fixture
async def running(start_server: StartServer) -> Running:
    return await start_server()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until ``check`` holds; fail after ``timeout`` seconds (a bound, never a speed assertion)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(0.02)
