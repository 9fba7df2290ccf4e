"""Layouts are read once, even under a burst; an unknown showtime is refused and not remembered."""

from __future__ import annotations

import asyncio

from server.core.errors import ErrorCode, Rejection
from server.core.seats import Layout
from server.layouts import LayoutCache


class Catalogue:
    def __init__(self) -> None:
        self.layouts: dict[str, Layout] = {}
        self.reads = 0

    async def load(self, showtime_id: str) -> Layout | None:
        self.reads += 1
        await asyncio.sleep(0)
        return self.layouts.get(showtime_id)


async def test_a_burst_on_a_cold_showtime_makes_one_read() -> None:
    catalogue = Catalogue()
    catalogue.layouts["st"] = Layout({"A1": "standard"})
    cache = LayoutCache(catalogue.load)
    layouts = await asyncio.gather(*(cache.get("st") for _ in range(50)))
    assert all(layout == catalogue.layouts["st"] for layout in layouts)
    assert catalogue.reads == 1
    await cache.get("st")
    assert catalogue.reads == 1


async def test_an_unknown_showtime_is_refused_and_found_once_it_exists() -> None:
    catalogue = Catalogue()
    cache = LayoutCache(catalogue.load)
    missing = await cache.get("st")
    assert isinstance(missing, Rejection)
    assert missing.code is ErrorCode.UNKNOWN_SHOWTIME
    catalogue.layouts["st"] = Layout({"A1": "standard"})
    assert await cache.get("st") == catalogue.layouts["st"]
