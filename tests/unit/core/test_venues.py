"""A hall's layout: its seats in drawing order, and the box around everything drawn."""

from __future__ import annotations

from server.core.venues import (
    Bounds,
    CategoryInfo,
    HallLayout,
    Point,
    RowPlan,
    SeatPlace,
    SectionPlan,
    Shape,
    TablePlan,
)

CATEGORIES = (CategoryInfo("std", "Standard"),)


def seat(seat_id: str, x: float, y: float) -> SeatPlace:
    return SeatPlace(seat_id, seat_id[-1], x, y, "std")


def hall(
    *seats: SeatPlace, shapes: tuple[Shape, ...] = (), tables: tuple[TablePlan, ...] = (), focus: Point | None = None
) -> HallLayout:
    section = SectionPlan("main", "Main", (RowPlan("A", seats),))
    return HallLayout(CATEGORIES, (section,), tables=tables, shapes=shapes, focus=focus)


def test_seats_run_section_by_section_then_row_by_row() -> None:
    rows = (RowPlan("A", (seat("A2", 1, 0), seat("A1", 0, 0))), RowPlan("B", (seat("B1", 0, 1),)))
    stalls = SectionPlan("stalls", "Stalls", rows)
    balcony = SectionPlan("balc", "Balcony", (RowPlan("AA", (seat("AA1", 0, 5),)),))
    layout = HallLayout(CATEGORIES, (stalls, balcony))
    assert [place.id for place in layout.seats()] == ["A2", "A1", "B1", "AA1"]


def test_bounds_of_seats_alone() -> None:
    assert hall(seat("A1", 2, 3), seat("A2", -1, 7), seat("A3", 4, 5)).bounds() == Bounds(-1, 3, 5, 4)


def test_each_kind_of_shape_reaches_as_far_as_it_is_drawn() -> None:
    one = seat("A1", 0, 0)
    cases = [
        (Shape("rectangle", x=1, y=2, width=10, height=4), Bounds(0, 0, 11, 6)),
        (Shape("circle", x=1, y=2, radius=2), Bounds(-1, 0, 4, 4)),
        (Shape("polygon", points=(Point(-3, 1), Point(2, -4))), Bounds(-3, -4, 5, 5)),
        (Shape("text", x=-2, y=9, text="Exit"), Bounds(-2, 0, 2, 9)),
    ]
    for shape, expected in cases:
        assert hall(one, shapes=(shape,)).bounds() == expected, shape.kind


def test_a_tables_shape_and_the_focus_count_too() -> None:
    table = TablePlan("t1", "Table 1", ("A1",), sold_as_whole=True, shape=Shape("circle", x=10, y=0, radius=1))
    assert hall(seat("A1", 0, 0), tables=(table,), focus=Point(3, -6)).bounds() == Bounds(0, -6, 11, 7)


def test_an_empty_layout_has_empty_bounds() -> None:
    empty = HallLayout(CATEGORIES, ())
    assert (empty.seats(), empty.bounds()) == ((), Bounds(0, 0, 0, 0))
