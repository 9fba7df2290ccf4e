"""The layout file: the examples read as the halls they describe, compact rows expand as documented,
a layout written back reads the same, and every bad document gets errors naming where, never an exception."""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.venues import HallLayout, SeatFlag, SeatPlace
from server.layout_file import LayoutError, dump_layout, layout_json_schema, load_layout
from server.storage.seed import row_label
from tests.hypothesis_output import restore_hypothesis_reports

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "layouts"
NATIVE = sorted(path.name for path in EXAMPLES.glob("*.json") if not path.name.startswith("pretix"))
LIMIT = 10_000


def load(document: object, max_seats: int = LIMIT) -> HallLayout:
    layout = load_layout(document, max_seats=max_seats)
    assert isinstance(layout, HallLayout), layout
    return layout


def errors(document: object, max_seats: int = LIMIT) -> list[str]:
    result = load_layout(document, max_seats=max_seats)
    assert isinstance(result, list), "the document was accepted"
    assert all(isinstance(error, LayoutError) for error in result)
    return [str(error) for error in result]


def example(name: str) -> HallLayout:
    return load((EXAMPLES / name).read_text())


def by_id(layout: HallLayout) -> dict[str, SeatPlace]:
    return {seat.id: seat for seat in layout.seats()}


# --- The examples -------------------------------------------------------------------------------------------


def test_there_are_four_native_examples() -> None:
    assert NATIVE == ["banquet-hall.json", "coach.json", "demo-cinema.json", "theatre.json"]


def test_the_demo_cinema_has_the_demo_seat_ids_and_categories() -> None:
    layout = example("demo-cinema.json")
    category_names = {category.id: category.name for category in layout.categories}
    expected = {}
    for row in range(10):
        category = "Front" if row < 2 else "Premium" if row in range(5, 8) else "Standard"
        for number in range(1, 15):
            x = number - 1 + sum(1 for aisle in (3, 11) if number > aisle)  # an aisle after seats 3 and 11
            expected[f"{row_label(row)}{number}"] = (row_label(row), str(number), x, row, category)
    actual = {
        seat.id: (row.label, seat.label, seat.x, seat.y, category_names[seat.category_id])
        for section in layout.sections
        for row in section.rows
        for seat in row.seats
    }
    assert actual == expected
    assert "F12" in actual


def test_the_theatre_has_420_places_as_described() -> None:
    layout = example("theatre.json")
    assert len(layout.seats()) == len(by_id(layout)) == 420
    counts = {section.name: sum(len(row.seats) for row in section.rows) for section in layout.sections}
    assert counts == {"Stalls": 300, "Balcony": 104, "Box 1": 4, "Box 2": 4, "Box 3": 4, "Box 4": 4}
    stalls, balcony = layout.sections[0], layout.sections[1]
    assert [row.label for row in stalls.rows] == list("ABCDEFGHIJKLMN")
    assert [row.label for row in balcony.rows] == ["AA", "BB", "CC", "DD", "EE", "FF"]
    assert "BALC-AA-3" in by_id(layout)
    boxes = [table for table in layout.tables if table.sold_as_whole]
    assert len(boxes) == len(layout.tables) == 4
    assert all(len(box.seat_ids) == 4 and set(box.seat_ids) <= by_id(layout).keys() for box in boxes)
    assert dict(layout.blocked) == {"L1": "pillar: no view of the stage", "L24": "pillar: no view of the stage"}


def test_the_theatre_stalls_are_curved_around_the_stage_with_a_centre_aisle() -> None:
    layout = example("theatre.json")
    assert layout.focus is not None
    for row in layout.sections[0].rows:
        first, last, middle = row.seats[0], row.seats[-1], row.seats[len(row.seats) // 2]
        assert first.y < middle.y
        assert last.y < middle.y
        assert first.rotation is not None
        assert first.rotation > 0
        assert last.rotation is not None
        assert last.rotation < 0
        steps = [math.dist((a.x, a.y), (b.x, b.y)) for a, b in zip(row.seats, row.seats[1:], strict=False)]
        widest = max(range(len(steps)), key=steps.__getitem__)
        assert widest == len(row.seats) // 2 - 1
        assert steps[widest] > 2 * min(steps)


def test_the_theatre_has_six_wheelchair_spaces_each_next_to_a_companion_seat() -> None:
    layout = example("theatre.json")
    accessible = [s for s in layout.seats() if SeatFlag.ACCESSIBLE in s.flags]
    companions = {s.id for s in layout.seats() if SeatFlag.COMPANION in s.flags}
    assert len(accessible) == len(companions) == 6
    for seat in accessible:
        row = seat.id[0]
        neighbours = {f"{row}{int(seat.label) - 1}", f"{row}{int(seat.label) + 1}"}
        assert neighbours & companions, seat.id


def test_the_coach_has_49_numbered_seats_two_and_two_and_a_driver() -> None:
    layout = example("coach.json")
    seats = layout.seats()
    assert [seat.id for seat in seats] == [str(number) for number in range(1, 50)]
    rows = layout.sections[0].rows
    assert [len(row.seats) for row in rows] == [4] * 11 + [5]
    for row in rows[:-1]:
        xs = [seat.x for seat in row.seats]
        gaps = [b - a for a, b in itertools.pairwise(xs)]
        assert gaps[1] > gaps[0] == gaps[2]  # the aisle between the second and third seat
    assert any(shape.text == "Driver" for shape in layout.shapes)


def test_the_banquet_hall_has_twelve_round_tables_of_eight() -> None:
    layout = example("banquet-hall.json")
    seats = by_id(layout)
    assert len(layout.tables) == 12
    assert len(seats) == 96
    for table in layout.tables:
        assert table.shape is not None
        assert table.shape.kind == "circle"
        distances = {
            round(math.dist((seats[s].x, seats[s].y), (table.shape.x, table.shape.y)), 3) for s in table.seat_ids
        }
        assert len(table.seat_ids) == 8
        assert distances == {1.1}
    assert [table.id for table in layout.tables if table.sold_as_whole] == ["T1", "T2", "T3", "T4"]


@pytest.mark.parametrize("name", NATIVE)
def test_an_example_reads_back_the_same_once_written(name: str) -> None:
    layout = example(name)
    document = dump_layout(layout)
    again = load(json.loads(json.dumps(document)))
    assert again == layout
    assert dump_layout(again) == document


@pytest.mark.parametrize("name", NATIVE)
def test_an_example_and_its_written_form_follow_the_json_schema(name: str) -> None:
    validator = jsonschema_rs.validator_for(layout_json_schema())
    document = json.loads((EXAMPLES / name).read_text())
    assert validator.is_valid(document)
    assert validator.is_valid(dump_layout(load(document)))
    assert not validator.is_valid({**document, "sectons": []})


def test_the_documented_examples_load() -> None:
    blocks = re.findall(r"```json\n(.*?)\n```", (ROOT / "docs" / "layouts.md").read_text(), re.DOTALL)
    documents = [json.loads(block) for block in blocks if block.startswith("{")]
    layouts = [load(document) for document in documents if "categories" in document]
    assert layouts


# --- Compact rows -------------------------------------------------------------------------------------------


def document(*rows: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "categories": [{"id": "std", "name": "Standard"}, {"id": "vip", "name": "VIP"}],
        "sections": [{"id": "main", "name": "Stalls", "category": "std", "rows": list(rows)}],
        **top,
    }


def row(label: str = "A", first: int = 1, last: int = 10, **fields: Any) -> dict[str, Any]:
    return {"label": label, "from": first, "to": last, "start": {"x": 0, "y": 0}, "spacing": 1, **fields}


def test_a_straight_row_counts_from_start_with_gaps_overrides_and_patterns() -> None:
    layout = load(
        document(
            row(gapsAfter={"3": 0.5}, overrides={"7": {"flags": ["accessible"], "category": "vip"}}),
            row("B", 5, 1, start={"x": 0, "y": 1}, idPattern="{section}-{row}-{seat}"),
        )
    )
    a, b = layout.sections[0].rows
    assert [(s.id, s.x, s.y) for s in a.seats[:5]] == [
        ("A1", 0, 0),
        ("A2", 1, 0),
        ("A3", 2, 0),
        ("A4", 3.5, 0),
        ("A5", 4.5, 0),
    ]
    assert a.seats[6].flags == {SeatFlag.ACCESSIBLE}
    assert a.seats[6].category_id == "vip"
    assert {s.category_id for s in a.seats[:6]} == {"std"}
    assert all(s.rotation is None for s in a.seats)
    assert [s.id for s in b.seats] == ["main-B-5", "main-B-4", "main-B-3", "main-B-2", "main-B-1"]


def test_a_row_at_an_angle_faces_across_it() -> None:
    layout = load(document(row(last=3, angle=90)))
    assert [(s.x, s.y, s.rotation) for s in layout.seats()] == [
        (0, 0, 90),
        (0, 1, 90),
        (0, 2, 90),
    ]  # faces the left of its direction


def test_a_round_row_sits_around_its_centre_facing_it() -> None:
    layout = load(document({"label": "T1", "from": 1, "to": 4, "center": {"x": 10, "y": 10}, "radius": 2}))
    assert [(s.x, s.y, s.rotation) for s in layout.seats()] == [
        (10, 8, 180),
        (12, 10, -90),
        (10, 12, None),
        (8, 10, 90),
    ]


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 40),
    spacing=st.floats(0.3, 2),
    bend=st.floats(0.05, 1),
    focus_above=st.booleans(),
)
def test_a_curved_row_keeps_its_spacing_along_an_arc_around_the_focus(
    count: int, spacing: float, bend: float, focus_above: bool
) -> None:
    restore_hypothesis_reports()
    length = (count - 1) * spacing
    radius = max(length / math.pi / bend, 1.0)  # bend 1: a half circle
    focus = {"x": length / 2, "y": -50 if focus_above else 50}
    layout = load(document(row(last=count, spacing=spacing, curve=radius), focus=focus))
    seats = layout.seats()
    centre = (length / 2, radius if not focus_above else -radius)
    for seat in seats:
        assert math.dist((seat.x, seat.y), centre) == pytest.approx(radius, abs=1e-3)
        towards = math.degrees(math.atan2(centre[0] - seat.x, seat.y - centre[1]))
        assert ((seat.rotation or 0.0) - towards + 180) % 360 - 180 == pytest.approx(0, abs=1e-2)
    for a, b in itertools.pairwise(seats):  # the chord of an arc of length spacing
        assert math.dist((a.x, a.y), (b.x, b.y)) == pytest.approx(2 * radius * math.sin(spacing / 2 / radius), abs=1e-3)
    middle = seats[count // 2] if count % 2 else None
    if middle is not None:
        assert (middle.x, middle.y) == pytest.approx((length / 2, 0), abs=1e-3)


# --- Errors -------------------------------------------------------------------------------------------------


def explicit(label: str, *ids: str, category: str | None = None) -> dict[str, Any]:
    seats = [{"id": seat_id, "label": str(n), "x": n, "y": 0} for n, seat_id in enumerate(ids, start=1)]
    if category:
        seats[-1]["category"] = category
    return {"label": label, "seats": seats}


ERROR_CASES: list[tuple[str, Any, str]] = [
    ("duplicate explicit id", document(explicit("A", "A1", "A2"), explicit("B", "B1", "A2")), "sections[0].rows[1].seats[1]: duplicate seat id A2 (first at sections[0].rows[0].seats[1])"),
    ("duplicate compact id", document(row(), row()), "sections[0].rows[1] seat 1: duplicate seat id A1 (first at sections[0].rows[0] seat 1)"),
    ("unknown seat category", document(explicit("A", "A1", category="gold")), "sections[0].rows[0].seats[0].category: unknown category gold"),
    ("unknown row category", document(row(category="gold")), "sections[0].rows[0].category: unknown category gold"),
    ("unknown override category", document(row(overrides={"2": {"category": "gold"}})), 'sections[0].rows[0].overrides["2"].category: unknown category gold'),
    ("override of no seat", document(row(overrides={"11": {"flags": ["companion"]}})), "sections[0].rows[0]: overrides: no seat 11 in row A"),
    ("gap after no seat", document(row(gapsAfter={"0": 1})), "sections[0].rows[0]: gapsAfter: no seat 0 in row A"),
    ("empty row", document(row(), {"label": "B", "seats": []}), "sections[0].rows[1]: empty row"),
    ("row of both forms", document({**explicit("A", "A1"), "from": 1, "to": 2}), "sections[0].rows[0]: a row has either explicit seats or from/to, not both"),
    ("compact row without geometry", document({"label": "A", "from": 1, "to": 3}), "sections[0].rows[0]: a compact row needs start and spacing (or center and radius for a round table)"),
    ("round row with a curve", document({"label": "T", "from": 1, "to": 3, "center": {"x": 0, "y": 0}, "radius": 1, "curve": 3}), "sections[0].rows[0]: a round row takes center and radius, not curve"),
    ("curve too tight", document(row(curve=2)), "sections[0].rows[0]: curve 2.0 is too tight for a row 9 long (at least length/pi)"),
    ("misspelt field", document(row(spaceing=2)), "sections[0].rows[0].spaceing: Extra inputs are not permitted"),
    ("wrong type", document({**row(), "from": "1"}), "sections[0].rows[0].from: Input should be a valid integer"),
    ("unknown placeholder", document(row(idPattern="{block}{seat}")), "sections[0].rows[0]: idPattern '{block}{seat}': placeholders are {section}, {row} and {seat}"),
    ("pattern without the seat", document(row(idPattern="{row}")), "sections[0].rows[0]: idPattern '{row}' needs {seat}, or every seat of a row gets the same id"),
    ("generated id too long", document(row(last=1, idPattern="A-VERY-LONG-PREFIX-{seat}")), "sections[0].rows[0] seat 1: seat id 'A-VERY-LONG-PREFIX-1' from idPattern 'A-VERY-LONG-PREFIX-{seat}': String should have at most 16 characters"),
    ("no category at all", {**document(row()), "sections": [{"id": "main", "name": "Stalls", "rows": [row()]}]}, "sections[0].rows[0]: seat 1 has no category: give one to the row or its section"),
    ("duplicate category", {**document(row()), "categories": [{"id": "std", "name": "A"}, {"id": "std", "name": "B"}]}, "categories[1].id: duplicate category id std"),
    ("table naming no seat", document(row(), tables=[{"id": "t", "label": "T", "seatIds": ["A1", "Z9"], "soldAsWhole": True}]), "tables[0].seatIds[1]: no seat Z9"),
    ("seat at two tables", document(row(), tables=[{"id": "t", "label": "T", "seatIds": ["A1"], "soldAsWhole": True}, {"id": "u", "label": "U", "seatIds": ["A1"], "soldAsWhole": False}]), "tables[1].seatIds[0]: seat A1 is already at table t"),
    ("blocked unknown seat", document(row(), blocked={"Z9": "pillar"}), "blocked.Z9: no seat Z9"),
    ("incomplete shape", document(row(), shapes=[{"kind": "circle", "x": 1, "y": 1}]), "shapes[0]: a circle needs a radius"),
    ("not an object", [], "Input should be a valid dictionary or instance of LayoutDocument"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "bad", "expected"), ERROR_CASES, ids=[case for case, _, _ in ERROR_CASES])
def test_a_bad_document_gets_errors_naming_the_offending_element(case: str, bad: Any, expected: str) -> None:
    assert expected in errors(bad)


def test_every_error_is_reported_not_only_the_first() -> None:
    bad = document(explicit("A", "A1", "A1"), row("B", category="gold"), blocked={"Q1": "x"})
    assert len(errors(bad)) == 3


def test_text_that_is_not_json_is_an_error() -> None:
    assert errors('{"categories": [')[0].startswith("not a JSON document")


def test_a_layout_over_the_seat_limit_is_refused_before_expanding() -> None:
    huge = document(*(row(row_label(index), 1, 1000, start={"x": 0, "y": index}) for index in range(100)))
    assert errors(huge, max_seats=10_000) == ["the layout has 100000 seats, more than the limit of 10000"]
    endless = document(row(last=10**12))
    assert errors(endless, max_seats=10_000) == ["the layout has 1000000000000 seats, more than the limit of 10000"]
    assert len(load(document(row(last=100)), max_seats=100).seats()) == 100


def test_a_document_full_of_mistakes_gets_a_bounded_answer() -> None:
    many = document(*(explicit(f"R{index}", "A1") for index in range(500)))
    assert 0 < len(errors(many)) <= 100


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def mutations(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """The base document with one value somewhere replaced by any JSON value."""

    def replace(value: Any, path: list[int], new: Any) -> Any:
        if not path or not isinstance(value, dict | list) or not value:
            return new
        value = copy.copy(value)
        keys = list(value) if isinstance(value, dict) else list(range(len(value)))
        key = keys[path[0] % len(keys)]
        value[key] = replace(value[key], path[1:], new)
        return value

    return st.builds(replace, st.just(base), st.lists(st.integers(0, 50), max_size=6), json_values)


BASE = document(row(overrides={"2": {"flags": ["accessible"]}}), explicit("B", "B1"), tables=[{"id": "t", "label": "T", "seatIds": ["A1"], "soldAsWhole": True}], focus={"x": 0, "y": -5}, blocked={"A3": "pillar"})  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(mutations(BASE) | json_values)
def test_any_input_gets_a_layout_or_errors_never_an_exception(value: Any) -> None:
    restore_hypothesis_reports()
    result = load_layout(value, max_seats=1000)
    assert isinstance(result, HallLayout) or (result and all(isinstance(e, LayoutError) for e in result))


@st.composite
def compact_documents(draw: st.DrawFn) -> dict[str, Any]:
    rows = []
    for index in range(draw(st.integers(1, 6))):
        first = draw(st.integers(0, 30))
        last = draw(st.integers(0, 30))
        fields: dict[str, Any] = {"start": {"x": draw(st.floats(-50, 50)), "y": float(index)}}
        fields["angle"] = draw(st.none() | st.floats(-180, 180))
        length = abs(last - first)
        if draw(st.booleans()):
            fields["curve"] = draw(st.sampled_from([1, -1])) * (length / math.pi + draw(st.floats(0.1, 100)))
        fields["overrides"] = {
            str(first): {
                "flags": draw(st.lists(st.sampled_from(["accessible", "companion", "restrictedView"]), unique=True))
            }
        }
        rows.append(row(row_label(index), first, last, **{k: v for k, v in fields.items() if v is not None}))
    return document(*rows, focus=draw(st.none() | st.builds(dict, x=st.floats(-50, 50), y=st.floats(-50, 50))))


@settings(max_examples=60, deadline=None)
@given(compact_documents())
def test_a_compact_layout_written_back_reads_the_same(compact: dict[str, Any]) -> None:
    restore_hypothesis_reports()
    compact = {key: value for key, value in compact.items() if value is not None}
    layout = load(compact)
    written = dump_layout(layout)
    assert load(written) == layout
    assert dump_layout(load(written)) == written
