"""A hall's layout as the server keeps it: sections of rows of seats, tables, categories, shapes, a focus.

Plain data, immutable: a layout is a version, and editing a hall makes a new one, so the seats a showtime
sold never move. Positions are floats in any unit; clients scale the ``bounds`` to fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

__all__ = [
    "Bounds",
    "CategoryInfo",
    "HallLayout",
    "Point",
    "RowPlan",
    "SeatFlag",
    "SeatPlace",
    "SectionPlan",
    "Shape",
    "TablePlan",
]


class SeatFlag(StrEnum):
    ACCESSIBLE = "accessible"  # a wheelchair space
    COMPANION = "companion"  # next to a wheelchair space
    RESTRICTED_VIEW = "restrictedView"


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Bounds:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    id: str
    name: str
    color: str | None = None


@dataclass(frozen=True, slots=True)
class SeatPlace:
    id: str  # unique in the hall: the id clients use ("F12", "BALC-AA-3")
    label: str  # the seat's own label within its row ("12")
    x: float
    y: float
    category_id: str
    rotation: float | None = None  # degrees
    flags: frozenset[SeatFlag] = frozenset()


@dataclass(frozen=True, slots=True)
class RowPlan:
    label: str
    seats: tuple[SeatPlace, ...]


@dataclass(frozen=True, slots=True)
class SectionPlan:
    id: str
    name: str
    rows: tuple[RowPlan, ...]


@dataclass(frozen=True, slots=True)
class Shape:
    """Something drawn: the stage, a pillar, an aisle label, a table's outline."""

    kind: Literal["rectangle", "circle", "polygon", "text"]
    x: float = 0.0
    y: float = 0.0
    width: float | None = None  # rectangle
    height: float | None = None  # rectangle
    radius: float | None = None  # circle
    points: tuple[Point, ...] = ()  # polygon, absolute
    text: str | None = None  # text, or a label inside another shape
    rotation: float | None = None
    color: str | None = None


@dataclass(frozen=True, slots=True)
class TablePlan:
    """A table or box: a named group of seats; sold as a whole, none of its seats can be taken alone."""

    id: str
    label: str
    seat_ids: tuple[str, ...]
    sold_as_whole: bool
    shape: Shape | None = None


@dataclass(frozen=True, slots=True)
class HallLayout:
    categories: tuple[CategoryInfo, ...]
    sections: tuple[SectionPlan, ...]
    tables: tuple[TablePlan, ...] = ()
    shapes: tuple[Shape, ...] = ()
    focus: Point | None = None  # the stage or screen centre
    # Seats blocked by default for every new showtime of this layout (pillar seats), with the reason.
    blocked: Mapping[str, str] = field(default_factory=dict)

    def seats(self) -> tuple[SeatPlace, ...]:
        return tuple(seat for section in self.sections for row in section.rows for seat in row.seats)

    def within(self, view: Bounds) -> HallLayout:
        """The part of the hall a viewport shows: the seats inside it (edges included), their rows and sections,
        and the tables with a seat inside; shapes, categories and the focus stay, to draw the frame."""

        def inside(seat: SeatPlace) -> bool:
            return view.x <= seat.x <= view.x + view.width and view.y <= seat.y <= view.y + view.height

        sections = []
        for section in self.sections:
            rows = tuple(
                RowPlan(row.label, seats) for row in section.rows if (seats := tuple(filter(inside, row.seats)))
            )
            if rows:
                sections.append(SectionPlan(section.id, section.name, rows))
        shown = {seat.id for section in sections for row in section.rows for seat in row.seats}
        tables = tuple(table for table in self.tables if shown.intersection(table.seat_ids))
        return replace(self, sections=tuple(sections), tables=tables)

    def bounds(self) -> Bounds:
        """The smallest box holding every seat, shape and the focus."""
        xs: list[float] = []
        ys: list[float] = []
        for seat in self.seats():
            xs.append(seat.x)
            ys.append(seat.y)
        for shape in (*self.shapes, *(t.shape for t in self.tables if t.shape is not None)):
            corners = [Point(shape.x, shape.y), *shape.points]
            if shape.width is not None and shape.height is not None:
                corners.append(Point(shape.x + shape.width, shape.y + shape.height))
            if shape.radius is not None:
                corners += [Point(shape.x - shape.radius, shape.y - shape.radius)]
                corners += [Point(shape.x + shape.radius, shape.y + shape.radius)]
            xs += [p.x for p in corners]
            ys += [p.y for p in corners]
        if self.focus is not None:
            xs.append(self.focus.x)
            ys.append(self.focus.y)
        if not xs:
            return Bounds(0, 0, 0, 0)
        return Bounds(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
