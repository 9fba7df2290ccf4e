"""Showtime layouts (seats and prices), read once and kept: they never change once a showtime exists."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from server.core.errors import ErrorCode, Rejection

__all__ = ["LayoutCache"]

T = TypeVar("T")


class LayoutCache(Generic[T]):
    """What ``load`` makes of each showtime's layout (None: no such showtime), made once per showtime."""

    def __init__(self, load: Callable[[str], Coroutine[Any, Any, T | None]]) -> None:
        self._load = load
        self._layouts: dict[str, T] = {}
        self._loading: dict[str, asyncio.Task[T | None]] = {}

    async def get(self, showtime_id: str) -> T | Rejection:
        """The showtime's layout. A burst of requests for a cold showtime (10,000 seats) waits for one read
        instead of making one each; an unknown showtime is not remembered, so it can be created later."""
        layout = self._layouts.get(showtime_id)
        if layout is None:
            loading = self._loading.get(showtime_id)
            if loading is None:
                loading = self._loading[showtime_id] = asyncio.create_task(self._load(showtime_id))
                loading.add_done_callback(lambda _: self._loading.pop(showtime_id, None))
            layout = await asyncio.shield(loading)
            if layout is None:
                return Rejection(ErrorCode.UNKNOWN_SHOWTIME, f"no such showtime: {showtime_id}")
            self._layouts[showtime_id] = layout
        return layout

    def forget(self, showtime_id: str) -> None:
        """Make the next :meth:`get` load the showtime again: it was deleted, or its terms changed."""
        self._layouts.pop(showtime_id, None)
