"""Seeding: row labels, price categories over rows, aisles in the grid."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.records import ShowtimeDetails
from server.storage.database import create_engine
from server.storage.migrations import apply_migrations
from server.storage.seed import Category, create_showtime, row_label
from server.storage.store import SeatStore

HOUR = 3_600_000


@pytest.fixture
async def empty(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'seats.db'}")
    await apply_migrations(engine)
    yield engine
    await engine.dispose()


async def read(engine: AsyncEngine, showtime_id: str) -> ShowtimeDetails:
    found = await SeatStore(engine).showtime(showtime_id)
    assert found is not None
    return found


def test_rows_are_labelled_like_spreadsheet_columns() -> None:
    assert [row_label(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA",
    ]  # fmt: skip
    assert len({row_label(i) for i in range(20_000)}) == 20_000


async def test_categories_cover_their_rows_and_the_open_one_the_rest(empty: AsyncEngine) -> None:
    categories = (Category("Front", 900, range(0, 1)), Category("Standard", 1200), Category("Back", 1500, range(3, 4)))
    showtime_id = await create_showtime(
        empty, rows=4, seats_per_row=2, title="Play", starts_at=HOUR, categories=categories, currency="GBP"
    )
    found = await read(empty, showtime_id)
    names = {category.id: category.name for category in found.hall.categories}
    assert found.prices == {"front": 900, "standard": 1200, "back": 1500}
    assert [(seat.id, names[seat.category_id]) for seat in found.hall.seats()] == [
        ("A1", "Front"), ("A2", "Front"), ("B1", "Standard"), ("B2", "Standard"),
        ("C1", "Standard"), ("C2", "Standard"), ("D1", "Back"), ("D2", "Back"),
    ]  # fmt: skip
    assert (found.showtime.title, found.showtime.currency, found.showtime.seat_count) == ("Play", "GBP", 8)


async def test_an_aisle_leaves_a_blank_column(empty: AsyncEngine) -> None:
    showtime_id = await create_showtime(empty, rows=2, seats_per_row=5, title="Bus", starts_at=0, aisles_after=(2,))
    hall = (await read(empty, showtime_id)).hall
    seats = hall.seats()
    assert [(seat.id, seat.x, seat.y) for seat in seats[:5]] == [
        ("A1", 0, 0), ("A2", 1, 0), ("A3", 3, 0), ("A4", 4, 0), ("A5", 5, 0),
    ]  # fmt: skip
    assert (seats[5].id, hall.sections[0].rows[1].label, seats[5].label, seats[5].y) == ("B1", "B", "1", 1)
