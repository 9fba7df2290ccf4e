"""A fan-out load-generator process: many subscribed connections that time every change they receive.

Connections come in named groups, one per target (the server, the relay), so both can stay connected
and be measured in alternating blocks. Commands arrive over the worker's channel (:mod:`bench.workers`):

``Connect``  open a group's connections, subscribe each, reply with the ``seq`` their snapshots carry;
``Expect``   the changes about to be made to a group's showtime, in order, ``per_request`` a request;
             reply ``"ready"``; then, each time every connection of the group has received the last change
             ``i`` of a request: ``("delivered", group, i)``;
``Collect``  reply with the group's :class:`SubscriberReport` (receive instants, errors), and close it.

Every change must reach every connection exactly once and in ``seq`` order, with the expected seat and
status: anything else is recorded as an error, and a missing delivery shows as a zero instant. A change
counts as delivered whether it came alone or in a batched frame (``Connect.batch``).

The subscribe storm's commands (:mod:`bench.viewers`) and the audience watchers' (:mod:`bench.watchers`) are
served by the same processes.
"""

from __future__ import annotations

import asyncio
from array import array
from dataclasses import dataclass, field

import orjson

from bench.protocol import Endpoint, changes_in, open_subscribed, subscribe_frame
from bench.viewers import Settle, Storm, Viewers
from bench.watchers import Heard, Unwatch, Watch, Watchers
from bench.workers import CLOCK, STOP, Channel, answer_clock
from bench.wsclient import WsClient

__all__ = ["Collect", "Connect", "Expect", "SubscriberReport", "subscriber_worker"]

MAX_ERRORS_KEPT = 20


@dataclass(frozen=True, slots=True)
class Connect:
    group: str
    endpoints: tuple[Endpoint, ...]  # connections go round robin over these
    showtime_id: str
    count: int
    batch: bool = False
    concurrency: int = 32
    timeout: float = 900.0


@dataclass(frozen=True, slots=True)
class Expect:
    group: str
    base_seq: int
    changes: list[tuple[str, str]]  # (seatId, status) of the change with seq base_seq + 1 + index
    per_request: int = 1  # changes per request: the coordinator waits for a request's last one


@dataclass(frozen=True, slots=True)
class Collect:
    group: str


@dataclass(slots=True)
class SubscriberReport:
    connections: int
    received: bytes  # array('q') of receive instants, change-major: [change * connections + connection]
    deliveries: int
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    closed_early: int = 0


class _Subscription:
    __slots__ = ("client", "group", "index", "next", "ready")

    def __init__(self, group: _Group, index: int) -> None:
        self.group = group
        self.index = index
        self.next = 0  # index of the next change this connection should receive
        self.ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.client: WsClient | None = None

    def on_text(self, payload: bytes, now: int) -> None:
        self.group.on_message(self, payload, now)


class _Group:
    """The connections of one worker to one target, and what they received."""

    def __init__(self, name: str, channel: Channel) -> None:
        self.name = name
        self.channel = channel
        self.subscriptions: list[_Subscription] = []
        self.base_seq = 0
        self.expected: list[tuple[str, str]] = []
        self.per_request = 1
        self.received = array("q")
        self.counts: list[int] = []
        self.deliveries = 0
        self.errors: list[str] = []
        self.error_count = 0

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(f"{self.name}: {message}")

    def on_message(self, subscription: _Subscription, payload: bytes, now: int) -> None:
        message = orjson.loads(payload)
        kind = message.get("type")
        changes = changes_in(message)
        if changes is not None:
            for change in changes:
                self.on_change(subscription, change, now)
        elif kind == "current_seat_status":
            if not subscription.ready.done():
                subscription.ready.set_result(int(message["seq"]))
        elif kind == "error":
            self.error(f"connection {subscription.index}: {message}")
            if not subscription.ready.done():
                subscription.ready.set_exception(RuntimeError(f"subscribe failed: {message}"))
        # connection_established and subscribed need no action.

    def on_change(self, subscription: _Subscription, change: dict[str, object], now: int) -> None:
        seq = change["seq"]
        assert isinstance(seq, int)
        index = seq - self.base_seq - 1
        if index != subscription.next or index >= len(self.expected):
            self.error(f"connection {subscription.index}: seq {seq}, expected index {subscription.next}")
            return
        if (change["seatId"], change["status"]) != self.expected[index]:
            self.error(f"change {index}: got {change['seatId']} {change['status']}, not {self.expected[index]}")
        subscription.next = index + 1
        self.received[index * len(self.subscriptions) + subscription.index] = now
        self.deliveries += 1
        delivered = self.counts[index] + 1
        self.counts[index] = delivered
        if delivered == len(self.subscriptions) and (index + 1) % self.per_request == 0:
            self.channel.send(("delivered", self.name, index))

    async def connect(self, order: Connect) -> list[int]:
        self.subscriptions = [_Subscription(self, index) for index in range(order.count)]
        frame = subscribe_frame(order.showtime_id, order.batch)
        async with asyncio.timeout(order.timeout):
            seqs = await open_subscribed(self.subscriptions, order.endpoints, frame, order.concurrency)
        return sorted(set(seqs))

    def expect(self, order: Expect) -> None:
        self.base_seq = order.base_seq
        self.expected = order.changes
        self.per_request = order.per_request
        self.received = array("q", bytes(8 * len(order.changes) * len(self.subscriptions)))
        self.counts = [0] * len(order.changes)
        self.deliveries = 0

    def report(self) -> SubscriberReport:
        closed = sum(1 for s in self.subscriptions if s.client is None or not s.client.is_open)
        return SubscriberReport(
            connections=len(self.subscriptions),
            received=self.received.tobytes(),
            deliveries=self.deliveries,
            errors=self.errors,
            error_count=self.error_count,
            closed_early=closed,
        )

    def close(self) -> None:
        for subscription in self.subscriptions:
            if subscription.client is not None:
                subscription.client.abort()
        self.subscriptions = []


async def subscriber_worker(channel: Channel, _index: int) -> None:
    groups: dict[str, _Group] = {}
    storms: dict[str, Viewers] = {}
    watching: dict[str, Watchers] = {}
    try:
        while True:
            command = await channel.recv()
            match command:
                case Connect():
                    group = groups[command.group] = _Group(command.group, channel)
                    try:
                        channel.send(("connected", await group.connect(command)))
                    except Exception as error:  # reported to the coordinator, which fails the run
                        channel.send(RuntimeError(f"connecting {command.group} subscribers failed: {error!r}"))
                case Expect():
                    groups[command.group].expect(command)
                    channel.send("ready")
                case Collect():
                    group = groups.pop(command.group)
                    channel.send(group.report())
                    group.close()
                case Storm():
                    storms[command.group] = Viewers(command, channel)
                    storms[command.group].start()
                case Settle():
                    viewers = storms.pop(command.group)
                    channel.send(await viewers.settle(command))
                    viewers.close()
                case Watch():
                    watchers = watching[command.group] = Watchers(command)
                    try:
                        await watchers.open()
                        channel.send(("watching", command.group))
                    except Exception as error:  # reported to the coordinator, which fails the run
                        channel.send(RuntimeError(f"opening {command.group} watchers failed: {error!r}"))
                case Heard():
                    channel.send(watching[command.group].report())
                case Unwatch():
                    watching.pop(command.group).close()
                    channel.send(("unwatched", command.group))
                case (tag,) if tag == CLOCK:
                    answer_clock(channel)
                case (tag,) if tag == STOP:
                    return
    finally:
        for group in groups.values():
            group.close()
        for viewers in storms.values():
            viewers.close()
        for watchers in watching.values():
            watchers.close()
