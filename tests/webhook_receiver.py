"""A shop's webhook endpoint on a loopback port: it records every request and answers as the test scripts it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

__all__ = ["Receiver", "Request"]


@dataclass(frozen=True)
class Request:
    event: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


@dataclass
class Receiver:
    """Answers ``statuses`` in turn, then ``answer(event)`` (200 unless set), each after ``delay`` seconds.
    ``start(port)`` listens on a port chosen beforehand, so that a test can bring a receiver up late."""

    statuses: list[int] = field(default_factory=list)
    answer: Callable[[dict[str, Any]], int] = lambda event: 200
    delay: float = 0.0
    received: list[Request] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self, port: int = 0) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        app.router.add_post("/moved", _moved)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hooks"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        event = orjson.loads(body)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        status = self.statuses.pop(0) if self.statuses else self.answer(event)
        self.received.append(Request(event, dict(request.headers), body, status))
        return web.Response(status=status)

    def ids(self) -> list[str]:
        return [request.event["id"] for request in self.received]


async def _moved(request: web.Request) -> web.Response:
    raise web.HTTPFound("/hooks")
