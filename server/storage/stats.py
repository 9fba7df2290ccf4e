"""Sales figures from the database: seats counted by what claims them, and the bookings' money.

Each read is one statement, so it sees one moment of the database on both backends (a statement's snapshot on
PostgreSQL, a read transaction on SQLite): a showtime's ``seq`` and its figures come from the same commit, and
no change is half counted. Nor does the read make a change wait, as a lock on the showtime row would. The
database groups the seats (GROUP BY), so a 10,000-seat hall comes back as a few dozen rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.stats import CONFIRMED, SalesTotals, SeatTally, ShowtimeFigures, sales_totals, showtime_figures
from server.storage.tables import booking, booking_item, booking_seat, layout_seat, seat_block, seat_hold, showtime

__all__ = ["all_showtime_figures", "read_sales_totals", "read_showtime_figures"]


async def read_showtime_figures(engine: AsyncEngine, showtime_id: str, now: int) -> ShowtimeFigures | None:
    """A showtime's figures with a breakdown per category and section; None if there is no such showtime.

    A hold counts as held while it lapses after ``now``.
    """
    async with engine.connect() as conn:
        rows = (await conn.execute(_ONE, {"showtime_id": showtime_id, "now": now})).all()
    return _figures(rows, breakdown=True)[0] if rows else None


async def all_showtime_figures(engine: AsyncEngine, now: int) -> list[ShowtimeFigures]:
    """Every showtime's headline figures, by start time, read in one statement."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_ALL, {"now": now})).all()
    return sorted(_figures(rows, breakdown=False), key=lambda figures: (figures.starts_at, figures.showtime_id))


async def read_sales_totals(engine: AsyncEngine) -> SalesTotals:
    """Every showtime's bookings by status, and their revenue per currency."""
    async with engine.connect() as conn:
        groups = await conn.execute(_SALES)
        return sales_totals((status, currency, count, cents) for status, currency, count, cents in groups)


def _figures(rows: list[Row[Any]], *, breakdown: bool) -> list[ShowtimeFigures]:
    """The figures of each showtime ``rows`` have groups of."""
    showtimes: dict[str, list[Row[Any]]] = {}
    for row in rows:
        showtimes.setdefault(row.id, []).append(row)
    return [_showtime(groups, breakdown) for groups in showtimes.values()]


def _showtime(groups: list[Row[Any]], breakdown: bool) -> ShowtimeFigures:
    first = groups[0]  # each group repeats the showtime's heading and its count of confirmed bookings
    return showtime_figures(
        first.id, first.title, first.starts_at, first.currency, int(first.seq),
        (_tally(row) for row in groups if row.seats), int(first.bookings), breakdown=breakdown,
    )  # fmt: skip


def _tally(row: Row[Any]) -> SeatTally:
    return SeatTally(
        booking_status=row.status,
        blocked=bool(row.blocked),
        live_hold=bool(row.live_hold),
        seats=row.seats,
        cents=int(row.cents),
        category=getattr(row, "category_id", ""),
        section=getattr(row, "section_id", ""),
    )


def _tallies(*, breakdown: bool) -> Select[Any]:
    """Seats of showtimes grouped by showtime and by the facts that decide their standing (and by category and
    section when ``breakdown``), with what their booking items cost and the showtime's confirmed bookings."""
    seat_code = layout_seat.c.code
    heading = (showtime.c.id, showtime.c.title, showtime.c.starts_at, showtime.c.currency, showtime.c.seq)
    parts = (layout_seat.c.category_id, layout_seat.c.section_id) if breakdown else ()
    blocked = seat_block.c.seat_code.is_not(None)
    live_hold = seat_hold.c.seat_code.is_not(None)
    confirmed = booking.alias("confirmed")
    bookings = (
        select(func.count())
        .where(confirmed.c.showtime_id == showtime.c.id, confirmed.c.status == CONFIRMED)
        .scalar_subquery()
    )
    seats = (
        # An outer join, so a showtime whose layout has no seat is still found (with a count of 0).
        showtime.outerjoin(layout_seat, layout_seat.c.layout_id == showtime.c.layout_id)
        .outerjoin(booking_seat, _same_seat(booking_seat))
        .outerjoin(booking, booking.c.id == booking_seat.c.booking_id)
        .outerjoin(booking_item, and_(booking_item.c.booking_id == booking.c.id, booking_item.c.seat_code == seat_code))
        .outerjoin(seat_block, _same_seat(seat_block))
        .outerjoin(seat_hold, and_(_same_seat(seat_hold), seat_hold.c.expires_at > bindparam("now")))
    )
    facts = (booking.c.status, blocked, live_hold)
    counted = (
        func.count(layout_seat.c.code).label("seats"),
        func.coalesce(func.sum(booking_item.c.price_cents), 0).label("cents"),
        bookings.label("bookings"),
    )
    labelled = (booking.c.status, blocked.label("blocked"), live_hold.label("live_hold"))
    return select(*heading, *parts, *labelled, *counted).select_from(seats).group_by(*heading, *parts, *facts)


def _same_seat(table: Any) -> Any:
    """The claim ``table`` (seat_hold, seat_block, booking_seat) has on the joined showtime's seat."""
    return and_(table.c.showtime_id == showtime.c.id, table.c.seat_code == layout_seat.c.code)


_ONE = _tallies(breakdown=True).where(showtime.c.id == bindparam("showtime_id"))
_ALL = _tallies(breakdown=False)
_SALES = select(
    booking.c.status, booking.c.currency, func.count(), func.coalesce(func.sum(booking.c.total_cents), 0)
).group_by(booking.c.status, booking.c.currency)
