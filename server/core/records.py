"""What the service reads back about showtimes, seats and bookings: plain records, no wire format."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.core.bookings import BookingStatus
from server.core.seats import Claim
from server.core.venues import HallLayout

__all__ = [
    "BookingRecord",
    "BookingSearch",
    "SeatMap",
    "ShowtimeDetails",
    "ShowtimeRecord",
    "Snapshot",
    "StatusView",
    "TermsKey",
    "TransitionRecord",
    "terms_key",
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


# What an operator may change of a showtime, as one comparable value: title, start, currency, prices, sales window.
TermsKey = tuple[str, int, str, tuple[tuple[str, int], ...], int | None, int | None]


def terms_key(
    title: str,
    starts_at: int,
    currency: str,
    prices: dict[str, int],
    sales_open_at: int | None,
    sales_close_at: int | None,
) -> TermsKey:
    return title, starts_at, currency, tuple(sorted(prices.items())), sales_open_at, sales_close_at


@dataclass(frozen=True, slots=True)
class ShowtimeDetails:
    """A showtime with the layout version it was created on and its current terms."""

    showtime: ShowtimeRecord
    layout_id: str
    hall: HallLayout
    prices: dict[str, int]  # category id -> cents
    sales_open_at: int | None = None
    sales_close_at: int | None = None

    @property
    def terms(self) -> TermsKey:
        show = self.showtime
        return terms_key(
            show.title, show.starts_at, show.currency, self.prices, self.sales_open_at, self.sales_close_at
        )


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """A logged move of a booking: its place in the history, the status it led to, who made it and why."""

    position: int
    status: BookingStatus
    actor: str
    at: int
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class BookingRecord:
    """A booking as stored: its seats at the prices they sold at (kept whatever its status), and its history."""

    id: str
    showtime_id: str
    session_id: str
    status: BookingStatus
    items: dict[str, int]  # seat -> price in cents, by seat id
    customer_name: str
    customer_email: str
    total_cents: int
    currency: str
    created_at: int
    customer_phone: str | None = None
    notes: str | None = None
    order_reference: str | None = None  # the shop's own
    payment_due_at: int | None = None  # pending bookings
    payment_reference: str | None = None
    payment_provider: str | None = None
    cancel_reason: str | None = None
    confirmed_at: int | None = None
    cancelled_at: int | None = None
    expired_at: int | None = None
    transitions: tuple[TransitionRecord, ...] = ()

    @property
    def seat_ids(self) -> list[str]:
        return list(self.items)


@dataclass(frozen=True, slots=True)
class BookingSearch:
    """Which bookings the operator is after: those matching every criterion given (None: any)."""

    showtime_id: str | None = None
    status: BookingStatus | None = None
    order_reference: str | None = None
    email: str | None = None


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
    blocked: list[str] = field(default_factory=list)
    lapses_at: int | None = None  # when the first hold in `held` lapses: the view is true until then or the next change
    claims: dict[str, Claim] = field(
        default_factory=dict, compare=False, repr=False
    )  # built from: live holds, sales and blocks


@dataclass(frozen=True, slots=True)
class SeatMap:
    """A showtime's layout with each seat's status."""

    details: ShowtimeDetails
    status: StatusView
