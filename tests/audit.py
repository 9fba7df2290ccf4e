"""The database audited after a race, from its tables alone: no seat claimed twice, every booking's seats as its
status says, every move logged in order with its time, and (when webhooks are configured) told to the shop once."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.bookings import BookingStatus, legal
from server.storage.tables import booking, booking_item, booking_seat, booking_transition, seat_hold, webhook_event

__all__ = ["Audited", "audit"]

TAKING = {"pending", "confirmed"}
STAMPS = {"confirmed": "confirmed_at", "cancelled": "cancelled_at", "expired": "expired_at"}


@dataclass
class Audited:
    """What the audit read: each booking's status and logged statuses, and the seats claimed."""

    statuses: dict[str, str] = field(default_factory=dict)  # booking -> status
    histories: dict[str, list[str]] = field(default_factory=dict)  # booking -> the statuses of its transitions
    events: dict[str, list[str]] = field(default_factory=dict)  # booking -> its webhook events' types, in order
    sold: dict[str, str] = field(default_factory=dict)  # seat -> booking
    held: dict[str, str] = field(default_factory=dict)  # seat -> session


async def audit(engine: AsyncEngine, showtime_id: str, *, webhooks: bool) -> Audited:
    async with engine.connect() as conn:
        bookings = (await conn.execute(select(booking).where(booking.c.showtime_id == showtime_id))).all()
        ids = [row.id for row in bookings]
        items = await _grouped(conn, select(booking_item).where(booking_item.c.booking_id.in_(ids)))
        logs = await _grouped(
            conn, select(booking_transition).where(booking_transition.c.booking_id.in_(ids)), "position"
        )
        events = await _grouped(conn, select(webhook_event).where(webhook_event.c.booking_id.in_(ids)), "position")
        claims = (await conn.execute(select(booking_seat).where(booking_seat.c.showtime_id == showtime_id))).all()
        holds = (await conn.execute(select(seat_hold).where(seat_hold.c.showtime_id == showtime_id))).all()
    sold_twice = [seat for seat, n in Counter(row.seat_code for row in claims).items() if n > 1]
    assert not sold_twice, f"claimed twice: {sold_twice}"
    found = Audited(
        sold={row.seat_code: row.booking_id for row in claims}, held={row.seat_code: row.session_id for row in holds}
    )
    assert not found.sold.keys() & found.held.keys(), f"held and sold at once: {found.sold.keys() & found.held.keys()}"
    for row in bookings:
        seats = {item.seat_code for item in items[row.id]}
        assert seats, f"{row.id} has no items"
        assert row.total_cents == sum(item.price_cents for item in items[row.id]), row.id
        claimed = {seat for seat, owner in found.sold.items() if owner == row.id}
        assert claimed == (seats if row.status in TAKING else set()), f"{row.id} is {row.status}, claims {claimed}"
        _check_history(row, logs[row.id])
        found.statuses[row.id] = row.status
        found.histories[row.id] = [t.status for t in logs[row.id]]
        found.events[row.id] = [e.type for e in events[row.id]]
        if webhooks:
            told = [(e.position, e.type) for e in events[row.id]]
            assert told == _expected_events(logs[row.id]), f"{row.id} told {told}"
    assert set(found.sold.values()) <= set(ids)
    return found


def _check_history(row: Any, log: list[Any]) -> None:
    """Positions 1, 2, ...; legal moves; the last is the status; each status' time is when it was last reached."""
    assert [t.position for t in log] == list(range(1, len(log) + 1)), f"{row.id}: positions {log}"
    statuses = [BookingStatus(t.status) for t in log]
    assert statuses[0] in (BookingStatus.PENDING, BookingStatus.CONFIRMED), row.id
    assert all(legal(before, after) for before, after in pairwise(statuses)), statuses
    assert statuses[-1] == row.status, f"{row.id} is {row.status} after {statuses}"
    assert (row.payment_due_at is not None) == (statuses[0] is BookingStatus.PENDING), row.id
    assert row.created_at == log[0].at
    reached: dict[str, int] = {}
    for before, transition in zip([None, *statuses], log, strict=False):
        if transition.status != before:
            reached[transition.status] = transition.at
    for status, column in STAMPS.items():
        assert getattr(row, column) == reached.get(status), f"{row.id}: {column} {getattr(row, column)} vs {reached}"


def _expected_events(log: list[Any]) -> list[tuple[int, str]]:
    """One event per transition: reaching a status, or a late payment where the status stayed."""
    statuses = [None, *(t.status for t in log)]
    return [
        (t.position, "booking.late_payment" if t.status == before else f"booking.{t.status}")
        for before, t in zip(statuses, log, strict=False)
    ]


async def _grouped(conn: Any, query: Any, order: str | None = None) -> defaultdict[str, list[Any]]:
    grouped: defaultdict[str, list[Any]] = defaultdict(list)
    rows = (await conn.execute(query)).all()
    for row in sorted(rows, key=lambda r: getattr(r, order)) if order else rows:
        grouped[row.booking_id].append(row)
    return grouped
