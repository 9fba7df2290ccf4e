"""Carrying committed changes between server instances.

Without ``REDIS_URL`` an instance is alone and its changes go straight to its own subscribers. With it,
every instance also publishes its changes to one Redis channel and delivers what the others publish.
Redis is a fast path, not the record: the event log in the database is. Whatever Redis loses (while it is
down, or in a network blip) is found by :func:`reconcile`, which compares each subscribed showtime's
``seq`` in the database with what this instance delivered, and reads the difference from the log.

Audience counts (``server.audience``) travel on a second channel, ``<prefix>:audience``: twice per interval
each instance announces how many subscribers it has per showtime. They are not queued: a count that could
not be sent is stale by the next announcement, which sends a fresh one. An instance that stops announces
that it has none left; one that dies is forgotten by the others once it has been silent for an interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError

from server.core.changes import Event
from server.core.origins import Origin
from server.core.seats import SeatChange, SeatStatus
from server.fanout import Fanout

__all__ = ["Bus", "LocalBus", "RedisBus", "decode", "decode_counts", "encode", "encode_counts", "reconcile"]

log = logging.getLogger(__name__)

Deliver = Callable[[Sequence[Event]], None]
ReadSeqs = Callable[[Sequence[str]], Awaitable[dict[str, int]]]  # each showtime's current seq
Hear = Callable[[str, dict[str, int]], None]  # another instance's subscribers per showtime


class Bus(Protocol):
    def publish(self, events: Sequence[Event]) -> None: ...

    def announce(self, counts: Mapping[str, int]) -> None:
        """Tell the other instances this instance's subscribers per showtime, without waiting."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> None: ...


class LocalBus:
    """One instance: committed changes go to this process's subscribers only."""

    def __init__(self, deliver: Deliver) -> None:
        self.publish = deliver

    def announce(self, counts: Mapping[str, int]) -> None:
        pass  # nobody else to tell

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def ping(self) -> None:
        pass


async def reconcile(fanout: Fanout[Any], read_seqs: ReadSeqs) -> None:
    """Deliver every change this instance missed, for every showtime it has subscribers for."""
    positions = fanout.positions()
    if positions:
        for showtime_id, seq in (await read_seqs(list(positions))).items():
            await fanout.catch_up(showtime_id, seq)


class RedisBus:
    """Publishes this instance's changes and audience to Redis and delivers the other instances' own."""

    def __init__(
        self,
        url: str,
        prefix: str,
        deliver: Deliver,
        on_connected: Callable[[], Awaitable[None]],
        hear: Hear,
        outbox_size: int = 10_000,
        first_retry: float = 0.1,
        max_retry: float = 5.0,
    ) -> None:
        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_keepalive=True)
        self._channel = f"{prefix}:events"
        self._audience_channel = f"{prefix}:audience"
        self._deliver = deliver
        self._on_connected = on_connected
        self._hear = hear
        self._origin = secrets.token_hex(8)  # skips our own messages coming back
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(maxsize=outbox_size)
        self._counts: bytes | None = None  # the latest audience announcement not sent yet
        self._counted = asyncio.Event()  # set when there is one
        self._tasks: list[asyncio.Task[None]] = []
        self._first_retry, self._max_retry = first_retry, max_retry  # seconds between attempts to reach Redis

    def publish(self, events: Sequence[Event]) -> None:
        """Deliver locally at once; queue for the other instances without waiting for Redis."""
        self._deliver(events)
        if not events:
            return
        message = encode(self._origin, events)
        if self._outbox.full():
            # Redis is gone for a while: drop the oldest; the other instances reconcile from the log.
            self._outbox.get_nowait()
        self._outbox.put_nowait(message)

    def announce(self, counts: Mapping[str, int]) -> None:
        """Replace any announcement not sent yet: only the latest counts matter."""
        self._counts = encode_counts(self._origin, counts)
        self._counted.set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._send()),
            asyncio.create_task(self._receive()),
            asyncio.create_task(self._send_counts()),
        ]

    async def stop(self, goodbye_timeout: float = 1.0) -> None:
        """Stop, saying this instance has no audience left: the others need not wait for it to fall silent."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            goodbye = encode_counts(self._origin, {})
            await asyncio.wait_for(self._client.publish(self._audience_channel, goodbye), goodbye_timeout)
        await self._client.aclose()

    async def ping(self) -> None:
        await self._client.ping()

    async def _send(self) -> None:
        while True:
            message = await self._outbox.get()
            delay = self._first_retry
            while True:
                try:
                    await self._client.publish(self._channel, message)
                    break
                except (RedisError, OSError) as error:
                    delay = await self._pause(f"publish to Redis ({error})", delay)

    async def _send_counts(self) -> None:
        failing = False  # warn once per outage, not every interval
        while True:
            await self._counted.wait()
            self._counted.clear()
            message, self._counts = self._counts, None
            if message is None:
                continue
            try:
                await self._client.publish(self._audience_channel, message)
                failing = False
            except (RedisError, OSError) as error:
                if not failing:
                    log.warning("could not announce the audience to Redis (%s); the next interval tries again", error)
                failing = True

    async def _receive(self) -> None:
        delay = self._first_retry
        while True:
            try:
                async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel, self._audience_channel)
                    log.info("listening to Redis channel %s", self._channel)
                    delay = self._first_retry
                    await self._catch_up()
                    async for message in pubsub.listen():
                        self._receive_one(message)
            except (RedisError, OSError) as error:
                delay = await self._pause(f"listen to Redis ({error})", delay)

    async def _catch_up(self) -> None:
        """Changes published while we were not listening are in the log, not in Redis."""
        try:
            await self._on_connected()
        except Exception:
            log.exception("catching up after connecting to Redis failed; the periodic reconcile retries")

    def _receive_one(self, message: dict[str, Any]) -> None:
        audience = message.get("channel") == self._audience_channel.encode()
        try:
            origin, content = decode_counts(message["data"]) if audience else decode(message["data"])
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("ignored a malformed message on %s", self._audience_channel if audience else self._channel)
            return
        if origin == self._origin:
            return
        if isinstance(content, dict):
            self._hear(origin, content)
        else:
            self._deliver(content)

    async def _pause(self, what: str, delay: float) -> float:
        """Wait a random time up to ``delay`` (full jitter) and return the next, doubled delay."""
        log.warning("could not %s; retrying within %.1fs", what, delay)
        await asyncio.sleep(random.uniform(0, delay))
        return min(delay * 2, self._max_retry)


def encode(origin: str, events: Sequence[Event]) -> bytes:
    """One bus message: the publishing instance and its committed changes, compactly."""
    return orjson.dumps([origin, [_encode(event) for event in events]])


def decode(data: bytes) -> tuple[str, list[Event]]:
    """The publishing instance and the changes of a bus message; ValueError or TypeError when malformed."""
    origin, encoded = orjson.loads(data)
    return str(origin), [_decode(item) for item in encoded]


def _encode(event: Event) -> list[object]:
    change = event.change
    return [
        event.showtime_id,
        event.seq,
        change.seat,
        change.status.value,
        change.session_id,
        change.origin.value,
        event.at,
    ]


def _decode(item: list[Any]) -> Event:
    showtime_id, seq, seat, status, session_id, origin, at = item
    change = SeatChange(str(seat), SeatStatus(status), str(session_id), Origin(origin))
    return Event(str(showtime_id), int(seq), change, int(at))


def encode_counts(origin: str, counts: Mapping[str, int]) -> bytes:
    """One audience announcement: the instance and its subscribers per showtime."""
    return orjson.dumps([origin, counts])


def decode_counts(data: bytes) -> tuple[str, dict[str, int]]:
    """The instance and its counts of an announcement; ValueError, TypeError or AttributeError when malformed."""
    origin, counts = orjson.loads(data)
    for count in counts.values():
        if type(count) is not int or count < 0:
            raise ValueError(f"not a count: {count!r}")
    return str(origin), {str(showtime): count for showtime, count in counts.items()}
