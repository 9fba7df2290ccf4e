"""Audience watchers, in a load-generator process: subscribed connections that count the ``audience``
messages they are told, and remember the last count each one was told.

Commands arrive over the worker's channel (served by :func:`bench.subscribers.subscriber_worker`):

``Watch``   open a group's connections and subscribe each, asking for the audience or not (``"audience":
            false``); reply ``("watching", group)`` once every one has its snapshot;
``Heard``   reply with a :class:`WatchReport`: audience messages so far, and how many connections were
            told each count last;
``Unwatch`` close the group's connections; reply ``("unwatched", group)``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import orjson

from bench.protocol import Endpoint, open_subscribed, subscribe_frame
from bench.wsclient import WsClient

__all__ = ["NOT_TOLD", "Heard", "Unwatch", "Watch", "WatchReport", "Watchers"]

MAX_ERRORS_KEPT = 20
NOT_TOLD = -1  # a connection told no count yet


@dataclass(frozen=True, slots=True)
class Watch:
    group: str
    endpoints: tuple[Endpoint, ...]
    showtime_id: str
    count: int
    audience: bool
    concurrency: int = 32
    timeout: float = 900.0


@dataclass(frozen=True, slots=True)
class Heard:
    group: str


@dataclass(frozen=True, slots=True)
class Unwatch:
    group: str


@dataclass(slots=True)
class WatchReport:
    connections: int
    messages: int  # audience messages received so far
    last: Counter[int]  # the count last told -> how many connections it was last told to (NOT_TOLD: none)
    closed: int  # connections the server closed
    errors: list[str] = field(default_factory=list)


class _Watcher:
    __slots__ = ("client", "last", "owner", "ready")

    def __init__(self, owner: Watchers) -> None:
        self.owner = owner
        self.last = NOT_TOLD
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.client: WsClient | None = None

    def on_text(self, payload: bytes, now: int) -> None:
        message = orjson.loads(payload)
        kind = message.get("type")
        if kind == "audience":
            self.owner.messages += 1
            self.last = int(message["viewers"])
        elif kind == "current_seat_status" and not self.ready.done():
            self.ready.set_result(None)
        elif kind == "error":
            self.owner.error(f"refused: {message}")
            if not self.ready.done():
                self.ready.set_exception(RuntimeError(f"subscribe failed: {message}"))


class Watchers:
    """One group of watchers in this process."""

    def __init__(self, order: Watch) -> None:
        self.order = order
        self.watchers = [_Watcher(self) for _ in range(order.count)]
        self.messages = 0
        self.errors: list[str] = []

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)

    async def open(self) -> None:
        order = self.order
        frame = subscribe_frame(order.showtime_id, audience=order.audience)
        async with asyncio.timeout(order.timeout):
            await open_subscribed(self.watchers, order.endpoints, frame, order.concurrency)

    def report(self) -> WatchReport:
        closed = sum(1 for w in self.watchers if w.client is None or not w.client.is_open)
        return WatchReport(
            len(self.watchers), self.messages, Counter(w.last for w in self.watchers), closed, self.errors
        )

    def close(self) -> None:
        for watcher in self.watchers:
            if watcher.client is not None:
                watcher.client.abort()
        self.watchers = []
