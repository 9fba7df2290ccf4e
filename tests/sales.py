"""A showtime's figures recounted from raw SQL.

:func:`recount` shares no code with the server's figures: plain SQL, one seat at a time, in the wire's shape.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["COUNTS", "recount"]

COUNTS = ("totalSeats", "available", "held", "pending", "booked", "blocked", "revenueCents", "pendingRevenueCents")


async def recount(engine: AsyncEngine, showtime_id: str, now: int) -> dict[str, Any]:
    """The figures of GET /api/admin/showtimes/{id}/stats (all but the showtime's id, title and start), counted
    seat by seat. Run it when nothing changes the showtime: its statements are not one snapshot."""
    where = {"id": showtime_id, "now": now}
    async with engine.connect() as conn:
        seq, currency = (await conn.execute(text("SELECT seq, currency FROM showtime WHERE id = :id"), where)).one()
        seats = (
            await conn.execute(
                text(
                    "SELECT code, category_id, section_id FROM layout_seat"
                    " WHERE layout_id = (SELECT layout_id FROM showtime WHERE id = :id)"
                ),
                where,
            )
        ).all()
        sold = {
            seat: (status, cents)
            for seat, status, cents in await conn.execute(
                text(
                    "SELECT bs.seat_code, b.status, i.price_cents FROM booking_seat bs"
                    " JOIN booking b ON b.id = bs.booking_id"
                    " JOIN booking_item i ON i.booking_id = bs.booking_id AND i.seat_code = bs.seat_code"
                    " WHERE bs.showtime_id = :id"
                ),
                where,
            )
        }
        blocked = set(
            (await conn.execute(text("SELECT seat_code FROM seat_block WHERE showtime_id = :id"), where)).scalars()
        )
        held = set(
            (
                await conn.execute(
                    text("SELECT seat_code FROM seat_hold WHERE showtime_id = :id AND expires_at > :now"), where
                )
            ).scalars()
        )
        bookings = (
            await conn.execute(
                text("SELECT COUNT(*) FROM booking WHERE showtime_id = :id AND status = 'confirmed'"), where
            )
        ).scalar_one()
    total: dict[str, int] = dict.fromkeys(COUNTS, 0)
    by_category: dict[str, dict[str, int]] = {}
    by_section: dict[str, dict[str, int]] = {}
    for code, category, section in seats:
        status, cents = sold.get(code, (None, 0))
        if status is not None:
            standing, money = ("pending", "pendingRevenueCents") if status == "pending" else ("booked", "revenueCents")
        else:
            standing = "blocked" if code in blocked else "held" if code in held else "available"
            money, cents = "revenueCents", 0
        for counts in (
            total,
            by_category.setdefault(category, dict.fromkeys(COUNTS, 0)),
            by_section.setdefault(section, dict.fromkeys(COUNTS, 0)),
        ):
            counts["totalSeats"] += 1
            counts[standing] += 1
            counts[money] += cents
    return total | {
        "currency": currency,
        "seq": int(seq),
        "bookings": bookings,
        "averageSeatsPerBooking": total["booked"] / bookings if bookings else 0,
        "byCategory": by_category,
        "bySection": by_section,
    }
