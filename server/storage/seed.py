"""Seat grids and showtimes of any size: for tests, benchmarks and ``python -m server seed``."""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.venues import CategoryInfo, HallLayout, Point, RowPlan, SeatPlace, SectionPlan, Shape
from server.storage import venues
from server.storage.venues import NewShowtime, save_layout

__all__ = ["Category", "create_showtime", "grid_layout", "row_label"]


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


def grid_layout(
    rows: int, seats_per_row: int, categories: Sequence[Category], aisles_after: Sequence[int] = ()
) -> tuple[HallLayout, dict[str, int]]:
    """A ``rows`` x ``seats_per_row`` hall with one section, and the prices of its categories.

    Seat ids are row and number ("F12"); ``aisles_after`` lists seat numbers followed by an aisle (a blank
    column). A category's id is its name in lower case.
    """
    ids = [category.name.lower() for category in categories]
    default = next((cid for cid, c in zip(ids, categories, strict=True) if c.rows is None), ids[0])

    def category_of(row: int) -> str:
        return next((cid for cid, c in zip(ids, categories, strict=True) if c.rows and row in c.rows), default)

    hall = HallLayout(
        categories=tuple(CategoryInfo(cid, c.name) for cid, c in zip(ids, categories, strict=True)),
        sections=(
            SectionPlan(
                "main",
                "Stalls",
                tuple(
                    RowPlan(
                        row_label(row),
                        tuple(
                            SeatPlace(
                                id=f"{row_label(row)}{number}",
                                label=str(number),
                                x=number - 1 + sum(1 for aisle in aisles_after if number > aisle),
                                y=row,
                                category_id=category_of(row),
                            )
                            for number in range(1, seats_per_row + 1)
                        ),
                    )
                    for row in range(rows)
                ),
            ),
        ),
        shapes=(Shape("text", x=(seats_per_row + len(aisles_after) - 1) / 2, y=-1.5, text="Screen"),),
        focus=Point((seats_per_row + len(aisles_after) - 1) / 2, -1.5),
    )
    return hall, {cid: c.price_cents for cid, c in zip(ids, categories, strict=True)}


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
    """Create a venue with a hall of ``rows`` x ``seats_per_row`` seats, and one showtime in it."""
    suffix = secrets.token_hex(4)
    hall, prices = grid_layout(rows, seats_per_row, categories, aisles_after)
    saved = await save_layout(
        engine, hall, venue_id=f"ven_{suffix}", venue_name=venue_name, hall_id=f"aud_{suffix}", hall_name="Screen 1",
        now=starts_at,
    )  # fmt: skip
    return await venues.create_showtime(
        engine, NewShowtime(saved.id, title, starts_at, currency, prices, id=showtime_id)
    )
