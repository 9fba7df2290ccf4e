"""What the service reads back about showtimes, seats and bookings: plain records, no wire format."""

from __future__ import annotations

from dataclasses import dataclass

from server.core.seats import Claim

__all__ = [
    "BookingRecord",
    "CategoryRecord",
    "SeatRecord",
    "ShowtimeRecord",
    "ShowtimeSeats",
    "Snapshot",
    "StatusView",
]


@dataclass(frozen=True, slots=True)
class ShowtimeRecord:
    id: str
    title: str
    starts_at: int
    currency: str
    venue: str
    auditorium: str
    seat_count: int


@dataclass(frozen=True, slots=True)
class CategoryRecord:
    id: str
    name: str
    price_cents: int


@dataclass(frozen=True, slots=True)
class SeatRecord:
    code: str
    row_label: str
    number: int
    x: int
    y: int
    category_id: str


@dataclass(frozen=True, slots=True)
class ShowtimeSeats:
    """A showtime with its price categories and seats, the seats in grid order."""

    showtime: ShowtimeRecord
    categories: list[CategoryRecord]
    seats: list[SeatRecord]


@dataclass(frozen=True, slots=True)
class BookingRecord:
    id: str
    showtime_id: str
    session_id: str
    seat_ids: list[str]
    customer_name: str
    customer_email: str
    total_cents: int
    currency: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every claim on a showtime and the ``seq`` they are current at."""

    seq: int
    claims: dict[str, Claim]


@dataclass(frozen=True, slots=True)
class StatusView:
    """A showtime's seats as one session sees them at ``seq``: sold, held (by anyone) and its own holds."""

    showtime_id: str
    seq: int
    booked: list[str]
    held: list[str]
    mine: dict[str, int]  # this session's holds and when each lapses
    at: int
    lapses_at: int | None = None  # when the first hold in `held` lapses: the view is true until then or the next change
