"""Showtime layouts (seats and prices), read once and kept: they never change once a showtime exists."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from server.core.errors import ErrorCode, Rejection

__all__ = ["LayoutCache", "SingleFlight"]

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """At most one run of the work per key at a time: callers arriving meanwhile share its result."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[T]] = {}

    async def run(self, key: str, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        running = self._running.get(key)
        if running is None:
            running = self._running[key] = asyncio.create_task(work())
            running.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(running)  # a caller that gives up does not cancel the others' work


class LayoutCache(Generic[T]):
    """What ``load`` makes of each showtime's layout (None: no such showtime), made once per showtime."""

    def __init__(self, load: Callable[[str], Coroutine[Any, Any, T | None]]) -> None:
        self._load = load
        self._layouts: dict[str, T] = {}
        self._loading: SingleFlight[T | None] = SingleFlight()

    async def get(self, showtime_id: str) -> T | Rejection:
        """The showtime's layout. A burst of requests for a cold showtime (10,000 seats) waits for one read
        instead of making one each; an unknown showtime is not remembered, so it can be created later."""
        layout = self._layouts.get(showtime_id)
        if layout is None:
            layout = await self._loading.run(showtime_id, lambda: self._load(showtime_id))
            if layout is None:
                return Rejection(ErrorCode.UNKNOWN_SHOWTIME, f"no such showtime: {showtime_id}")
            self._layouts[showtime_id] = layout
        return layout
