"""Assembly: the database, the service, the WebSocket server and the HTTP app on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from websockets.asyncio.server import Server

from server.bus import Bus, LocalBus, RedisBus, reconcile
from server.fanout import Fanout
from server.http import create_app
from server.metrics import Metrics
from server.service import SeatService, now_ms
from server.sessions import Sessions, load_secret
from server.settings import Settings
from server.storage.database import create_engine
from server.storage.migrations import apply_migrations
from server.storage.seed import ensure_demo_data
from server.storage.store import SeatStore
from server.websocket import SeatSocket

__all__ = ["SeatServer", "run"]

log = logging.getLogger(__name__)


@dataclass
class SeatServer:
    """One running instance. ``start()`` binds both ports (0 picks free ones); ``stop()`` undoes it all."""

    settings: Settings
    websocket_port: int = 0
    http_port: int = 0
    running: bool = False
    service: SeatService = field(init=False)
    fanout: Fanout = field(init=False)
    _websocket: Server = field(init=False)
    _http: web.AppRunner = field(init=False)
    _bus: Bus = field(init=False)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    async def start(self) -> None:
        settings = self.settings
        sessions = Sessions(
            load_secret(settings), settings.session_ttl_seconds, now_ms, settings.new_sessions_per_minute_per_ip
        )
        engine = create_engine(settings.database_url, settings.database_pool_size)
        applied = await apply_migrations(engine)
        if applied:
            log.info("database migrated: %s", ", ".join(applied))
        if settings.demo_data and (created := await ensure_demo_data(engine, now_ms())):
            log.info("created demo showtimes: %s", ", ".join(created))
        store = SeatStore(engine)
        metrics = Metrics()
        fanout = self.fanout = Fanout(store.events, metrics, settings.slow_consumer_buffer_bytes)
        self._bus = self._create_bus(fanout, store)
        self.service = SeatService(store, settings, self._bus.publish, metrics)
        await self._bus.start()

        seat_socket = SeatSocket(self.service, fanout, sessions, settings)
        self._websocket = await seat_socket.serve(settings.host, settings.websocket_server_port)
        self.websocket_port = _bound_port(self._websocket)
        self._http = web.AppRunner(create_app(self.service, sessions, settings, self.websocket_port, self.readiness))
        await self._http.setup()
        site = web.TCPSite(self._http, settings.host, settings.http_port)
        await site.start()
        self.http_port = seat_socket.http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._tasks = [
            asyncio.create_task(_every(settings.hold_sweep_interval_seconds, "maintenance", self.service.maintain)),
            asyncio.create_task(
                _every(settings.reconcile_interval_seconds, "reconcile", lambda: reconcile(fanout, store))
            ),
        ]
        self.running = True
        log.info(
            "serving ws://%s:%d/ws/seat-updates and http://%s:%d/",
            settings.host, self.websocket_port, settings.host, self.http_port,
        )  # fmt: skip

    async def stop(self) -> None:
        """Stop accepting, close every socket with 1001 (going away), then release the database."""
        self.running = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._websocket.close()  # closes open connections with 1001
        try:
            await asyncio.wait_for(self._websocket.wait_closed(), SHUTDOWN_GRACE)
        except TimeoutError:  # clients that do not read cannot finish the close handshake: cut them off
            for connection in self._websocket.connections:
                if connection.transport is not None:
                    connection.transport.abort()
            await self._websocket.wait_closed()
        await self._http.cleanup()
        await self._bus.stop()
        await self.service.store.engine.dispose()

    async def readiness(self) -> dict[str, str]:
        """Whether each dependency answers now: "ok", or what went wrong."""
        checks = {"database": await _probe(self.service.store.ping())}
        if self.settings.redis_url:
            checks["redis"] = await _probe(self._bus.ping())
        return checks

    def _create_bus(self, fanout: Fanout, store: SeatStore) -> Bus:
        if not self.settings.redis_url:
            return LocalBus(fanout.publish)
        channel = f"{self.settings.redis_channel_prefix}:events"
        return RedisBus(self.settings.redis_url, channel, fanout.publish, lambda: reconcile(fanout, store))


SHUTDOWN_GRACE = 10.0  # seconds for open connections to finish their close handshake
PROBE_TIMEOUT = 2.0  # seconds a readiness check may take


async def _probe(check: Awaitable[None]) -> str:
    try:
        await asyncio.wait_for(check, PROBE_TIMEOUT)
    except TimeoutError:
        return f"no answer in {PROBE_TIMEOUT:g}s"
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return "ok"


async def _every(seconds: float, name: str, job: Callable[[], Awaitable[None]]) -> None:
    """Run ``job`` now and then every ``seconds``, for ever; a failure is logged and retried next time."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed; retrying in %.1fs", name, seconds)
        await asyncio.sleep(seconds)


def _bound_port(server: Server) -> int:
    return int(next(iter(server.sockets)).getsockname()[1])


async def run(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = SeatServer(settings)
    await server.start()
    await stop.wait()
    log.info("shutting down")
    await server.stop()
