"""Venues, halls, layout versions and showtimes: what an operator creates, and what buyers' pages draw.

A layout is written once and never changed: importing a hall again makes its next version.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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
from server.storage.database import WRITE
from server.storage.tables import (
    auditorium,
    booking,
    layout,
    layout_category,
    layout_seat,
    layout_section,
    layout_table,
    seat_block,
    seat_event,
    seat_hold,
    showtime,
    showtime_price,
    venue,
)

__all__ = [
    "LayoutRecord",
    "NewShowtime",
    "ShowtimeTerms",
    "create_showtime",
    "delete_showtime",
    "find_layout",
    "layout_records",
    "load_layout",
    "save_layout",
    "showtime_terms",
    "update_showtime",
]


@dataclass(frozen=True, slots=True)
class LayoutRecord:
    id: str
    venue_id: str
    venue_name: str
    hall_id: str
    hall_name: str
    version: int
    seat_count: int
    categories: list[CategoryInfo]
    created_at: int


@dataclass(frozen=True, slots=True)
class NewShowtime:
    layout_id: str
    title: str
    starts_at: int
    currency: str
    prices: Mapping[str, int]  # category id -> cents
    sales_open_at: int | None = None
    sales_close_at: int | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ShowtimeTerms:
    """What the operator may change of a showtime: its title, times, currency and prices."""

    layout_id: str
    title: str
    starts_at: int
    currency: str
    prices: dict[str, int]
    sales_open_at: int | None
    sales_close_at: int | None


async def save_layout(
    engine: AsyncEngine, hall: HallLayout, *, venue_id: str, venue_name: str, hall_id: str, hall_name: str, now: int
) -> LayoutRecord:
    """Store ``hall`` as the next version of the hall's layout, creating the venue and hall if new."""
    async with engine.execution_options(**WRITE).begin() as conn:
        if (await conn.execute(select(venue.c.id).where(venue.c.id == venue_id))).first() is None:
            await conn.execute(insert(venue).values(id=venue_id, name=venue_name))
        known = (await conn.execute(select(auditorium.c.venue_id).where(auditorium.c.id == hall_id))).first()
        if known is None:
            await conn.execute(insert(auditorium).values(id=hall_id, venue_id=venue_id, name=hall_name))
        elif known.venue_id != venue_id:
            raise ValueError(f"hall {hall_id} belongs to venue {known.venue_id}, not {venue_id}")
        latest = select(func.max(layout.c.version)).where(layout.c.auditorium_id == hall_id)
        version = ((await conn.execute(latest)).scalar_one_or_none() or 0) + 1
        layout_id = f"lay_{secrets.token_hex(6)}"
        await _write_layout(conn, layout_id, hall_id, version, hall, now)
    return LayoutRecord(
        layout_id, venue_id, venue_name, hall_id, hall_name, version, len(hall.seats()), list(hall.categories), now
    )


async def _write_layout(
    conn: AsyncConnection, layout_id: str, hall_id: str, version: int, hall: HallLayout, now: int
) -> None:
    focus = hall.focus
    await conn.execute(
        insert(layout).values(
            id=layout_id,
            auditorium_id=hall_id,
            version=version,
            shapes=json.dumps([_shape_json(shape) for shape in hall.shapes]),
            focus_x=focus.x if focus else None,
            focus_y=focus.y if focus else None,
            created_at=now,
        )
    )
    await conn.execute(
        insert(layout_category),
        [
            {"layout_id": layout_id, "id": c.id, "name": c.name, "color": c.color, "position": n}
            for n, c in enumerate(hall.categories)
        ],
    )
    await conn.execute(
        insert(layout_section),
        [{"layout_id": layout_id, "id": s.id, "name": s.name, "position": n} for n, s in enumerate(hall.sections)],
    )
    if hall.tables:
        await conn.execute(
            insert(layout_table),
            [
                {
                    "layout_id": layout_id,
                    "id": t.id,
                    "label": t.label,
                    "sold_as_whole": t.sold_as_whole,
                    "shape": json.dumps(_shape_json(t.shape)) if t.shape else None,
                    "position": n,
                }
                for n, t in enumerate(hall.tables)
            ],
        )
    table_of = {seat: table.id for table in hall.tables for seat in table.seat_ids}
    rows = [
        {
            "layout_id": layout_id,
            "code": seat.id,
            "section_id": section.id,
            "row_label": row.label,
            "label": seat.label,
            "x": seat.x,
            "y": seat.y,
            "rotation": seat.rotation,
            "category_id": seat.category_id,
            "flags": ",".join(sorted(seat.flags)),
            "table_id": table_of.get(seat.id),
            "blocked_reason": hall.blocked.get(seat.id),
        }
        for section in hall.sections
        for row in section.rows
        for seat in row.seats
    ]
    if rows:
        await conn.execute(insert(layout_seat), [row | {"position": n} for n, row in enumerate(rows)])


async def load_layout(engine: AsyncEngine, layout_id: str) -> HallLayout | None:
    async with engine.connect() as conn:
        found = (await conn.execute(select(layout).where(layout.c.id == layout_id))).first()
        if found is None:
            return None
        categories = await conn.execute(
            select(layout_category).where(layout_category.c.layout_id == layout_id).order_by(layout_category.c.position)
        )
        sections = await conn.execute(
            select(layout_section).where(layout_section.c.layout_id == layout_id).order_by(layout_section.c.position)
        )
        tables = await conn.execute(
            select(layout_table).where(layout_table.c.layout_id == layout_id).order_by(layout_table.c.position)
        )
        seats = await conn.execute(
            select(layout_seat).where(layout_seat.c.layout_id == layout_id).order_by(layout_seat.c.position)
        )
        return _hall(found, list(categories), list(sections), list(tables), list(seats))


def _hall(
    found: Row[Any], categories: list[Row[Any]], sections: list[Row[Any]], tables: list[Row[Any]], seats: list[Row[Any]]
) -> HallLayout:
    rows: dict[str, dict[str, list[SeatPlace]]] = {section.id: {} for section in sections}
    members: dict[str, list[str]] = {table.id: [] for table in tables}
    blocked: dict[str, str] = {}
    for seat in seats:
        place = SeatPlace(
            id=seat.code,
            label=seat.label,
            x=seat.x,
            y=seat.y,
            category_id=seat.category_id,
            rotation=seat.rotation,
            flags=frozenset(SeatFlag(flag) for flag in seat.flags.split(",") if flag),
        )
        rows[seat.section_id].setdefault(seat.row_label, []).append(place)
        if seat.table_id is not None:
            members[seat.table_id].append(seat.code)
        if seat.blocked_reason is not None:
            blocked[seat.code] = seat.blocked_reason
    return HallLayout(
        categories=tuple(CategoryInfo(c.id, c.name, c.color) for c in categories),
        sections=tuple(
            SectionPlan(s.id, s.name, tuple(RowPlan(label, tuple(places)) for label, places in rows[s.id].items()))
            for s in sections
        ),
        tables=tuple(
            TablePlan(
                t.id, t.label, tuple(members[t.id]), t.sold_as_whole, _shape(json.loads(t.shape)) if t.shape else None
            )
            for t in tables
        ),
        shapes=tuple(_shape(shape) for shape in json.loads(found.shapes)),
        focus=Point(found.focus_x, found.focus_y) if found.focus_x is not None and found.focus_y is not None else None,
        blocked=blocked,
    )


async def layout_records(engine: AsyncEngine, layout_id: str | None = None) -> list[LayoutRecord]:
    """Every layout version (or the one named), newest last within each hall."""
    seat_count = select(func.count()).where(layout_seat.c.layout_id == layout.c.id).scalar_subquery()
    query = (
        select(
            layout.c.id,
            layout.c.version,
            layout.c.created_at,
            auditorium.c.id.label("hall_id"),
            auditorium.c.name.label("hall_name"),
            venue.c.id.label("venue_id"),
            venue.c.name.label("venue_name"),
            seat_count.label("seat_count"),
        )
        .join(auditorium, auditorium.c.id == layout.c.auditorium_id)
        .join(venue, venue.c.id == auditorium.c.venue_id)
        .order_by(venue.c.name, auditorium.c.name, layout.c.version)
    )
    if layout_id is not None:
        query = query.where(layout.c.id == layout_id)
    async with engine.connect() as conn:
        found = (await conn.execute(query)).all()
        categories: dict[str, list[CategoryInfo]] = {row.id: [] for row in found}
        listed = select(layout_category).where(layout_category.c.layout_id.in_(list(categories)))
        for c in await conn.execute(listed.order_by(layout_category.c.position)):
            categories[c.layout_id].append(CategoryInfo(c.id, c.name, c.color))
    return [
        LayoutRecord(
            r.id,
            r.venue_id,
            r.venue_name,
            r.hall_id,
            r.hall_name,
            r.version,
            r.seat_count,
            categories[r.id],
            r.created_at,
        )
        for r in found
    ]


async def find_layout(engine: AsyncEngine, layout_id: str) -> LayoutRecord | None:
    found = await layout_records(engine, layout_id)
    return found[0] if found else None


async def create_showtime(engine: AsyncEngine, new: NewShowtime) -> str:
    """Create a showtime on a layout version, with its prices; the layout's default blocks apply at once."""
    showtime_id = new.id or f"st_{secrets.token_hex(6)}"
    async with engine.execution_options(**WRITE).begin() as conn:
        await conn.execute(
            insert(showtime).values(
                id=showtime_id,
                layout_id=new.layout_id,
                title=new.title,
                starts_at=new.starts_at,
                currency=new.currency,
                sales_open_at=new.sales_open_at,
                sales_close_at=new.sales_close_at,
                seq=0,
            )
        )
        await _write_prices(conn, showtime_id, new.prices)
        defaults = select(layout_seat.c.code, layout_seat.c.blocked_reason).where(
            layout_seat.c.layout_id == new.layout_id, layout_seat.c.blocked_reason.is_not(None)
        )
        blocks = [
            {"showtime_id": showtime_id, "seat_code": code, "reason": reason, "created_at": new.starts_at}
            for code, reason in await conn.execute(defaults)
        ]
        if blocks:
            await conn.execute(insert(seat_block), blocks)
    return showtime_id


async def showtime_terms(engine: AsyncEngine, showtime_id: str) -> ShowtimeTerms | None:
    async with engine.connect() as conn:
        found = (await conn.execute(select(showtime).where(showtime.c.id == showtime_id))).first()
        if found is None:
            return None
        prices = await conn.execute(
            select(showtime_price.c.category_id, showtime_price.c.price_cents).where(
                showtime_price.c.showtime_id == showtime_id
            )
        )
        return ShowtimeTerms(
            found.layout_id,
            found.title,
            found.starts_at,
            found.currency,
            {category: cents for category, cents in prices},
            found.sales_open_at,
            found.sales_close_at,
        )


async def update_showtime(engine: AsyncEngine, showtime_id: str, terms: ShowtimeTerms) -> None:
    """Write new terms. Seats already sold keep the price they were sold at (in ``booking_seat``)."""
    async with engine.execution_options(**WRITE).begin() as conn:
        await conn.execute(
            update(showtime)
            .where(showtime.c.id == showtime_id)
            .values(
                title=terms.title,
                starts_at=terms.starts_at,
                currency=terms.currency,
                sales_open_at=terms.sales_open_at,
                sales_close_at=terms.sales_close_at,
            )
        )
        await conn.execute(delete(showtime_price).where(showtime_price.c.showtime_id == showtime_id))
        await _write_prices(conn, showtime_id, terms.prices)


async def delete_showtime(engine: AsyncEngine, showtime_id: str) -> bool:
    """Delete a showtime that has no bookings, with its blocks, prices and log; False if it has bookings."""
    async with engine.execution_options(**WRITE).begin() as conn:
        sold = select(func.count()).select_from(booking).where(booking.c.showtime_id == showtime_id)
        if (await conn.execute(sold)).scalar_one():
            return False
        for table in (seat_block, seat_hold, showtime_price, seat_event):
            await conn.execute(delete(table).where(table.c.showtime_id == showtime_id))
        await conn.execute(delete(showtime).where(showtime.c.id == showtime_id))
    return True


async def _write_prices(conn: AsyncConnection, showtime_id: str, prices: Mapping[str, int]) -> None:
    if prices:
        await conn.execute(
            insert(showtime_price),
            [{"showtime_id": showtime_id, "category_id": c, "price_cents": cents} for c, cents in prices.items()],
        )


def _shape_json(shape: Shape) -> dict[str, Any]:
    return {key: value for key, value in asdict(shape).items() if value not in (None, ())}


def _shape(data: dict[str, Any]) -> Shape:
    points = tuple(Point(**point) for point in data.pop("points", ()))
    return Shape(**data, points=points)
