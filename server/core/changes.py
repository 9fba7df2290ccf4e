"""What the service asks of storage and what it gets back: requests to decide, and committed changes.

Plain data shared by the service, storage, fan-out and bus; the rules that decide are in ``seats``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from server.core.errors import Rejection
from server.core.origins import Source
from server.core.records import BookingRecord
from server.core.seats import Claim, Plan, SaleTerms, SeatChange

__all__ = [
    "Accepted",
    "BookingChange",
    "BookingRule",
    "Change",
    "Committed",
    "Customer",
    "Event",
    "NewBooking",
    "Notice",
    "RenderNotice",
    "Rule",
    "Selection",
]

# A seat rule with everything bound but what it decides on: the claims and the showtime's current terms.
Rule = Callable[[Mapping[str, Claim], SaleTerms], Rejection | Plan]
# A checkout rule likewise: it decides on the claims on the booking's seats and the booking (None: not found).
BookingRule = Callable[[Mapping[str, Claim], BookingRecord | None], Rejection | Plan]


@dataclass(frozen=True, slots=True)
class Customer:
    name: str
    email: str
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class NewBooking:
    """What a booking carries besides its seats: who buys, whether payment follows, and the shop's notes."""

    customer: Customer
    pending: bool = False  # a pending booking, confirmed once paid, instead of a confirmed one at once
    notes: str | None = None
    order_reference: str | None = None  # the shop's own


@dataclass(frozen=True, slots=True)
class Change:
    """One request to decide: the seats it names, whose holds matter, the bound rule, and booking details;
    ``source``: who asked and how, for the seats' history."""

    seats: tuple[str, ...]
    holder: str
    rule: Rule
    new_booking: NewBooking | None = None
    source: Source = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class BookingChange:
    """A request to move a booking on (confirm, cancel): the booking, read again in the transaction that decides,
    its seats (whose claims the rule needs), and the bound rule."""

    booking_id: str
    seats: tuple[str, ...]
    rule: BookingRule
    source: Source


@dataclass(frozen=True, slots=True)
class Event:
    """A committed seat change with its place in the showtime's sequence."""

    showtime_id: str
    seq: int
    change: SeatChange
    at: int


@dataclass(frozen=True, slots=True)
class Notice:
    """What a webhook tells the shop, written to the outbox in the transaction of the change it reports.

    ``booking`` is the booking as the change left it (booking events); ``seats`` and ``reason`` are the seats a
    seat event is about. ``position`` orders a booking's events: its transition's place in its history (0 for
    seat events).
    """

    type: str  # booking.pending, booking.confirmed, ..., seat.blocked, seat.unblocked
    showtime_id: str
    at: int
    booking: BookingRecord | None = None
    position: int = 0
    seats: tuple[str, ...] = ()
    reason: str | None = None


# Turns a notice and its event id into the exact JSON body that is signed and sent.
RenderNotice = Callable[[str, Notice], str]


@dataclass(frozen=True, slots=True)
class Committed:
    """An accepted change once its transaction committed: the plan carried out and the events it logged."""

    plan: Plan
    events: list[Event]
    booking: BookingRecord | None = None  # the booking it made or moved on, as it left it


@dataclass(frozen=True, slots=True)
class Accepted:
    """What an accepted lock, unlock or book did, as its requester is told."""

    action: Literal["lock", "extend", "unlock", "book", "block", "unblock"]
    showtime_id: str
    seat_ids: tuple[str, ...]
    expires_at: int | None = None  # lock, extend: when the first of the holds lapses
    booking: BookingRecord | None = None  # book: the booking made, pending or confirmed
    seq: int | None = None  # the last change it caused (its ack must not overtake it); None if it changed nothing


@dataclass(frozen=True, slots=True)
class Selection:
    """The seats a request names: seat ids, and tables standing for all their seats."""

    seat_ids: Sequence[str] = ()
    table_ids: Sequence[str] = ()
