"""Real server processes on one PostgreSQL and one Redis, and clients that keep a view of a showtime."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis

from tests.client import SeatClient
from tests.conftest import GENEROUS_LIMITS
from tests.services import free_port, service_missing

__all__ = ["Instance", "RedisServer", "View", "redis_reachable", "start_instance"]

ROOT = Path(__file__).resolve().parent.parent
SHARED_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def redis_reachable(url: str = SHARED_REDIS_URL) -> str:
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
    except (redis.RedisError, OSError) as error:
        service_missing("Redis", error)
    finally:
        await client.aclose()
    return url


@dataclass
class Instance:
    """One ``python -m server`` process."""

    process: asyncio.subprocess.Process
    ws_port: int
    http_port: int
    env: dict[str, str]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws/seat-updates"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def client(self, token: str | None = None) -> SeatClient:
        return await SeatClient.connect(self.ws_url, token)

    def kill(self) -> None:
        """kill -9: no shutdown, no goodbye to the clients."""
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_instance(database_url: str, redis_url: str, channel_prefix: str, **settings: str) -> Instance:
    ws_port, http_port = free_port(), free_port()
    env = (
        os.environ
        | {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_CHANNEL_PREFIX": channel_prefix,
            "SECRET_KEY": "cluster-test-secret",
            "DEMO_DATA": "false",
            "WEBSOCKET_SERVER_PORT": str(ws_port),
            "HTTP_PORT": str(http_port),
            "RECONCILE_INTERVAL_SECONDS": "0.5",
            "HOLD_SWEEP_INTERVAL_SECONDS": "0.1",
            "LOG_LEVEL": "WARNING",
        }
        | {name.upper(): str(value) for name, value in GENEROUS_LIMITS.items()}
        | settings
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", env=env, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL
    )
    instance = Instance(process, ws_port, http_port, env)
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if process.returncode is not None:
                pytest.fail(f"instance exited with {process.returncode} at start")
            try:
                async with http.get(f"{instance.http_url}/healthz") as response:
                    if response.status == 200:
                        return instance
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    await instance.stop()
    pytest.fail("instance did not start in time")


@dataclass
class RedisServer:
    """A Redis server of the test's own, on its own port, that the test may stop and start."""

    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        try:
            for _ in range(100):
                try:
                    await client.ping()
                    return
                except (redis.RedisError, OSError):
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        pytest.fail("redis-server did not start")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def wait_for_subscribers(self, channel: str, count: int, timeout: float = 20.0) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while dict(await client.pubsub_numsub(channel)).get(channel.encode(), 0) < count:
                if asyncio.get_running_loop().time() > deadline:
                    pytest.fail(f"fewer than {count} instances subscribed to {channel} again")
                await asyncio.sleep(0.1)
        finally:
            await client.aclose()


class View:
    """What a buyer's page knows of a showtime: a snapshot plus every change since, checked for gaps.

    ``resume`` reconnects with the session's token and ``lastSeq``, as a client does after losing its server.
    """

    def __init__(self, client: SeatClient, showtime_id: str) -> None:
        self.client = client
        self.showtime_id = showtime_id
        self.seq = 0
        self.seats: dict[str, tuple[str, str]] = {}  # seat -> (status, session)
        self.replayed = 0

    @classmethod
    async def open(cls, client: SeatClient, showtime_id: str) -> View:
        view = cls(client, showtime_id)
        reply = await client.request("subscribe", showtimeId=showtime_id)
        assert reply["type"] == "subscribed", reply
        view._load(await client.next_pushed("current_seat_status"))
        return view

    def _load(self, snapshot: dict[str, Any]) -> None:
        self.seq = snapshot["seq"]
        self.seats = {seat: ("booked", "") for seat in snapshot["bookedSeats"]}
        self.seats |= {seat: ("locked", "") for seat in snapshot["lockedSeats"]}

    def apply_pushed(self) -> None:
        for message in self.client.drain():
            if message["type"] == "seat_status_change" and message["showtimeId"] == self.showtime_id:
                self.apply(message)

    def apply(self, change: dict[str, Any]) -> None:
        assert change["seq"] == self.seq + 1, f"expected seq {self.seq + 1}, got {change['seq']}"
        self.seq = change["seq"]
        if change["status"] == "unlocked":
            self.seats.pop(change["seatId"], None)
        else:
            self.seats[change["seatId"]] = (change["status"], change["sessionId"])

    async def resume(self, instance: Instance) -> dict[str, Any]:
        """Reconnect to ``instance`` with this session's token and resubscribe from the last seq seen."""
        self.apply_pushed()
        self.client = await instance.client(token=self.client.token)
        reply = await self.client.send_raw(
            f'{{"type":"subscribe","showtimeId":"{self.showtime_id}","lastSeq":{self.seq},"requestId":"resume"}}',
            "resume",
        )
        if reply.get("recovered"):
            # The replayed changes came before the reply, so they are waiting in the queue already, maybe
            # followed by live ones; apply() checks they run on without a gap.
            before = self.seq
            self.apply_pushed()
            assert self.seq >= reply["seq"]
            self.replayed = reply["seq"] - before
        else:
            self._load(await self.client.next_pushed("current_seat_status"))
        return reply

    async def settle(self, seq: int, timeout: float = 20.0) -> None:
        """Wait until this view has applied every change up to ``seq``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.seq < seq:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                pytest.fail(f"view stuck at seq {self.seq}, expected {seq}")
            try:
                change = await self.client.next_pushed("seat_status_change", timeout=remaining)
            except TimeoutError:
                continue
            if change["showtimeId"] == self.showtime_id:
                self.apply(change)

    def statuses(self) -> dict[str, str]:
        return {seat: status for seat, (status, _) in self.seats.items()}


def unique_prefix() -> str:
    return "seats-test-" + secrets.token_hex(4)
