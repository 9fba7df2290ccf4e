"""The processes under test: the real server (``python -m server``), alone or as several instances on one
PostgreSQL database and one Redis, and the baselines: the bare relay and the in-memory Node.js server.

Each runs as a subprocess on ephemeral ports (the server binds port 0 and logs the ports it got; the
baselines print theirs), so their CPU time and memory can be read from /proc, apart from the load
generator. Databases are throwaway: a SQLite file in the run's scratch directory, or a PostgreSQL
database created for the run and dropped after it; instances share a Redis channel prefix of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg
import redis.asyncio as redis

__all__ = [
    "Database",
    "DatabaseKind",
    "System",
    "Target",
    "postgres_reachable",
    "redis_reachable",
    "running_node",
    "running_relay",
    "running_server",
    "running_servers",
    "seed_showtime",
    "throwaway_database",
]

DatabaseKind = Literal["sqlite", "postgresql"]
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVING = re.compile(r"serving ws://[^:]+:(\d+)/ws/seat-updates and http://[^:]+:(\d+)/")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
HOLD_TTL_SECONDS = 3600  # no hold lapses during a run, so every change is the benchmark's own
# The abuse limits would refuse a load generator that opens thousands of connections from one address and
# changes seats many times a second per session: the benchmark measures the work, not the refusals.
LIFTED_LIMITS = {
    "MAX_CONNECTIONS_PER_IP": "1000000",
    "NEW_SESSIONS_PER_MINUTE_PER_IP": "1000000",
    "SHOWTIME_READS_PER_MINUTE_PER_IP": "1000000",
    "MESSAGES_PER_SECOND": "1000000",
    "MESSAGE_BURST": "1000000",
    "SEAT_CHANGES_PER_SECOND": "1000000",
    "SEAT_CHANGE_BURST": "1000000",
}


@dataclass(frozen=True, slots=True)
class Database:
    kind: DatabaseKind
    url: str  # as DATABASE_URL takes it


@dataclass(frozen=True, slots=True)
class Target:
    """A WebSocket endpoint under load and the process serving it."""

    name: str
    pid: int
    host: str
    port: int
    path: str
    http_port: int | None = None


@dataclass(frozen=True, slots=True)
class System:
    """What a run loads: one process, or several instances serving the same showtimes; clients are spread
    over its endpoints, and its CPU time and memory are those of all its processes."""

    name: str
    targets: tuple[Target, ...]

    @classmethod
    def of(cls, target: Target) -> System:
        return cls(target.name, (target,))

    @property
    def pids(self) -> list[int]:
        return [target.pid for target in self.targets]

    def endpoint(self, index: int) -> Target:
        """The endpoint the ``index``-th client connects to: round robin over the instances."""
        return self.targets[index % len(self.targets)]


def _environment(extra: dict[str, str], source: Path = PROJECT_ROOT) -> dict[str, str]:
    """This environment, with ``source`` (the directory holding the ``server`` package) first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(source), str(PROJECT_ROOT), env.get("PYTHONPATH"))))
    env.update(extra)
    return env


async def postgres_reachable(admin_url: str) -> str | None:
    """None when PostgreSQL answers at ``admin_url``, else why not."""
    try:
        connection = await asyncpg.connect(admin_url, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return repr(error)
    await connection.close()
    return None


@contextlib.asynccontextmanager
async def throwaway_database(kind: DatabaseKind, scratch: Path, admin_url: str) -> AsyncIterator[Database]:
    """A new, empty database for one scenario, removed afterwards."""
    if kind == "sqlite":
        path = scratch / f"seats-{secrets.token_hex(4)}.db"
        try:
            yield Database(kind, f"sqlite:///{path}")
        finally:
            await asyncio.to_thread(_remove_files, scratch, path.name)
        return
    name = f"seat_bench_{os.getpid()}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield Database(kind, admin_url.rsplit("/", 1)[0] + "/" + name)
    finally:
        admin = await asyncpg.connect(admin_url, timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def seed_showtime(database: Database, rows: int, seats_per_row: int, source: Path = PROJECT_ROOT) -> str:
    """Create a showtime with ``python -m server seed`` (which also migrates) and return its id."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "seed",
        "--rows",
        str(rows),
        "--seats-per-row",
        str(seats_per_row),
        env=_environment(
            {"DATABASE_URL": database.url, "SECRET_KEY": "bench-" + secrets.token_hex(8), "LOG_LEVEL": "WARNING"},
            source,
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"seeding failed ({process.returncode}): {err.decode()[-2000:]}")
    return out.decode().strip().splitlines()[-1]


async def redis_reachable(url: str) -> str | None:
    """None when Redis answers PING at ``url``, else why not."""
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        await client.ping()
    except (redis.RedisError, OSError) as error:
        return repr(error)
    finally:
        await client.aclose()
    return None


@contextlib.asynccontextmanager
async def running_server(
    database: Database,
    scratch: Path,
    source: Path = PROJECT_ROOT,
    cpu: set[int] | None = None,
    bus: dict[str, str] | None = None,
) -> AsyncIterator[Target]:
    """``python -m server`` on free ports over ``database``; stopped with SIGTERM on exit. ``bus`` holds the
    instance's REDIS_URL and REDIS_CHANNEL_PREFIX when it is one of several."""
    log_path = scratch / f"server-{secrets.token_hex(3)}.log"
    env = {
        **(bus or {}),
        "DATABASE_URL": database.url,
        "WEBSOCKET_SERVER_PORT": "0",
        "HTTP_PORT": "0",
        "SECRET_KEY": "bench-" + secrets.token_hex(8),
        "DEMO_DATA": "false",
        "HOLD_TTL_SECONDS": str(HOLD_TTL_SECONDS),
        "MAX_HOLD_SECONDS": str(HOLD_TTL_SECONDS),  # it may be no shorter
        "LOG_LEVEL": "INFO",
        **LIFTED_LIMITS,
    }
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server", env=_environment(env, source), cwd=scratch, stdout=log, stderr=log
        )
    try:
        _pin(process.pid, cpu)
        ws_port, http_port = await _wait_for_ports(process, log_path)
        yield Target("server", process.pid, "127.0.0.1", ws_port, "/ws/seat-updates", http_port)
    finally:
        await _stop(process, log_path)


@contextlib.asynccontextmanager
async def running_servers(
    count: int, database: Database, redis_url: str, scratch: Path, source: Path = PROJECT_ROOT
) -> AsyncIterator[System]:
    """``count`` server instances on one PostgreSQL database, joined by Redis on a channel prefix of their own."""
    bus = {"REDIS_URL": redis_url, "REDIS_CHANNEL_PREFIX": f"seat-bench-{secrets.token_hex(6)}"}
    async with contextlib.AsyncExitStack() as stack:
        targets = [
            await stack.enter_async_context(running_server(database, scratch, source, bus=bus)) for _ in range(count)
        ]
        yield System(f"{count} servers", tuple(targets))


@contextlib.asynccontextmanager
async def running_relay(scratch: Path, cpu: set[int] | None = None) -> AsyncIterator[Target]:
    """The bare-``websockets`` relay (:mod:`bench.relay`) on a free port."""
    async with _running_baseline("relay", [sys.executable, "-m", "bench.relay"], scratch, cpu) as target:
        yield target


@contextlib.asynccontextmanager
async def running_node(scratch: Path, cpu: set[int] | None = None) -> AsyncIterator[Target]:
    """The in-memory Node.js ``ws`` server (``bench/node/server.js``) on a free port."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("the Node.js baseline needs `node` on the PATH (scripts/bootstrap installs its `ws`)")
    script = PROJECT_ROOT / "bench" / "node" / "server.js"
    async with _running_baseline("node", [node, str(script)], scratch, cpu) as target:
        yield target


@contextlib.asynccontextmanager
async def _running_baseline(name: str, argv: list[str], scratch: Path, cpu: set[int] | None) -> AsyncIterator[Target]:
    """A baseline process that prints ``listening PORT`` once it serves, and stops on SIGTERM."""
    log_path = scratch / f"{name}-{secrets.token_hex(3)}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *argv, env=_environment({}), cwd=PROJECT_ROOT, stdout=asyncio.subprocess.PIPE, stderr=log
        )
    try:
        _pin(process.pid, cpu)
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
        if not line.startswith(b"listening "):
            raise RuntimeError(f"the {name} baseline did not start: {line!r}; its log ends:\n{_tail(log_path)}")
        yield Target(name, process.pid, "127.0.0.1", int(line.split()[1]), "/ws/seat-updates")
    finally:
        await _stop(process, log_path)


def _remove_files(directory: Path, prefix: str) -> None:
    for leftover in directory.glob(prefix + "*"):
        leftover.unlink(missing_ok=True)


def _pin(pid: int, cpu: set[int] | None) -> None:
    if cpu:
        os.sched_setaffinity(pid, cpu)


async def _wait_for_ports(process: asyncio.subprocess.Process, log_path: Path) -> tuple[int, int]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        match = SERVING.search(await asyncio.to_thread(log_path.read_text, errors="replace"))
        if match:
            return int(match[1]), int(match[2])
        if process.returncode is not None:
            break
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the server did not start; its log ends:\n{_tail(log_path)}")


async def _stop(process: asyncio.subprocess.Process, log_path: Path) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
    if process.returncode not in (0, -signal.SIGTERM):
        print(f"warning: {log_path.stem} exited with {process.returncode}; its log ends:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
