"""A real WebSocket client for tests: requests matched to replies by requestId, broadcasts queued.

``audience`` messages come on their own timer, so they wait in a queue of their own (``audience``) rather
than among the other pushed messages, whose order tests check.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = ["SeatClient"]

TIMEOUT = 10.0
_ids = itertools.count(1)


class SeatClient:
    def __init__(self, connection: ClientConnection, hello: dict[str, Any]) -> None:
        self.connection = connection
        self.hello = hello
        self.session_id: str = hello["sessionId"]
        self.token: str = hello["token"]
        self.pushed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.audience: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, token: str | None = None) -> SeatClient:
        connection = await connect(url + (f"?token={token}" if token else ""), open_timeout=TIMEOUT)
        hello = orjson.loads(await asyncio.wait_for(connection.recv(), TIMEOUT))
        assert hello["type"] == "connection_established", hello
        return cls(connection, hello)

    async def request(self, type: str, **fields: Any) -> dict[str, Any]:
        """Send a message with a fresh requestId and return the one reply that carries it."""
        request_id = f"r{next(_ids)}"
        return await self.send_raw(orjson.dumps({"type": type, "requestId": request_id, **fields}), request_id)

    async def send_raw(self, frame: str | bytes, request_id: str) -> dict[str, Any]:
        future = self._pending[request_id] = asyncio.get_running_loop().create_future()
        await self.connection.send(frame.decode() if isinstance(frame, bytes) else frame)
        try:
            return await asyncio.wait_for(future, TIMEOUT)
        finally:
            self._pending.pop(request_id, None)

    async def next_pushed(self, type: str | None = None, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next message that answered no request of ours (broadcasts, snapshots), skipping other types."""
        while True:
            message = await asyncio.wait_for(self.pushed.get(), timeout)
            if type is None or message["type"] == type:
                return message

    async def viewers(self, showtime_id: str, count: int, timeout: float = TIMEOUT) -> None:
        """Return once an ``audience`` message says the showtime has ``count`` viewers; TimeoutError if none does."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.audience.get()
                if (message["showtimeId"], message["viewers"]) == (showtime_id, count):
                    return

    async def changes(self, count: int) -> list[dict[str, Any]]:
        return [await self.next_pushed("seat_status_change") for _ in range(count)]

    def drain(self) -> list[dict[str, Any]]:
        drained = []
        while not self.pushed.empty():
            drained.append(self.pushed.get_nowait())
        return drained

    async def close(self) -> None:
        await self.connection.close()
        self._reader.cancel()

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self._dispatch()

    async def _dispatch(self) -> None:
        async for frame in self.connection:
            message = orjson.loads(frame)
            future = self._pending.get(str(message.get("requestId")))
            if future is not None and not future.done():
                future.set_result(message)
            elif message.get("type") == "audience":
                self.audience.put_nowait(message)
            else:
                self.pushed.put_nowait(message)
