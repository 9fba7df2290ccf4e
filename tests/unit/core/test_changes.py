"""What the service, storage, fan-out and bus pass each other: values, compared and hashed by content."""

from __future__ import annotations

import dataclasses

import pytest

from server.core.changes import Accepted, Change, Committed, Event
from server.core.errors import ErrorCode, Rejection
from server.core.origins import Channel, Origin, Source
from server.core.seats import Plan, SeatChange, SeatStatus


def event(seq: int) -> Event:
    return Event("st", seq, SeatChange("A1", SeatStatus.LOCKED, "s1", Origin.LOCK), 1000)


def test_events_are_values_so_a_repeated_delivery_is_recognised() -> None:
    assert event(1) == event(1)
    assert len({event(1), event(1), event(2)}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        event(1).seq = 2  # type: ignore[misc]


def test_a_change_books_nothing_and_a_commit_names_no_booking_unless_told() -> None:
    refuse = lambda claims, terms: Rejection(ErrorCode.SEAT_UNAVAILABLE, "taken")  # noqa: E731
    change = Change(("A1",), "s1", refuse, source=Source("s1", Channel.SOCKET))
    assert change.new_booking is None
    assert Committed(Plan("s1"), []).booking is None


def test_an_accepted_lock_carries_no_booking_fields() -> None:
    locked = Accepted("lock", "st", ("A1",), expires_at=5000)
    assert locked.booking is None
    assert locked == Accepted("lock", "st", ("A1",), expires_at=5000)
    assert locked != Accepted("lock", "st", ("A1",), expires_at=5001)
