"""``python -m server`` as a user runs it: a real process, its own ports, signals."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.client import SeatClient
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "SECRET_KEY"}}
    return env | {"PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"} | extra


async def run(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", *args, cwd=tmp_path, env=environment(tmp_path, **env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, stdout.decode(), stderr.decode()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, int, int]]:
    """The server exactly as README starts it: no settings but the ports, in an empty folder."""
    ws_port, http_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", cwd=tmp_path,
        env=environment(tmp_path, WEBSOCKET_SERVER_PORT=str(ws_port), HTTP_PORT=str(http_port)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"http://127.0.0.1:{http_port}/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        else:
            process.kill()
            pytest.fail(f"server did not start: {(await process.communicate())[1].decode()}")
    yield process, ws_port, http_port
    if process.returncode is None:
        process.kill()
        await process.wait()


async def test_it_starts_on_sqlite_with_demo_data_and_stops_cleanly_on_sigterm(
    served: tuple[asyncio.subprocess.Process, int, int], tmp_path: Path
) -> None:
    process, ws_port, http_port = served
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{http_port}/api/showtimes") as response:
        showtimes = await response.json()
    assert len(showtimes) >= 2
    assert (tmp_path / "seats.db").exists()

    client = await SeatClient.connect(f"ws://127.0.0.1:{ws_port}/ws/seat-updates")
    layout_seat = "E7"
    ack = await client.request("lock", showtimeId=showtimes[0]["id"], seatIds=[layout_seat])
    assert ack["type"] == "ack"

    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    await asyncio.wait_for(client.connection.wait_closed(), 10)
    assert client.connection.close_code == 1001


async def test_demo_data_has_two_showtimes_with_categories_and_prices(
    served: tuple[asyncio.subprocess.Process, int, int],
) -> None:
    _, _, http_port = served
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{http_port}/api/showtimes") as response:
            showtimes = await response.json()
        async with http.get(f"http://127.0.0.1:{http_port}/api/showtimes/{showtimes[0]['id']}") as response:
            layout = await response.json()
    assert len(showtimes) == 3  # the cinema matinee and evening, the theatre
    assert sum(len(section["rows"]) for section in layout["sections"]) >= 5
    assert len({c["priceCents"] for c in layout["categories"]}) >= 2


async def test_sigint_also_stops_it(served: tuple[asyncio.subprocess.Process, int, int]) -> None:
    process, _, _ = served
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 30) == 0


async def test_seed_creates_a_showtime_of_any_size_and_prints_its_id(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'venue.db'}"
    code, stdout, stderr = await run(tmp_path, "seed", "--rows", "30", "--seats-per-row", "40", DATABASE_URL=database)
    assert code == 0, stderr
    showtime_id = stdout.strip()
    assert showtime_id.startswith("st_")

    from server.storage.database import create_engine
    from server.storage.store import SeatStore

    engine = create_engine(database)
    layout = await SeatStore(engine).layout(showtime_id)
    await engine.dispose()
    assert layout is not None
    assert len(layout.categories) == 1200
    assert {"A1", "AD40"} <= set(layout.categories)  # row 27 is AA, row 30 is AD


async def test_seed_refuses_nonsense_sizes(tmp_path: Path) -> None:
    code, _, stderr = await run(tmp_path, "seed", "--rows", "0", "--seats-per-row", "5")
    assert code == 2
    assert "at least 1" in stderr


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        (
            {"HOLD_TTL_SECONDS": "600", "MAX_HOLD_SECONDS": "60"},
            "MAX_HOLD_SECONDS (60) must be at least HOLD_TTL_SECONDS (600)",
        ),
        ({"HTTP_PORT": "eighty"}, "HTTP_PORT: Input should be a valid integer"),
    ],
)
async def test_invalid_settings_stop_the_start_saying_why_without_their_values(
    tmp_path: Path, settings: dict[str, str], reason: str
) -> None:
    secret = "do-not-print-this-secret"
    code, _, stderr = await run(tmp_path, SECRET_KEY=secret, **settings)
    assert code == 1
    assert stderr.startswith(f"invalid settings: {reason}")
    assert len(stderr.splitlines()) == 1  # one line, no traceback
    assert secret not in stderr


async def test_postgresql_without_a_secret_key_refuses_to_start_with_a_reason(tmp_path: Path) -> None:
    code, _, stderr = await run(tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:1/none")
    assert code != 0
    assert "SECRET_KEY" in stderr
