"""Sales figures: how many seats of a showtime are free, held, awaiting payment, sold and blocked, and the money.

The storage counts a showtime's seats by the facts about them (which category and section, the status of the
booking that has them, a block, a live hold) and what their booking items cost: a :class:`SeatTally` per group
of alike seats. Here each tally is given its standing and the tallies are summed, for the showtime and per
category and section. The storage compares holds with ``now``; nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "BOOKING_STATUSES",
    "CONFIRMED",
    "PENDING",
    "SalesTotals",
    "SeatCounts",
    "SeatStanding",
    "SeatTally",
    "ShowtimeFigures",
    "count_seats",
    "sales_totals",
    "showtime_figures",
]

# A booking's status (booking.status): pending (seats taken, awaiting payment), confirmed, cancelled, expired.
PENDING = "pending"
CONFIRMED = "confirmed"
BOOKING_STATUSES = (PENDING, CONFIRMED, "cancelled", "expired")


class SeatStanding(StrEnum):
    """What a seat counts as in the figures."""

    AVAILABLE = "available"
    HELD = "held"  # by a hold that has not lapsed
    PENDING = "pending"  # taken by a booking awaiting payment
    BOOKED = "booked"  # sold: taken by a confirmed booking
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class SeatTally:
    """``seats`` seats that share the facts below (and a category and section, when the figures are broken down
    by them), as the database counted them."""

    booking_status: str | None  # of the booking that has the seats (a pending or confirmed one), if any
    blocked: bool
    live_hold: bool  # held until later than now: a lapsed hold the sweeper has not released yet frees the seat
    seats: int = 1
    cents: int = 0  # what the booking's items price these seats at
    category: str = ""
    section: str = ""

    @property
    def standing(self) -> SeatStanding:
        # A sale outranks a block and a block a stray hold, as the claims the seat rules read (storage.store).
        if self.booking_status is not None:
            return SeatStanding.PENDING if self.booking_status == PENDING else SeatStanding.BOOKED
        if self.blocked:
            return SeatStanding.BLOCKED
        return SeatStanding.HELD if self.live_hold else SeatStanding.AVAILABLE


@dataclass(frozen=True, slots=True)
class SeatCounts:
    """Seats by standing, and the money: ``revenue_cents`` of confirmed bookings, ``pending_revenue_cents`` of
    bookings awaiting payment, each the sum of its seats' booking items."""

    total_seats: int = 0
    available: int = 0
    held: int = 0
    pending: int = 0
    booked: int = 0
    blocked: int = 0
    revenue_cents: int = 0
    pending_revenue_cents: int = 0

    def plus(self, tally: SeatTally) -> SeatCounts:
        standing = tally.standing
        return dataclasses.replace(
            self,
            total_seats=self.total_seats + tally.seats,
            # each standing is counted in the field of its name
            **{standing.value: getattr(self, standing.value) + tally.seats},
            revenue_cents=self.revenue_cents + (tally.cents if standing is SeatStanding.BOOKED else 0),
            pending_revenue_cents=self.pending_revenue_cents + (tally.cents if standing is SeatStanding.PENDING else 0),
        )


def count_seats(tallies: Iterable[SeatTally]) -> SeatCounts:
    counts = SeatCounts()
    for tally in tallies:
        counts = counts.plus(tally)
    return counts


@dataclass(frozen=True, slots=True)
class ShowtimeFigures:
    """A showtime's figures, all as of its change ``seq``."""

    showtime_id: str
    title: str
    starts_at: int
    currency: str
    seq: int
    counts: SeatCounts
    bookings: int  # confirmed ones
    by_category: Mapping[str, SeatCounts] = field(default_factory=dict)  # empty when not asked for
    by_section: Mapping[str, SeatCounts] = field(default_factory=dict)

    @property
    def average_seats_per_booking(self) -> float:
        """Seats sold per confirmed booking; 0 before the first."""
        return self.counts.booked / self.bookings if self.bookings else 0.0


def showtime_figures(
    showtime_id: str,
    title: str,
    starts_at: int,
    currency: str,
    seq: int,
    tallies: Iterable[SeatTally],
    bookings: int,
    *,
    breakdown: bool,
) -> ShowtimeFigures:
    """The figures from a showtime's tallies; per category and section too when ``breakdown``."""
    tallies = list(tallies)
    by_category: dict[str, list[SeatTally]] = {}
    by_section: dict[str, list[SeatTally]] = {}
    if breakdown:
        for tally in tallies:
            by_category.setdefault(tally.category, []).append(tally)
            by_section.setdefault(tally.section, []).append(tally)
    return ShowtimeFigures(
        showtime_id, title, starts_at, currency, seq, count_seats(tallies), bookings,
        {category: count_seats(group) for category, group in sorted(by_category.items())},
        {section: count_seats(group) for section, group in sorted(by_section.items())},
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class SalesTotals:
    """Every showtime's bookings together: how many there are of each status, and the revenue of the confirmed
    ones per currency."""

    bookings: Mapping[str, int]  # status -> bookings; every status is listed, 0 when there is none
    revenue_cents: Mapping[str, int]  # currency -> cents; every currency any booking is in


def sales_totals(groups: Iterable[tuple[str, str, int, int]]) -> SalesTotals:
    """Totals from ``(status, currency, bookings, total cents)`` groups of bookings."""
    bookings = dict.fromkeys(BOOKING_STATUSES, 0)
    revenue: dict[str, int] = {}
    for status, currency, count, cents in groups:
        bookings[status] = bookings.get(status, 0) + count
        revenue[currency] = revenue.get(currency, 0) + (cents if status == CONFIRMED else 0)
    return SalesTotals(bookings, dict(sorted(revenue.items())))
