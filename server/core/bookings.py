"""A booking's statuses, the moves between them, and one move as decided (a :class:`Transition`).

::

    book ─▶ pending ──confirm──▶ confirmed ──cancel (the shop: a refund)──▶ cancelled
    book ───────────────────────▶ confirmed
            pending ──cancel (the buyer or the shop)──▶ cancelled ─┐
            pending ──paymentDueAt passed──▶ expired ──────────────┤
                                   confirmed ◀── confirm, every seat still free ─┘

A confirm of a cancelled or expired booking whose seats are gone keeps its status: the payment is recorded
as late (the shop must refund it). The rules that decide each move are in ``server.core.checkout``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["MOVES", "BookingEvent", "BookingStatus", "Transition", "legal"]


class BookingStatus(StrEnum):
    PENDING = "pending"  # seats taken, awaiting payment until paymentDueAt
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def takes_seats(self) -> bool:
        """Whether a booking in this status holds its seats (has its ``booking_seat`` rows)."""
        return self in (BookingStatus.PENDING, BookingStatus.CONFIRMED)


class BookingEvent(StrEnum):
    """What a move tells the shop: the webhook event's type."""

    PENDING = "booking.pending"
    CONFIRMED = "booking.confirmed"
    CANCELLED = "booking.cancelled"
    EXPIRED = "booking.expired"
    LATE_PAYMENT = "booking.late_payment"  # paid after it was cancelled or expired, its seats gone: refund it


# The status a booking may move to from each; a late payment "moves" a finished booking to where it is.
MOVES: Mapping[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.PENDING: frozenset({BookingStatus.CONFIRMED, BookingStatus.CANCELLED, BookingStatus.EXPIRED}),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.CANCELLED}),
    BookingStatus.CANCELLED: frozenset({BookingStatus.CONFIRMED, BookingStatus.CANCELLED}),
    BookingStatus.EXPIRED: frozenset({BookingStatus.CONFIRMED, BookingStatus.EXPIRED}),
}


def legal(before: BookingStatus, after: BookingStatus) -> bool:
    return after in MOVES[before]


@dataclass(frozen=True, slots=True)
class Transition:
    """One move of a booking, as decided: logged at ``position`` of its history, told to the shop as ``event``.

    ``take`` and ``free`` say what becomes of its seats' claims (``booking_seat``): claimed again (a late payment
    honoured) or let go (cancelled, expired). A confirm of a pending booking keeps the claims it has.
    """

    booking_id: str
    session_id: str  # the booking's: its seats' claims and announcements name it
    seats: tuple[str, ...]  # all of the booking's seats
    status: BookingStatus  # after the move
    event: BookingEvent
    position: int  # 1 for the booking's first status; each move the next
    actor: str  # a session id, ``admin``, or ``system`` (payment expiry)
    at: int
    detail: str | None = None
    take: bool = False
    free: bool = False
    payment_reference: str | None = None  # confirm and late payment: the payment to keep, or to refund
    payment_provider: str | None = None
    cancel_reason: str | None = None
