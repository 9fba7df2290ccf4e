"""Venues, seat grids and showtimes: the demo cinema, and showtimes of any size for real venues."""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.tables import auditorium, seat, seat_category, showtime, venue

__all__ = ["Category", "create_showtime", "ensure_demo_data", "row_label"]


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    price_cents: int
    rows: range | None = None  # row indexes it covers; None: every row not covered by another


def row_label(index: int) -> str:
    """A, B, ..., Z, AA, AB, ...: spreadsheet-style, so any number of rows gets a distinct label."""
    label = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        label = string.ascii_uppercase[remainder] + label
    return label


async def create_showtime(
    engine: AsyncEngine,
    *,
    rows: int,
    seats_per_row: int,
    title: str,
    starts_at: int,
    venue_name: str = "Cinema",
    categories: Sequence[Category] = (Category("Standard", 1200),),
    aisles_after: Sequence[int] = (),
    currency: str = "EUR",
    showtime_id: str | None = None,
) -> str:
    """Create a venue, an auditorium with a ``rows`` x ``seats_per_row`` grid, and one showtime on it.

    ``aisles_after`` lists seat numbers followed by an aisle (a blank column in the grid).
    """
    suffix = secrets.token_hex(4)
    venue_id, auditorium_id = f"ven_{suffix}", f"aud_{suffix}"
    showtime_id = showtime_id or f"st_{secrets.token_hex(6)}"
    category_ids = [f"cat_{suffix}_{index}" for index in range(len(categories))]
    default = next((cid for cid, c in zip(category_ids, categories, strict=True) if c.rows is None), category_ids[0])

    def category_of(row: int) -> str:
        covering = (cid for cid, c in zip(category_ids, categories, strict=True) if c.rows and row in c.rows)
        return next(covering, default)

    seats = [
        {
            "auditorium_id": auditorium_id,
            "code": f"{row_label(row)}{number}",
            "row_label": row_label(row),
            "number": number,
            "x": number - 1 + sum(1 for aisle in aisles_after if number > aisle),
            "y": row,
            "category_id": category_of(row),
        }
        for row in range(rows)
        for number in range(1, seats_per_row + 1)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(venue).values(id=venue_id, name=venue_name))
        await conn.execute(insert(auditorium).values(id=auditorium_id, venue_id=venue_id, name="Screen 1"))
        await conn.execute(
            insert(seat_category),
            [
                {"id": cid, "auditorium_id": auditorium_id, "name": c.name, "price_cents": c.price_cents}
                for cid, c in zip(category_ids, categories, strict=True)
            ],
        )
        await conn.execute(insert(seat), seats)
        await conn.execute(
            insert(showtime).values(
                id=showtime_id, auditorium_id=auditorium_id, title=title, starts_at=starts_at, currency=currency, seq=0
            )
        )
    return showtime_id


DEMO_CATEGORIES = (
    Category("Front", 900, range(0, 2)),
    Category("Standard", 1200),
    Category("Premium", 1600, range(5, 8)),
)


async def ensure_demo_data(engine: AsyncEngine, now: int) -> list[str]:
    """On a database with no showtime, create the demo cinema's two showtimes and return their ids."""
    async with engine.connect() as conn:
        if (await conn.execute(select(func.count()).select_from(showtime))).scalar_one():
            return []
    hour = 3_600_000
    created = []
    for showtime_id, title, starts_in in (
        ("demo-matinee", "The Grand Premiere (matinee)", 4 * hour),
        ("demo-evening", "The Grand Premiere (evening)", 8 * hour),
    ):
        created.append(
            await create_showtime(
                engine,
                rows=10,
                seats_per_row=14,
                title=title,
                starts_at=now - now % hour + starts_in,
                venue_name="Demo Cinema",
                categories=DEMO_CATEGORIES,
                aisles_after=(3, 11),
                showtime_id=showtime_id,
            )
        )
    return created
