"""The admin API's bodies: what a request may hold, and the wire names of what is answered."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel, ValidationError

from server.admin_messages import (
    BlockRequest,
    Figures,
    LayoutView,
    NewShowtimeRequest,
    ShowtimeChanges,
    ShowtimeSetup,
)
from server.core.stats import SeatCounts, ShowtimeFigures
from server.core.venues import CategoryInfo
from server.service import ScheduledShowtime
from server.storage.venues import LayoutRecord, ShowtimeTerms

RECORD = LayoutRecord("lay_1", "v1", "Odeon", "h1", "Screen 1", 3, 120, [CategoryInfo("std", "Standard", "#fff")], 77)
M = TypeVar("M", bound=BaseModel)
NEW: dict[str, Any] = {"layoutId": "lay_1", "title": "Heat", "startsAt": 1000, "prices": {"std": 1200}}


def parse(model: type[M], body: dict[str, Any]) -> M:
    return model.model_validate_json(json.dumps(body), by_name=False)  # as the API reads bodies: wire names only


def test_a_new_showtime_takes_wire_names_and_defaults() -> None:
    new = parse(NewShowtimeRequest, NEW)
    assert (new.layout_id, new.title, new.starts_at, new.prices) == ("lay_1", "Heat", 1000, {"std": 1200})
    assert (new.currency, new.id, new.sales_open_at, new.sales_close_at) == ("EUR", None, None, None)
    snake_case = {"layout_id" if name == "layoutId" else name: value for name, value in NEW.items()}
    with pytest.raises(ValidationError, match="layoutId"):
        parse(NewShowtimeRequest, snake_case)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "x" * 201),
        ("title", "tab\there"),
        ("currency", "eur"),
        ("currency", "EURO"),
        ("startsAt", -1),
        ("startsAt", "1000"),  # strict: a string is not a number
        ("salesOpenAt", -5),
        ("prices", {"": 100}),
        ("prices", {"c" * 65: 100}),
        ("prices", {"std": "12"}),
        ("layoutId", ""),
        ("id", "x" * 65),
    ],
)
def test_a_new_showtime_refuses(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as refused:
        parse(NewShowtimeRequest, {**NEW, field: value})
    assert refused.value.errors()[0]["loc"][0] == field


def test_changes_tell_a_bound_sent_as_null_from_one_left_out() -> None:
    cleared = parse(ShowtimeChanges, {"salesOpenAt": None, "title": "Heat (4K)"})
    assert (cleared.sales_open_at, cleared.title, cleared.prices) == (None, "Heat (4K)", None)
    assert cleared.model_fields_set == {"sales_open_at", "title"}
    with pytest.raises(ValidationError):
        parse(ShowtimeChanges, {"currency": "usd"})


def test_a_block_request_defaults_its_reason_and_bounds_its_ids() -> None:
    empty = parse(BlockRequest, {})
    assert (empty.seat_ids, empty.table_ids, empty.reason) == ([], [], "blocked by the operator")
    given = parse(BlockRequest, {"seatIds": ["A1"], "tableIds": ["t1"], "reason": "camera"})
    assert (given.seat_ids, given.table_ids, given.reason) == (["A1"], ["t1"], "camera")
    for refused in ({"seatIds": ["A" * 17]}, {"tableIds": [""]}, {"reason": ""}, {"seatIds": "A1"}):
        with pytest.raises(ValidationError):
            parse(BlockRequest, refused)


def test_answers_are_made_of_records_under_wire_names() -> None:
    assert json.loads(LayoutView.of(RECORD).to_json()) == {
        "layoutId": "lay_1", "venueId": "v1", "venueName": "Odeon", "hallId": "h1", "hallName": "Screen 1",
        "version": 3, "seatCount": 120, "categories": [{"id": "std", "name": "Standard"}], "createdAt": 77,
    }  # fmt: skip
    terms = ShowtimeTerms("lay_1", "Heat", 1000, "GBP", {"std": 900}, None, 999)
    assert json.loads(ShowtimeSetup.of(ScheduledShowtime("st_1", terms, RECORD)).to_json()) == {
        "id": "st_1", "layoutId": "lay_1", "venue": "Odeon", "hall": "Screen 1", "title": "Heat",
        "startsAt": 1000, "currency": "GBP", "prices": {"std": 900}, "salesCloseAt": 999,
    }  # fmt: skip


def test_figures_on_the_socket_are_the_stats_under_their_type_first() -> None:
    counts = SeatCounts(total_seats=10, available=7, held=1, booked=2, revenue_cents=3000)
    figures = ShowtimeFigures("st", "Hamlet", 5, "EUR", 12, counts, 1, {"standard": counts}, {"stalls": counts})
    body = json.loads(Figures.of(figures).model_copy(update={"request_id": "r1"}).to_json())
    assert list(body)[:4] == ["requestId", "type", "showtimeId", "title"]
    assert (body["type"], body["seq"], body["held"], body["revenueCents"]) == ("figures", 12, 1, 3000)
    assert (body["bookings"], body["averageSeatsPerBooking"]) == (1, 2.0)
    assert body["byCategory"]["standard"]["available"] == 7
    assert "requestId" not in json.loads(Figures.of(figures).to_json())  # a pushed update answers no request
