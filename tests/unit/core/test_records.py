"""Records read back from storage: immutable values, equal when their content is."""

from __future__ import annotations

import dataclasses

import pytest

from server.core.records import CategoryRecord, SeatRecord, Snapshot, StatusView
from server.core.seats import Claim, SeatState


def test_records_are_equal_by_content() -> None:
    assert SeatRecord("A1", "A", 1, 0, 0, "cat") == SeatRecord("A1", "A", 1, 0, 0, "cat")
    assert SeatRecord("A1", "A", 1, 0, 0, "cat") != SeatRecord("A1", "A", 1, 1, 0, "cat")
    assert CategoryRecord("cat", "Standard", 1200) in {CategoryRecord("cat", "Standard", 1200)}


def test_records_cannot_be_reassigned() -> None:
    snapshot = Snapshot(3, {"A1": Claim(SeatState.HELD, "s1", 9000)})
    view = StatusView("st", 3, [], ["A1"], {"A1": 9000}, 1000)
    for record, name in ((snapshot, "seq"), (view, "seq"), (CategoryRecord("c", "n", 1), "price_cents")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, name, 0)
