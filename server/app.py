"""Assembly: the database, the service, the WebSocket server and the HTTP app on one event loop.

Everything is built once, with all it needs passed in; both listening sockets are bound first, so each
side knows the other's port before it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection

from server.admin_http import ADMIN_ENDPOINTS, AdminApi
from server.audience import AudienceCounts
from server.bus import Bus, LocalBus, RedisBus, reconcile
from server.connections import ConnectionBudget, connection_ceiling, log_accept_errors, raise_file_limit
from server.core.changes import Event
from server.core.clock import Clock, SystemClock
from server.demo import ensure_demo_data
from server.demo_http import DEMO_ENDPOINTS, DemoPayments
from server.fanout import Fanout
from server.figures import FiguresWatch
from server.http import Api, Routes, create_app
from server.http_server import listen
from server.idempotency import Idempotency
from server.messages import render_notice
from server.metrics import Metrics
from server.rejections import Refusals
from server.seat_maps import SeatMaps
from server.service import SeatService
from server.sessions import Sessions, load_secret
from server.settings import Settings
from server.storage.database import create_engine, is_sqlite
from server.storage.idempotency import IdempotencyKeys
from server.storage.migrations import apply_migrations
from server.storage.store import SeatStore
from server.storage.webhooks import WebhookStore
from server.subscriptions import Subscriptions
from server.webhooks import Webhooks
from server.websocket import SeatSocket, WebSocketOutlet

__all__ = ["SeatServer", "run"]

log = logging.getLogger(__name__)


class SeatServer:
    """One running instance. ``start()`` binds both ports (0 picks free ones); ``stop()`` undoes it all."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        shutdown_grace: float = 10.0,
        probe_timeout: float = 2.0,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.shutdown_grace = shutdown_grace  # seconds for open connections to finish their close handshake
        self.probe_timeout = probe_timeout  # seconds a readiness check may take
        self.websocket_port = 0
        self.http_port = 0
        self.engine = create_engine(settings.database.database_url, settings.database.database_pool_size)
        self.running = False

    async def start(self) -> None:
        settings, clock = self.settings, self.clock
        sessions = Sessions(load_secret(settings.sessions, settings.database.database_url), settings.sessions, clock)
        if applied := await apply_migrations(self.engine):
            log.info("database migrated: %s", ", ".join(applied))
        demo_data = settings.database.demo_data
        if demo_data is None:  # unset: for trying the server out on SQLite; production data is PostgreSQL's
            demo_data = is_sqlite(self.engine)
        if demo_data and (created := await ensure_demo_data(self.engine, clock.now())):
            log.info("created demo showtimes: %s", ", ".join(created))
        files = raise_file_limit()
        ceiling = settings.limits.max_connections or connection_ceiling(files, settings.database.database_pool_size)
        log.info("open-file limit %d: at most %d connections", files, ceiling)
        budget = ConnectionBudget(settings.limits.max_connections_per_ip, ceiling)
        self._restore_exception_handler = log_accept_errors(asyncio.get_running_loop())
        websocket_socket = _listen(settings.transport.host, settings.transport.websocket_server_port)
        http_socket = _listen(settings.transport.host, settings.transport.http_port)
        self.websocket_port, self.http_port = _port(websocket_socket), _port(http_socket)

        self.metrics = metrics = Metrics()
        refusals = Refusals(metrics)
        store = SeatStore(self.engine, render_notice if settings.webhooks.urls else None)
        fanout: Fanout[ServerConnection] = Fanout(
            store.events, WebSocketOutlet(), metrics, settings.limits.slow_consumer_buffer_bytes
        )
        audience = AudienceCounts(fanout, clock, settings.bus.audience_interval_seconds)
        metrics.watch_audience(audience.everyone)
        figures: FiguresWatch[ServerConnection]  # reads through the service, which publishes through the bus

        def deliver(events: Sequence[Event]) -> None:
            """Committed changes, this instance's and the others': to subscribers, and to the figures' watch."""
            fanout.publish(events)
            figures.changed({event.showtime_id for event in events})

        self._bus = bus = self._create_bus(deliver, fanout, store, audience)
        self.service = service = SeatService(store, settings.seats, bus.publish, metrics, clock)
        self._figures = figures = FiguresWatch(service, fanout, clock, settings.bus.figures_interval_seconds)
        metrics.watch_sales(service.sales_totals, self.probe_timeout)
        self.fanout = fanout
        await bus.start()

        subscriptions = Subscriptions(
            service, fanout, settings.limits.max_subscriptions_per_connection, viewers=audience.viewers
        )
        idempotency = Idempotency(IdempotencyKeys(self.engine), clock, settings.seats.idempotency_ttl_seconds)
        admin_key = settings.sessions.admin_api_key
        seat_socket = SeatSocket(
            service, subscriptions, fanout, sessions, refusals, metrics, clock,
            settings.transport, settings.limits, self.http_port, budget.port(), idempotency, figures, admin_key,
        )  # fmt: skip
        self._seat_socket = seat_socket
        self._websocket: Server = await seat_socket.serve(websocket_socket)
        seat_maps = SeatMaps(service, settings.limits, clock)
        key = settings.sessions.admin_api_key
        api = Api(
            service, seat_maps, sessions, settings.transport, settings.seats, self.websocket_port, self.readiness,
            key, demo_payments=demo_data,
        )  # fmt: skip
        webhook_store = WebhookStore(self.engine)
        admin = AdminApi(service, sessions, key, settings.transport, settings.limits, webhook_store)
        tables: list[Routes] = [(admin, ADMIN_ENDPOINTS)]
        if demo_data:  # the demo page's stand-in payment provider
            tables.append((DemoPayments(api), DEMO_ENDPOINTS))
        rest = create_app(
            api, settings.transport, refusals, metrics, settings.limits.max_message_bytes, *tables,
            idempotency=idempotency,
        )  # fmt: skip
        self._http = web.AppRunner(rest)
        await self._http.setup()
        self._http_listener = await listen(self._http, http_socket, budget.port(), refusals, settings.transport)
        # Only instances configured with endpoints deliver; each must have the same WEBHOOK_* settings.
        self._webhooks = Webhooks(webhook_store, settings.webhooks, metrics, clock) if settings.webhooks.urls else None
        if self._webhooks is not None:
            await self._webhooks.start()
        self._tasks = [
            asyncio.create_task(_every(settings.seats.hold_sweep_interval_seconds, "maintenance", service.maintain)),
            asyncio.create_task(
                _every(settings.bus.reconcile_interval_seconds, "reconcile", lambda: reconcile(fanout, store.seqs))
            ),
            asyncio.create_task(_every(settings.bus.audience_interval_seconds, "audience", _sync(audience.update))),
            # Twice per interval, so the others need not take one late announcement for a death.
            asyncio.create_task(
                _every(
                    settings.bus.audience_interval_seconds / 2,
                    "announce",
                    _sync(lambda: bus.announce(audience.local())),
                )
            ),
        ]
        self.running = True
        log.info(
            "serving ws://%s:%d/ws/seat-updates and http://%s:%d/",
            settings.transport.host, self.websocket_port, settings.transport.host, self.http_port,
        )  # fmt: skip

    async def stop(self) -> None:
        """Stop accepting, close every socket with 1001 (going away), then release the database."""
        self.running = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._figures.stop()
        self._websocket.close()  # closes open connections with 1001
        self._seat_socket.abort_handshakes()
        try:
            await asyncio.wait_for(self._websocket.wait_closed(), self.shutdown_grace)
        except TimeoutError:  # clients that do not read cannot finish the close handshake: cut them off
            for connection in self._websocket.connections:
                if connection.transport is not None:
                    connection.transport.abort()
            try:  # what a handler has under way (a database call) ends by its own timeouts
                await asyncio.wait_for(self._websocket.wait_closed(), self.shutdown_grace)
            except TimeoutError:
                log.error("connection handlers still running after %gs; stopping anyway", 2 * self.shutdown_grace)
        self._http_listener.close()
        await self._http.cleanup()
        await self._http_listener.wait_closed()
        if self._webhooks is not None:
            await self._webhooks.stop(self.shutdown_grace)
        await self._bus.stop()
        await self.service.close()
        self._restore_exception_handler()

    async def readiness(self) -> dict[str, str]:
        """Whether each dependency answers now: "ok", or what went wrong."""
        checks = {"database": await self._probe(self.service.ping())}
        if self.settings.bus.redis_url:
            checks["redis"] = await self._probe(self._bus.ping())
        return checks

    def _create_bus(
        self,
        deliver: Callable[[Sequence[Event]], None],
        fanout: Fanout[ServerConnection],
        store: SeatStore,
        audience: AudienceCounts[ServerConnection],
    ) -> Bus:
        bus = self.settings.bus
        if not bus.redis_url:
            return LocalBus(deliver)
        return RedisBus(
            bus.redis_url,
            bus.redis_channel_prefix,
            deliver,
            lambda: reconcile(fanout, store.seqs),
            audience.hear,
        )

    async def _probe(self, check: Awaitable[None]) -> str:
        try:
            await asyncio.wait_for(check, self.probe_timeout)
        except TimeoutError:
            return f"no answer in {self.probe_timeout:g}s"
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return "ok"


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket, bound now so that its port is known before anything is built on it."""
    return socket.create_server((host, port))


def _port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


async def _every(seconds: float, name: str, job: Callable[[], Awaitable[None]]) -> None:
    """Run ``job`` now and then every ``seconds``, for ever; a failure is logged and retried next time."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed; retrying in %.1fs", name, seconds)
        await asyncio.sleep(seconds)


def _sync(job: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    """A synchronous job, for :func:`_every`."""

    async def run() -> None:
        job()

    return run


async def run(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = SeatServer(settings)
    await server.start()
    # What start-up built (modules, schemas, the engine) lives as long as the process: set aside once, it is
    # no longer walked by every full collection, which a storm of new connections sets off again and again.
    gc.collect()
    gc.freeze()
    await stop.wait()
    log.info("shutting down")
    await server.stop()
