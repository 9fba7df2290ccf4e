"""pretix seating plans load unchanged: zones as sections, seat_guid as the seat id, positions nested; what the
server cannot take is refused with the path of the offending element."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from server.core.venues import HallLayout
from server.layout_file import LayoutError, dump_layout, load_layout
from server.pretix import load_pretix_plan

PLAN = Path(__file__).resolve().parents[2] / "examples" / "layouts" / "pretix-kleiner-saal.json"


def plan() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(PLAN.read_text())
    return document


def load(document: object, max_seats: int = 10_000) -> HallLayout:
    layout = load_pretix_plan(document, max_seats=max_seats)
    assert isinstance(layout, HallLayout), layout
    return layout


def errors(document: object, max_seats: int = 10_000) -> list[str]:
    result = load_pretix_plan(document, max_seats=max_seats)
    assert isinstance(result, list), "the plan was accepted"
    assert all(isinstance(error, LayoutError) for error in result)
    return [str(error) for error in result]


def test_the_example_plan_loads_with_zones_as_sections_and_guids_as_ids() -> None:
    layout = load(PLAN.read_text())
    assert [(s.id, s.name, len(s.rows)) for s in layout.sections] == [("parkett", "Parkett", 4), ("loge", "Loge", 1)]
    assert [(c.id, c.name, c.color) for c in layout.categories] == [
        ("Parkett", "Parkett", "#3b7dd8"),
        ("Loge", "Loge", "#d8873b"),
    ]
    seats = {seat.id: seat for seat in layout.seats()}
    assert len(seats) == 44
    expected = {
        (zone["zone_id"], row["row_number"], seat["seat_number"]): seat["seat_guid"]
        for zone in plan()["zones"]
        for row in zone["rows"]
        for seat in row["seats"]
    }
    actual = {(s.id, r.label, seat.label): seat.id for s in layout.sections for r in s.rows for seat in r.seats}
    assert actual == expected


def test_positions_nest_zone_row_seat() -> None:
    document = plan()
    zone = document["zones"][1]
    row = zone["rows"][2]
    seat = row["seats"][7]
    seat_of = {seat.id: seat for seat in load(document).seats()}[seat["seat_guid"]]
    assert (seat_of.x, seat_of.y) == (
        zone["position"]["x"] + row["position"]["x"] + seat["position"]["x"],
        zone["position"]["y"] + row["position"]["y"] + seat["position"]["y"],
    )
    zone["position"] = {"x": 1000, "y": 0}
    assert {seat.id: seat for seat in load(document).seats()}[seat["seat_guid"]].x == seat_of.x + 1000 - 150


def test_areas_become_shapes_with_absolute_positions() -> None:
    shapes = load(plan()).shapes
    assert [shape.kind for shape in shapes] == ["rectangle", "polygon", "circle", "text", "polygon"]
    stage, ramp, pillar, entrance, ellipse = shapes
    assert (stage.x, stage.y, stage.width, stage.height, stage.text) == (150, 20, 300, 60, "Bühne")
    assert [(p.x, p.y) for p in ramp.points] == [(450, 20), (490, 80), (450, 80)]
    assert (pillar.x, pillar.y, pillar.radius) == (300, 300, 10)
    assert (entrance.x, entrance.y, entrance.text) == (150, 340, "Eingang")
    xs, ys = [p.x for p in ellipse.points], [p.y for p in ellipse.points]
    assert (min(xs), max(xs), min(ys), max(ys)) == pytest.approx((15, 65, 115, 255))


def test_a_rotated_polygon_is_turned_around_its_position() -> None:
    document = plan()
    document["zones"][0]["areas"][1]["rotation"] = 90
    ramp = load(document).shapes[1]
    assert [(round(p.x, 6), round(p.y, 6)) for p in ramp.points] == [(450, 20), (390, 60), (390, 20)]
    assert ramp.rotation is None


def test_a_plan_written_natively_reads_back_the_same() -> None:
    layout = load(plan())
    again = load_layout(json.dumps(dump_layout(layout)), max_seats=10_000)
    assert again == layout


def test_a_row_without_a_position_and_unknown_fields_are_taken() -> None:
    document = plan()
    del document["zones"][2]["rows"][0]["position"]
    document["zones"][2]["rows"][0]["a_future_pretix_field"] = True
    assert len(load(document).seats()) == 44


def with_(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(plan())
    change(document)
    return document


ERROR_CASES = [
    ("seats in a zone", with_(lambda d: d["zones"][1].update(seats=[{"seat_guid": "x"}])), "zones[1].seats: seats outside any row: put each seat in a row"),
    ("seats in the plan", with_(lambda d: d.update(seats=[])), "seats: seats outside any row: put each seat in a row of a zone"),
    ("unknown category", with_(lambda d: d["zones"][2]["rows"][0]["seats"][3].update(category="Balkon")), "zones[2].rows[0].seats[3].category: unknown category 'Balkon'"),
    ("duplicate guid", with_(lambda d: d["zones"][1]["rows"][1]["seats"][0].update(seat_guid="parkett-1-1")), "zones[1].rows[1].seats[0]: duplicate seat id parkett-1-1 (first at zones[1].rows[0].seats[0])"),
    ("missing position", with_(lambda d: d["zones"][1]["rows"][0]["seats"][0].pop("position")), "zones[1].rows[0].seats[0].position: Field required"),
    ("no seat", with_(lambda d: d.update(zones=d["zones"][:1])), "zones: the plan has no seat"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "bad", "expected"), ERROR_CASES, ids=[case for case, _, _ in ERROR_CASES])
def test_a_plan_the_server_cannot_take_gets_errors_naming_where(case: str, bad: dict[str, Any], expected: str) -> None:
    assert expected in errors(bad)


def test_a_plan_over_the_seat_limit_is_refused() -> None:
    assert errors(plan(), max_seats=40) == ["the layout has 44 seats, more than the limit of 40"]
