"""Live sales figures for the operator's dashboards: ``subscribe_figures`` on an authenticated socket.

A followed showtime's figures are read from the database (``SeatService.figures``: every instance's sales)
after it changed, at most once per ``FIGURES_INTERVAL_SECONDS`` per instance (``server.core.throttle``),
and only while some connection here follows it. One reading is encoded once and handed to every follower
through the fan-out's way out, which never waits for a client and drops one that stopped reading.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

from server.admin_messages import Figures
from server.core.clock import Clock
from server.core.errors import Rejection
from server.core.throttle import Throttle
from server.fanout import Fanout
from server.messages import RequestId
from server.service import SeatService

__all__ = ["FiguresWatch"]

log = logging.getLogger(__name__)

C = TypeVar("C", bound=Hashable)


class FiguresWatch(Generic[C]):
    def __init__(self, service: SeatService, fanout: Fanout[C], clock: Clock, interval_seconds: float) -> None:
        self._service = service
        self._fanout = fanout  # its send(): in order with the connection's other frames, slow readers dropped
        self._clock = clock
        self._throttle: Throttle[str] = Throttle(round(interval_seconds * 1000))
        self._followers: dict[str, set[C]] = {}  # showtime -> the connections following its figures
        self._readings: set[asyncio.Task[None]] = set()  # scheduled or under way
        # Showtime -> its readings scheduled or under way. Its throttle is forgotten only once none is left and
        # nobody follows it, or one followed again meanwhile could be read twice within an interval.
        self._reading: Counter[str] = Counter()

    async def follow(self, connection: C, showtime_id: str, request_id: RequestId | None) -> str | Rejection:
        """Follow a showtime's figures from now on; return the reply: its figures now (or why not).

        The connection follows before the reading, so no change it makes is missed: a throttled reading may
        then reach it before the reply does, and the figures with the higher ``seq`` are the newer.
        """
        self._followers.setdefault(showtime_id, set()).add(connection)
        try:
            figures = await self._service.figures(showtime_id)
        except Exception:
            self._leave(connection, showtime_id)
            raise
        if isinstance(figures, Rejection):
            self._leave(connection, showtime_id)
            return figures
        return Figures.of(figures).model_copy(update={"request_id": request_id}).to_json()

    def forget(self, connection: C) -> None:
        """The connection closed: it follows nothing any more."""
        for showtime_id in [key for key, followers in self._followers.items() if connection in followers]:
            self._leave(connection, showtime_id)

    def changed(self, showtime_ids: Iterable[str]) -> None:
        """Showtimes changed (a commit here or on another instance): read the followed ones' figures again,
        once the throttle lets it."""
        now = self._clock.monotonic()
        for showtime_id in set(showtime_ids) & self._followers.keys():
            wait = self._throttle.changed(showtime_id, now)
            if wait is not None:
                self._reading[showtime_id] += 1
                reading = asyncio.create_task(self._read(showtime_id, wait / 1000))
                self._readings.add(reading)
                reading.add_done_callback(self._readings.discard)

    async def settled(self) -> None:
        """Return once every reading scheduled so far is done (for whoever must know none is on its way)."""
        while self._readings:
            await asyncio.gather(*self._readings, return_exceptions=True)

    async def stop(self) -> None:
        for reading in list(self._readings):
            reading.cancel()
        await asyncio.gather(*self._readings, return_exceptions=True)

    def _leave(self, connection: C, showtime_id: str) -> None:
        followers = self._followers.get(showtime_id, set())
        followers.discard(connection)
        if not followers:
            self._followers.pop(showtime_id, None)
            if showtime_id not in self._reading:
                self._throttle.forget(showtime_id)

    async def _read(self, showtime_id: str, wait: float) -> None:
        try:
            if wait:
                await asyncio.sleep(wait)
            if showtime_id in self._followers:  # else nobody follows it any more
                await self._send(showtime_id)
        finally:
            self._reading[showtime_id] -= 1
            if not self._reading[showtime_id]:
                del self._reading[showtime_id]
                if showtime_id not in self._followers:
                    self._throttle.forget(showtime_id)

    async def _send(self, showtime_id: str) -> None:
        self._throttle.begin(showtime_id, self._clock.monotonic())
        try:
            figures = await self._service.figures(showtime_id)
        except Exception:  # the next change asks again
            log.exception("could not read the figures of showtime %s", showtime_id)
            return
        if isinstance(figures, Rejection):  # deleted meanwhile
            return
        frame = Figures.of(figures).to_json()
        for connection in list(self._followers.get(showtime_id, ())):
            self._fanout.send(connection, [frame])
