"""Subscribe-storm clients: each keeps its own view of the showtime, as a seat map on a screen would.

A view starts from the ``current_seat_status`` snapshot (``seq`` and the locked seats) and applies every
change with a later ``seq``, one after the other; changes that arrive before the snapshot wait for it.
Commands arrive over the worker's channel (see :mod:`bench.subscribers`):

``Storm``   open the group's connections and subscribe each, ``concurrency`` in flight at a time; send
            ``("progress", group)`` after each ``notes``-th part of them has its snapshot (the coordinator
            changes a seat on each), then ``("stormed", group, instant the last snapshot arrived)``;
``Settle``  once every view has reached ``seq`` (or the timeout passed), reply with a
            :class:`StormReport`: how many clients hold each distinct view, and the errors; close.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.protocol import Endpoint, changes_in, open_subscribed, subscribe_frame
from bench.workers import Channel
from bench.wsclient import WsClient

__all__ = ["Settle", "Storm", "StormReport", "Viewers"]

MAX_ERRORS_KEPT = 20

# A view as reported: its seq and the seats it shows locked, sorted.
ViewKey = tuple[int, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Storm:
    group: str
    endpoints: tuple[Endpoint, ...]
    showtime_id: str
    count: int
    first: int  # this worker's first client, numbered across workers, so clients spread evenly over endpoints
    concurrency: int
    notes: int
    timeout: float = 900.0


@dataclass(frozen=True, slots=True)
class Settle:
    group: str
    seq: int
    timeout: float = 60.0


@dataclass(slots=True)
class StormReport:
    clients: int
    snapshots: int
    views: Counter[ViewKey]
    errors: list[str] = field(default_factory=list)
    error_count: int = 0


class _View:
    __slots__ = ("client", "locked", "owner", "pending", "ready", "seq")

    def __init__(self, owner: Viewers) -> None:
        self.owner = owner
        self.seq = -1  # no snapshot yet
        self.locked: set[str] = set()
        self.pending: list[dict[str, Any]] = []
        self.ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.client: WsClient | None = None

    def on_text(self, payload: bytes, now: int) -> None:
        message = orjson.loads(payload)
        changes = changes_in(message)
        if changes is not None:
            if self.seq < 0:
                self.pending.extend(changes)
            else:
                self._apply(changes)
        elif message.get("type") == "current_seat_status" and self.seq < 0:
            self.seq = int(message["seq"])
            self.locked = set(message["lockedSeats"])
            self._apply(self.pending)
            self.pending = []
            self.ready.set_result(now)
            self.owner.snapshot_arrived()
        elif message.get("type") == "error":
            self.owner.error(f"refused: {message}")
            if not self.ready.done():
                self.ready.set_exception(RuntimeError(f"subscribe failed: {message}"))

    def _apply(self, changes: list[dict[str, Any]]) -> None:
        before = self.seq
        for change in changes:
            seq = int(change["seq"])
            if seq <= self.seq:
                continue  # already in the snapshot
            if seq != self.seq + 1:
                self.owner.error(f"seq {seq} after {self.seq}: changes were skipped")
            self.seq = seq
            if change["status"] == "locked":
                self.locked.add(change["seatId"])
            else:
                self.locked.discard(change["seatId"])
        if before < self.owner.settle_seq <= self.seq:
            self.owner.caught_up()


class Viewers:
    """One worker's storm clients on one system."""

    def __init__(self, order: Storm, channel: Channel) -> None:
        self.order = order
        self.channel = channel
        self.views: list[_View] = []
        self.snapshots = 0
        self.errors: list[str] = []
        self.error_count = 0
        self._thresholds = {-(-order.count * part // order.notes) for part in range(1, order.notes + 1)}
        self._opening: asyncio.Task[None] | None = None
        self.settle_seq = sys.maxsize  # the seq every view must reach, once the coordinator says which
        self._behind = 0
        self._settled = asyncio.Event()

    def caught_up(self) -> None:
        self._behind -= 1
        if self._behind <= 0:
            self._settled.set()

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(f"{self.order.group}: {message}")

    def snapshot_arrived(self) -> None:
        self.snapshots += 1
        if self.snapshots in self._thresholds:
            self.channel.send(("progress", self.order.group))

    def start(self) -> None:
        self._opening = asyncio.create_task(self._open())

    async def _open(self) -> None:
        order = self.order
        self.views = [_View(self) for _ in range(order.count)]
        frame = subscribe_frame(order.showtime_id)
        try:
            async with asyncio.timeout(order.timeout):
                instants = await open_subscribed(self.views, order.endpoints, frame, order.concurrency, order.first)
        except Exception as error:  # reported to the coordinator, which fails the run
            self.channel.send(RuntimeError(f"the {order.group} storm failed: {error!r}"))
            return
        self.channel.send(("stormed", order.group, max(instants, default=time.monotonic_ns())))

    async def settle(self, order: Settle) -> StormReport:
        self.settle_seq = order.seq
        self._behind = sum(1 for view in self.views if view.seq < order.seq)
        if self._behind:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), order.timeout)  # laggards are reported below
        views = Counter((view.seq, tuple(sorted(view.locked))) for view in self.views)
        return StormReport(len(self.views), self.snapshots, views, self.errors, self.error_count)

    def close(self) -> None:
        if self._opening is not None:
            self._opening.cancel()
        for view in self.views:
            if view.client is not None:
                view.client.abort()
        self.views = []
