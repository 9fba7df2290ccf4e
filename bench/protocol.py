"""The load generator's side of the seat protocol: the subscribe frame, opening many subscribers, and the
seat changes a server frame carries, one per ``seat_status_change`` or several per batched frame."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from bench.wsclient import WsClient

__all__ = ["Endpoint", "Subscriber", "changes_in", "open_subscribed", "subscribe_frame"]

# Where a client connects: host, port, path.
Endpoint = tuple[str, int, str]


def subscribe_frame(showtime_id: str, batch: bool = False, audience: bool = False) -> bytes:
    """``batch`` asks for one ``seat_status_changes`` frame per commit; servers that do not know it ignore it.

    The audience is declined unless asked for (the baselines have none, and the audience scenario measures it
    on its own), so the fan-out and storm figures stay the cost of seat changes and subscribes alone.
    """
    request: dict[str, object] = {"type": "subscribe", "showtimeId": showtime_id, "requestId": "sub"}
    request["audience"] = audience
    if batch:
        request["batch"] = True
    return orjson.dumps(request)


def changes_in(message: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The seat changes a frame carries, in order (each with ``seatId``, ``status`` and ``seq``); None when
    the frame is not a change: a ``seat_status_change`` carries one, a ``seat_status_changes`` several."""
    kind = message.get("type")
    if kind == "seat_status_change":
        return [message]
    if kind == "seat_status_changes":
        return list(message["changes"])
    return None


class Subscriber(Protocol):
    client: WsClient | None
    ready: asyncio.Future[Any]  # set when the subscription's snapshot arrived

    def on_text(self, payload: bytes, now: int) -> None: ...


async def open_subscribed(
    subscribers: Sequence[Subscriber],
    endpoints: Sequence[Endpoint],
    frame: bytes,
    concurrency: int,
    first: int = 0,
) -> list[Any]:
    """Connect every subscriber (the ``i``-th to ``endpoints[(first + i) % len]``) and subscribe it, at most
    ``concurrency`` at a time in flight; return what each one's ``ready`` resolved to."""
    gate = asyncio.Semaphore(concurrency)

    async def open_one(index: int, subscriber: Subscriber) -> Any:
        host, port, path = endpoints[(first + index) % len(endpoints)]
        async with gate:
            subscriber.client = await WsClient.connect(host, port, path, subscriber.on_text)
            subscriber.client.send_text(frame)
            return await subscriber.ready

    return list(await asyncio.gather(*(open_one(index, one) for index, one in enumerate(subscribers))))
