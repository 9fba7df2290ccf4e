"""Rejections: immutable values whose codes are the protocol's own strings."""

from __future__ import annotations

import dataclasses

import pytest

from server.core.errors import ErrorCode, Rejection


def test_each_code_is_its_name_in_snake_case_on_the_wire() -> None:
    assert all(code.value == code.name.lower() for code in ErrorCode)
    assert ErrorCode("seat_unavailable") is ErrorCode.SEAT_UNAVAILABLE
    assert f"{ErrorCode.RATE_LIMITED}" == "rate_limited"  # formatted as the bare value, as messages need


def test_a_rejection_names_no_seats_and_no_retry_unless_told() -> None:
    plain = Rejection(ErrorCode.UNAUTHORIZED, "who are you")
    assert (plain.seats, plain.retry_after_ms) == ((), None)
    assert plain == Rejection(ErrorCode.UNAUTHORIZED, "who are you")
    assert plain != Rejection(ErrorCode.UNAUTHORIZED, "who are you", retry_after_ms=1)


def test_a_rejection_cannot_be_altered_once_made() -> None:
    rejection = Rejection(ErrorCode.SEAT_UNAVAILABLE, "taken", ("A1",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rejection.seats = ()  # type: ignore[misc]
