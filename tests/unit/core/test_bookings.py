"""A booking's statuses and the moves between them, as the module's diagram draws them."""

from __future__ import annotations

from server.core.bookings import MOVES, BookingStatus, legal

PENDING, CONFIRMED, CANCELLED, EXPIRED = BookingStatus


def test_only_pending_and_confirmed_bookings_hold_their_seats() -> None:
    assert {status for status in BookingStatus if status.takes_seats} == {PENDING, CONFIRMED}


def test_the_moves_are_the_diagrams() -> None:
    assert {(before, after) for before in BookingStatus for after in BookingStatus if legal(before, after)} == {
        (PENDING, CONFIRMED), (PENDING, CANCELLED), (PENDING, EXPIRED),
        (CONFIRMED, CANCELLED),  # a refund
        (CANCELLED, CONFIRMED), (EXPIRED, CONFIRMED),  # a late payment honoured: every seat still free
        (CANCELLED, CANCELLED), (EXPIRED, EXPIRED),  # a late payment refused: recorded, the status kept
    }  # fmt: skip
    assert set(MOVES) == set(BookingStatus)


def test_nothing_goes_back_to_pending() -> None:
    assert not any(legal(before, PENDING) for before in BookingStatus)
