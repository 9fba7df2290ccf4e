"""A connection that sends one request at a time and awaits its reply: the locker of every scenario."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from bench.wsclient import WsClient

__all__ = ["Reply", "Requester"]

REPLY_TYPES = frozenset({"ack", "error", "current_seat_status"})
CONNECT_TIMEOUT = 30.0
REPLY_TIMEOUT = 60.0


class Reply:
    __slots__ = ("message", "received_ns", "sent_ns")

    def __init__(self, message: dict[str, Any], sent_ns: int, received_ns: int) -> None:
        self.message = message
        self.sent_ns = sent_ns
        self.received_ns = received_ns

    @property
    def ok(self) -> bool:
        return self.message.get("type") == "ack"

    @property
    def round_trip_ns(self) -> int:
        return self.received_ns - self.sent_ns


class Requester:
    """Replies are matched by order: a request is sent only once the previous one was answered."""

    def __init__(self) -> None:
        self.client: WsClient | None = None
        self.session_id = ""
        self._hello: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiter: asyncio.Future[tuple[dict[str, Any], int]] | None = None
        self._ids = 0

    @classmethod
    async def connect(cls, host: str, port: int, path: str) -> Requester:
        requester = cls()
        requester.client = await WsClient.connect(host, port, path, requester._on_text)
        async with asyncio.timeout(CONNECT_TIMEOUT):
            hello = await requester._hello
        requester.session_id = str(hello["sessionId"])
        return requester

    def _on_text(self, payload: bytes, now: int) -> None:
        message = orjson.loads(payload)
        kind = message.get("type")
        if kind in REPLY_TYPES:
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result((message, now))
        elif kind == "connection_established" and not self._hello.done():
            self._hello.set_result(message)

    async def request(self, kind: str, showtime_id: str, seat_ids: list[str]) -> Reply:
        assert self.client is not None
        self._ids += 1
        frame = orjson.dumps({"type": kind, "showtimeId": showtime_id, "seatIds": seat_ids, "requestId": self._ids})
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        sent = time.monotonic_ns()
        self.client.send_text(frame)
        async with asyncio.timeout(REPLY_TIMEOUT):
            message, received = await waiter
        if message.get("type") not in ("ack", "error") or message.get("requestId") != self._ids:
            raise RuntimeError(f"request {self._ids} was answered with {message!r}")
        return Reply(message, sent, received)

    async def subscribe(self, showtime_id: str) -> dict[str, Any]:
        """Subscribe and return the snapshot (or the error) that answers it."""
        assert self.client is not None
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self.client.send_text(orjson.dumps({"type": "subscribe", "showtimeId": showtime_id}))
        async with asyncio.timeout(REPLY_TIMEOUT):
            message, _ = await waiter
        return dict(message)

    def close(self) -> None:
        if self.client is not None:
            self.client.abort()
