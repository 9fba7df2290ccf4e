"""The demo data: the demo cinema from its example file, two showtimes on it and one at the theatre, made once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.demo import CINEMA_PRICES, THEATRE_PRICES, ensure_demo_data
from server.storage.database import create_engine
from server.storage.migrations import apply_migrations
from server.storage.seed import create_showtime
from server.storage.store import SeatStore

HOUR = 3_600_000


@pytest.fixture
async def empty(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'seats.db'}")
    await apply_migrations(engine)
    yield engine
    await engine.dispose()


async def test_the_demo_showtimes_are_created_once_on_the_hour(empty: AsyncEngine) -> None:
    now = 100 * HOUR + 1234
    assert await ensure_demo_data(empty, now) == ["demo-matinee", "demo-evening", "demo-theatre"]
    assert await ensure_demo_data(empty, now) == []
    listed = await SeatStore(empty).showtimes()
    assert [(s.id, s.starts_at, s.seat_count, s.venue) for s in listed] == [
        ("demo-matinee", 104 * HOUR, 140, "Demo Cinema"),
        ("demo-evening", 108 * HOUR, 140, "Demo Cinema"),
        ("demo-theatre", 127 * HOUR, 420, "Demo Theatre"),
    ]


async def test_the_cinema_keeps_its_seat_ids_and_the_matinee_is_cheaper(empty: AsyncEngine) -> None:
    await ensure_demo_data(empty, 0)
    store = SeatStore(empty)
    evening, matinee, theatre = [
        await store.showtime(name) for name in ("demo-evening", "demo-matinee", "demo-theatre")
    ]
    assert evening is not None
    assert matinee is not None
    assert theatre is not None
    assert evening.prices == CINEMA_PRICES == {"front": 900, "standard": 1200, "premium": 1600}
    assert all(matinee.prices[category] < cents for category, cents in evening.prices.items())
    seats = {seat.id: seat.category_id for seat in evening.hall.seats()}
    assert (seats["A1"], seats["E7"], seats["F12"], seats["J14"]) == ("front", "standard", "premium", "standard")
    assert len(seats) == 140
    assert theatre.prices == THEATRE_PRICES
    assert set(THEATRE_PRICES) == {category.id for category in theatre.hall.categories}
    status = await store.snapshot("demo-theatre")
    assert sorted(status.claims) == ["L1", "L24"]  # the pillar seats the layout blocks by default


async def test_no_demo_data_where_a_showtime_exists(empty: AsyncEngine) -> None:
    await create_showtime(empty, rows=1, seats_per_row=1, title="Real", starts_at=0)
    assert await ensure_demo_data(empty, 0) == []
    assert [s.title for s in await SeatStore(empty).showtimes()] == ["Real"]
