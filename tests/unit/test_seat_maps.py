"""Seat maps from a template: the same JSON as one model per seat, current at every change, never mixed up."""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import replace
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.changes import Customer, NewBooking, Selection
from server.core.errors import ErrorCode, Rejection
from server.core.records import SeatMap, StatusView
from server.messages import ShowtimeLayout
from server.metrics import Metrics
from server.seat_maps import FreshReads, SeatMaps, Version, accepts_gzip
from server.service import SeatService
from server.settings import LimitSettings, SeatSettings
from server.storage.seed import Category as SeatCategory
from server.storage.seed import create_showtime
from server.storage.store import SeatStore
from server.storage.venues import showtime_terms, update_showtime
from tests.fakes import ManualClock
from tests.unit.database import SHOWTIME, engine

__all__ = ["engine"]

ADA = NewBooking(Customer("Ada", "ada@example.com"))


def seat_maps(engine: AsyncEngine, clock: ManualClock, reads_per_minute: float = 120) -> tuple[SeatService, SeatMaps]:
    service = SeatService(SeatStore(engine), SeatSettings(hold_ttl_seconds=60), lambda _: None, Metrics(), clock)
    limits = LimitSettings(showtime_reads_per_minute_per_ip=reads_per_minute)
    return service, SeatMaps(service, limits, clock)


async def encoded_per_seat(service: SeatService, showtime_id: str) -> Any:
    """The seat map as the models encode it whole, one model per seat, for every request."""
    found, status = await service.showtime(showtime_id), await service.status("", showtime_id)
    assert not isinstance(found, Rejection)
    assert isinstance(status, StatusView)
    return orjson.loads(ShowtimeLayout.from_map(SeatMap(found, status)).to_json())


async def current(maps: SeatMaps, showtime_id: str) -> Version:
    version = await maps.get(showtime_id)
    assert isinstance(version, Version)
    return version


async def test_the_map_is_the_json_one_model_per_seat_made(engine: AsyncEngine) -> None:
    showtime = await create_showtime(
        engine,
        rows=6,
        seats_per_row=7,
        aisles_after=(2, 5),
        title='Le "Grand" Film, \\ été 🎬',
        venue_name='Cinéma ,"status":"available"}',
        starts_at=1_900_000_000_000,
        categories=(SeatCategory("Loge «VIP»", 2500, range(0, 2)), SeatCategory("Standard", 1200)),
        currency="CHF",
    )
    clock = ManualClock()
    service, maps = seat_maps(engine, clock)
    assert orjson.loads((await current(maps, showtime)).body) == await encoded_per_seat(service, showtime)

    await service.lock("s1", showtime, Selection(["A1", "C3", "F7"]))
    await service.book("s1", showtime, Selection(["C3"]), ADA)
    clock.advance(30_000)
    await service.lock("s2", showtime, Selection(["B2"]))
    assert orjson.loads((await current(maps, showtime)).body) == await encoded_per_seat(service, showtime)
    clock.advance(30_000)  # s1's holds lapse, and no sweep has run: the seq is the same, the map is not
    after_lapse = await current(maps, showtime)
    assert orjson.loads(after_lapse.body) == await encoded_per_seat(service, showtime)
    statuses = {
        seat["id"]: seat["status"]
        for section in orjson.loads(after_lapse.body)["sections"]
        for row in section["rows"]
        for seat in row["seats"]
    }
    assert (statuses["A1"], statuses["B2"], statuses["C3"], statuses["F7"]) == (
        "available",
        "held",
        "booked",
        "available",
    )


async def test_a_change_makes_a_new_version_and_no_change_keeps_it(engine: AsyncEngine) -> None:
    service, maps = seat_maps(engine, ManualClock())
    before = await current(maps, SHOWTIME)
    assert await current(maps, SHOWTIME) is before
    await service.lock("s1", SHOWTIME, Selection(["B3"]))
    after = await current(maps, SHOWTIME)
    assert after is not before
    assert after.etag != before.etag
    document = orjson.loads(after.body)
    seats = {
        seat["id"]: seat["status"]
        for section in document["sections"]
        for row in section["rows"]
        for seat in row["seats"]
    }
    assert (seats["B3"], seats["B4"], orjson.loads(after.body)["seq"]) == ("held", "available", 1)
    assert orjson.loads(before.body)["seq"] == 0


async def test_a_burst_of_reads_shares_two_status_reads(engine: AsyncEngine) -> None:
    service, maps = seat_maps(engine, ManualClock())
    await current(maps, SHOWTIME)
    await service.lock("s1", SHOWTIME, Selection(["A2"]))
    versions = await asyncio.gather(*(current(maps, SHOWTIME) for _ in range(20)))
    assert len({id(version) for version in versions}) <= 2
    assert all(version.status.held == ["A2"] for version in versions)


async def test_a_shared_read_is_never_one_begun_before_the_caller_asked() -> None:
    value, reads = 0, 0
    started = asyncio.Event()

    async def read(_: str) -> int:
        nonlocal reads
        reads += 1
        seen = value
        started.set()
        await asyncio.sleep(0.01)
        return seen

    fresh = FreshReads(read)
    first = asyncio.create_task(fresh.get("k"))
    await started.wait()
    value = 1  # changed after the first read began: later callers must see it
    late = await asyncio.gather(*(fresh.get("k") for _ in range(30)))
    assert (await first, late) == (0, [1] * 30)
    assert reads == 2


async def test_a_showtime_never_gets_another_ones_map(engine: AsyncEngine) -> None:
    twin = await create_showtime(engine, rows=4, seats_per_row=5, title="Unit", starts_at=0)  # the same grid
    other = await create_showtime(engine, rows=2, seats_per_row=3, title="Small", starts_at=0)
    service, maps = seat_maps(engine, ManualClock())
    await service.lock("s1", twin, Selection(["A1"]))
    maps_of = await asyncio.gather(*(current(maps, showtime) for showtime in (SHOWTIME, twin, other) * 3))
    for showtime, version in zip((SHOWTIME, twin, other) * 3, maps_of, strict=True):
        assert orjson.loads(version.body) == await encoded_per_seat(service, showtime)
    assert len({version.etag for version in maps_of}) == 3
    missing = await maps.get("st_missing")
    assert isinstance(missing, Rejection)
    assert missing.code is ErrorCode.UNKNOWN_SHOWTIME


async def test_the_reply_is_gzipped_when_accepted_and_304_when_the_client_has_it(engine: AsyncEngine) -> None:
    _, maps = seat_maps(engine, ManualClock())
    version = await current(maps, SHOWTIME)
    plain = await version.reply({})
    assert (plain.status, plain.body, plain.headers["ETag"]) == (200, version.body, version.etag)
    assert plain.headers["Cache-Control"] == "no-cache"
    assert plain.headers["Vary"] == "Accept-Encoding"
    assert plain.headers["Content-Type"] == "application/json; charset=utf-8"
    packed = await version.reply({"Accept-Encoding": "gzip, deflate, br"})
    assert (packed.headers["Content-Encoding"], packed.headers["ETag"]) == ("gzip", version.gzip_etag)
    assert gzip.decompress(packed.body) == version.body
    assert len(packed.body) < len(version.body)
    for tags in (version.etag, f"W/{version.gzip_etag}", f'"other", {version.etag}', "*"):
        unchanged = await version.reply({"If-None-Match": tags, "Accept-Encoding": "gzip"})
        assert (unchanged.status, unchanged.body, unchanged.headers["ETag"]) == (304, b"", version.gzip_etag)
    assert (await version.reply({"If-None-Match": '"other"'})).status == 200


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("br, gzip;q=0.5", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("*", True),
        ("", False),
        ("identity", False),
        ("br, deflate", False),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),  # named with weight 0: refused, whatever * says
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_read_with_its_weights(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


async def test_reads_are_limited_per_address(engine: AsyncEngine) -> None:
    clock = ManualClock()
    _, maps = seat_maps(engine, clock, reads_per_minute=2)
    assert maps.admit("203.0.113.5") is None
    assert maps.admit("203.0.113.5") is None
    refused = maps.admit("203.0.113.5")
    assert isinstance(refused, Rejection)
    assert refused.code is ErrorCode.RATE_LIMITED
    assert refused.retry_after_ms == 30_000
    assert maps.admit("203.0.113.6") is None  # another address has its own budget
    clock.advance(30_000)
    assert maps.admit("203.0.113.5") is None


async def test_a_changed_price_makes_a_new_map_at_the_same_seq(engine: AsyncEngine) -> None:
    clock = ManualClock()
    service, maps = seat_maps(engine, clock)
    before = await current(maps, SHOWTIME)
    terms = await showtime_terms(engine, SHOWTIME)
    assert terms is not None
    await update_showtime(engine, SHOWTIME, replace(terms, prices={category: 999 for category in terms.prices}))
    after = await current(maps, SHOWTIME)
    assert after.etag != before.etag
    assert orjson.loads(after.body)["prices"] == dict.fromkeys(terms.prices, 999)
    assert orjson.loads(after.body) == await encoded_per_seat(service, SHOWTIME)
