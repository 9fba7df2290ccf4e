"""One instance assembled on SQLite: both ports bound, each side knowing the other's, ready, stopped cleanly."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
from pathlib import Path

import aiohttp
import pytest

from server.app import SeatServer, run
from tests import conftest
from tests.client import SeatClient
from tests.fakes import ManualClock

HOUR = 3_600_000


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


async def test_start_serves_both_sides_with_the_injected_clock_and_stop_closes_them(tmp_path: Path) -> None:
    clock = ManualClock()
    server = SeatServer(conftest.test_settings(f"sqlite:///{tmp_path / 'seats.db'}", demo_data=True), clock=clock)
    await server.start()
    try:
        assert server.running
        assert 0 not in (server.websocket_port, server.http_port)
        assert server.websocket_port != server.http_port
        assert await server.readiness() == {"database": "ok"}
        async with aiohttp.ClientSession(f"http://127.0.0.1:{server.http_port}") as http:
            assert (await http.get("/readyz")).status == 200
            config = await (await http.get("/api/config")).json()
            showtimes = await (await http.get("/api/showtimes")).json()
        assert config["websocketUrl"] == f"ws://127.0.0.1:{server.websocket_port}/ws/seat-updates"
        matinee = clock.now() - clock.now() % HOUR + 4 * HOUR
        assert (showtimes[0]["id"], showtimes[0]["startsAt"]) == ("demo-matinee", matinee)
        client = await SeatClient.connect(config["websocketUrl"])
        assert client.hello["timestamp"] == clock.now()
    finally:
        await server.stop()
    assert not server.running
    await client.connection.wait_closed()
    assert client.connection.close_code == 1001
    for port in (server.websocket_port, server.http_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


async def test_readiness_names_a_dependency_that_does_not_answer(tmp_path: Path) -> None:
    settings = conftest.test_settings(
        f"sqlite:///{tmp_path / 'seats.db'}", redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    server = SeatServer(settings, probe_timeout=5)
    await server.start()
    try:
        checks = await server.readiness()
    finally:
        await server.stop()
    assert checks["database"] == "ok"
    assert checks["redis"].startswith("ConnectionError")


async def test_run_sets_its_start_up_heap_aside_and_serves_until_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()
    start = SeatServer.start

    async def start_and_tell(server: SeatServer) -> None:
        await start(server)
        started.set()

    monkeypatch.setattr(SeatServer, "start", start_and_tell)
    serving = asyncio.create_task(run(conftest.test_settings(f"sqlite:///{tmp_path / 'seats.db'}")))
    try:
        await asyncio.wait([serving, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED)
        await asyncio.sleep(0)  # run goes on to wait for a signal
        assert not serving.done()
        assert gc.get_freeze_count() > 0
        os.kill(os.getpid(), signal.SIGTERM)  # run's own handler takes it
        await serving
    finally:
        gc.unfreeze()
