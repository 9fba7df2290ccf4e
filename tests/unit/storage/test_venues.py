"""Venues in the database: layout versions written once and read back whole, showtimes on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.venues import (
    CategoryInfo,
    HallLayout,
    Point,
    RowPlan,
    SeatFlag,
    SeatPlace,
    SectionPlan,
    Shape,
    TablePlan,
)
from server.storage.database import create_engine
from server.storage.migrations import apply_migrations
from server.storage.tables import booking, seat_block
from server.storage.venues import (
    NewShowtime,
    ShowtimeTerms,
    create_showtime,
    delete_showtime,
    find_layout,
    layout_records,
    load_layout,
    save_layout,
    showtime_terms,
    update_showtime,
)

CABARET = HallLayout(
    categories=(CategoryInfo("front", "Front", "#c33"), CategoryInfo("back", "Back")),
    sections=(
        SectionPlan("floor", "Floor", (
            RowPlan("A", (
                SeatPlace("A1", "1", 0, 0, "front", rotation=90, flags=frozenset({SeatFlag.ACCESSIBLE})),
                SeatPlace("A2", "2", 1.5, 0, "front", flags=frozenset({SeatFlag.COMPANION, SeatFlag.RESTRICTED_VIEW})),
            )),
            RowPlan("B", (SeatPlace("B1", "1", 0, 2, "back"),)),
        )),
        SectionPlan("box", "Box", (
            RowPlan("K", (SeatPlace("K1", "1", 9, 9, "back"), SeatPlace("K2", "2", 10, 9, "back"))),
        )),
    ),
    tables=(TablePlan("t1", "Box 1", ("K1", "K2"), sold_as_whole=True, shape=Shape("circle", x=9.5, y=9, radius=1)),),
    shapes=(
        Shape("rectangle", x=-1, y=-3, width=12, height=1, text="Stage", color="#000"),
        Shape("polygon", points=(Point(0, 5), Point(3, 5), Point(1.5, 7)), rotation=15),
    ),
    focus=Point(5, -2.5),
    blocked={"B1": "pillar"},
)  # fmt: skip


@pytest.fixture
async def empty(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'seats.db'}")
    await apply_migrations(engine)
    yield engine
    await engine.dispose()


async def save(engine: AsyncEngine, hall: HallLayout = CABARET, *, venue_id: str = "v1", now: int = 1) -> str:
    saved = await save_layout(
        engine, hall, venue_id=venue_id, venue_name="The Venue", hall_id="h1", hall_name="Main Hall", now=now
    )
    return saved.id


async def test_a_layout_reads_back_as_it_was_saved(empty: AsyncEngine) -> None:
    layout_id = await save(empty)
    assert await load_layout(empty, layout_id) == CABARET
    assert await load_layout(empty, "lay_missing") is None


async def test_saving_a_hall_again_makes_its_next_version(empty: AsyncEngine) -> None:
    first = await save(empty, now=10)
    smaller = HallLayout(CABARET.categories[:1], (SectionPlan("s", "S", (RowPlan("A", CABARET.seats()[:1]),)),))
    second = await save(empty, smaller, now=20)
    records = await layout_records(empty)
    assert [(r.id, r.version, r.seat_count, r.created_at) for r in records] == [(first, 1, 5, 10), (second, 2, 1, 20)]
    assert (records[0].venue_name, records[0].hall_name, records[0].categories) == (
        "The Venue", "Main Hall", list(CABARET.categories),
    )  # fmt: skip
    assert await find_layout(empty, second) == records[1]
    assert await find_layout(empty, "lay_missing") is None
    with pytest.raises(ValueError, match="belongs to venue v1"):
        await save(empty, venue_id="v2")


async def test_a_showtime_starts_with_its_layouts_default_blocks(empty: AsyncEngine) -> None:
    layout_id = await save(empty)
    new = NewShowtime(layout_id, "Cabaret", 1000, "EUR", {"front": 3000}, sales_close_at=900, id="st1")
    assert await create_showtime(empty, new) == "st1"
    async with empty.connect() as conn:
        blocks = (await conn.execute(select(seat_block.c.seat_code, seat_block.c.reason))).all()
    assert [tuple(block) for block in blocks] == [("B1", "pillar")]
    made_up = await create_showtime(empty, NewShowtime(layout_id, "Again", 2000, "EUR", {}))
    assert made_up.startswith("st_")
    assert await showtime_terms(empty, made_up) == ShowtimeTerms(layout_id, "Again", 2000, "EUR", {}, None, None)


async def test_new_terms_replace_the_old_prices_whole(empty: AsyncEngine) -> None:
    layout_id = await save(empty)
    await create_showtime(
        empty, NewShowtime(layout_id, "Cabaret", 1000, "EUR", {"front": 3000, "back": 2000}, 5, 900, "st1")
    )
    changed = ShowtimeTerms(layout_id, "Cabaret Late", 4000, "GBP", {"back": 1500}, None, 3900)
    await update_showtime(empty, "st1", changed)
    assert await showtime_terms(empty, "st1") == changed
    assert await showtime_terms(empty, "st_missing") is None


async def test_a_showtime_with_a_booking_is_not_deleted(empty: AsyncEngine) -> None:
    layout_id = await save(empty)
    for showtime_id in ("st_sold", "st_unsold"):
        await create_showtime(empty, NewShowtime(layout_id, "Cabaret", 1000, "EUR", {"front": 3000}, id=showtime_id))
    sale = {"session_id": "s1", "customer_name": "Ada", "customer_email": "ada@example.com", "total_cents": 3000}
    async with empty.begin() as conn:
        await conn.execute(insert(booking).values(id="b1", showtime_id="st_sold", currency="EUR", created_at=1, **sale))
    assert await delete_showtime(empty, "st_sold") is False
    assert await showtime_terms(empty, "st_sold") is not None
    assert await delete_showtime(empty, "st_unsold") is True
    assert await showtime_terms(empty, "st_unsold") is None
    async with empty.connect() as conn:
        left = (await conn.execute(select(seat_block.c.showtime_id))).scalars().all()
    assert left == ["st_sold"]  # the deleted showtime's default block went with it
