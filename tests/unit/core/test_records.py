"""Records read back from storage: immutable values, equal when their content is."""

from __future__ import annotations

import dataclasses

import pytest

from server.core.bookings import BookingStatus
from server.core.records import BookingRecord, Snapshot, StatusView
from server.core.seats import Claim, SeatState


def test_records_are_equal_by_content() -> None:
    confirmed = BookingStatus.CONFIRMED
    first = BookingRecord("bk", "st", "s1", confirmed, {"A1": 1200}, "Ada", "ada@example.com", 1200, "EUR", 5)
    assert first == BookingRecord("bk", "st", "s1", confirmed, {"A1": 1200}, "Ada", "ada@example.com", 1200, "EUR", 5)
    assert first != BookingRecord("bk", "st", "s1", confirmed, {"A2": 1200}, "Ada", "ada@example.com", 1200, "EUR", 5)
    assert first.seat_ids == ["A1"]


def test_records_cannot_be_reassigned() -> None:
    snapshot = Snapshot(3, {"A1": Claim(SeatState.HELD, "s1", 9000)})
    view = StatusView("st", 3, [], ["A1"], {"A1": 9000}, 1000)
    for record, name in ((snapshot, "seq"), (view, "seq")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, name, 0)
