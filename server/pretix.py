"""pretix seating plans, read as they are: zones become sections, seat_guid the seat id, a category's name its id.

Positions nest: a seat's is relative to its row's, a row's to its zone's; an area's is relative to its zone's,
and a polygon's points and a text's position to the area's. The reading follows pretix's published schema
(src/pretix/static/seating/seating-plan.schema.json) and ignores what it does not use (uuids, sizes, labels).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.core.venues import CategoryInfo, HallLayout, Point, RowPlan, SeatPlace, SectionPlan, Shape
from server.layout_file import Findings, LayoutError, parse_document
from server.messages import SeatId

__all__ = ["PretixPlan", "load_pretix_plan"]

ELLIPSE_POINTS = 32  # an ellipse is drawn as a polygon of this many points


class PretixModel(BaseModel):
    # pretix's own field names, and newer pretix fields ignored rather than refused.
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class PretixPosition(PretixModel):
    x: float
    y: float


ORIGIN = PretixPosition(x=0, y=0)


class PretixCategory(PretixModel):
    name: str = Field(min_length=1)
    color: str | None = None


class PretixSeat(PretixModel):
    seat_guid: SeatId
    seat_number: str
    position: PretixPosition
    category: str


class PretixRow(PretixModel):
    row_number: str
    position: PretixPosition = ORIGIN  # optional in the schema
    seats: list[PretixSeat]


class PretixSize(PretixModel):
    width: float
    height: float


class PretixText(PretixModel):
    text: str
    color: str | None = None
    position: PretixPosition = ORIGIN


class PretixEllipse(PretixModel):
    radius: PretixPosition


class PretixPolygon(PretixModel):
    points: list[PretixPosition]


class PretixCircle(PretixModel):
    radius: float


class PretixArea(PretixModel):
    shape: Literal["polygon", "rectangle", "ellipse", "circle", "text"] = "rectangle"
    position: PretixPosition = ORIGIN
    rotation: float | None = None  # degrees clockwise around position
    color: str | None = None
    rectangle: PretixSize | None = None
    circle: PretixCircle | None = None
    ellipse: PretixEllipse | None = None
    polygon: PretixPolygon | None = None
    text: PretixText | None = None
    width: float | None = None  # a rectangle's size in plans of the first schema version
    height: float | None = None


class PretixZone(PretixModel):
    name: str = ""
    zone_id: str | None = None
    position: PretixPosition
    rows: list[PretixRow]
    areas: list[PretixArea] = Field(default_factory=list)
    seats: list[Any] | None = None  # not pretix: refused with its path rather than silently dropped


class PretixPlan(PretixModel):
    name: str
    categories: list[PretixCategory]
    zones: list[PretixZone]
    size: PretixSize | None = None
    seats: list[Any] | None = None  # not pretix, as in a zone


def load_pretix_plan(document: object, *, max_seats: int) -> HallLayout | list[LayoutError]:
    """The layout of a pretix seating plan (JSON text or parsed JSON), or every error found in it."""
    plan = parse_document(PretixPlan, document)
    if isinstance(plan, list):
        return plan
    findings = Findings()
    if not findings.seat_limit(sum(len(row.seats) for zone in plan.zones for row in zone.rows), max_seats):
        return findings.errors
    categories: dict[str, CategoryInfo] = {}
    for index, category in enumerate(plan.categories):
        if category.name in categories:
            findings.add(f"categories[{index}].name", f"duplicate category {category.name}")
        categories[category.name] = CategoryInfo(category.name, category.name, category.color)
    if plan.seats is not None:
        findings.add("seats", "seats outside any row: put each seat in a row of a zone")
    sections, shapes, section_ids = [], [], set()
    for zone_index, zone in enumerate(plan.zones):
        path = f"zones[{zone_index}]"
        if zone.seats is not None:
            findings.add(f"{path}.seats", "seats outside any row: put each seat in a row")
        origin = zone.position
        shapes += [area_shape(area, origin) for area in zone.areas]
        rows = []
        for row_index, row in enumerate(zone.rows):
            x, y = origin.x + row.position.x, origin.y + row.position.y
            seats = []
            for seat_index, seat in enumerate(row.seats):
                seat_path = f"{path}.rows[{row_index}].seats[{seat_index}]"
                findings.seat(seat.seat_guid, seat_path)
                if seat.category not in categories:
                    findings.add(f"{seat_path}.category", f"unknown category {seat.category!r}")
                seats.append(
                    SeatPlace(seat.seat_guid, seat.seat_number, x + seat.position.x, y + seat.position.y, seat.category)
                )
            if seats:  # pretix's editor leaves empty rows behind; they carry nothing
                rows.append(RowPlan(row.row_number, tuple(seats)))
        if rows:  # a zone of areas only (the stage) is drawn, not a section
            section_id = zone.zone_id or zone.name or f"zone-{zone_index + 1}"
            if section_id in section_ids:
                section_id = f"{section_id}-{zone_index + 1}"
            section_ids.add(section_id)
            sections.append(SectionPlan(section_id, zone.name or section_id, tuple(rows)))
    if not sections:
        findings.add("zones", "the plan has no seat")
    if findings.errors:
        return findings.errors
    return HallLayout(categories=tuple(categories.values()), sections=tuple(sections), shapes=tuple(shapes))


def rotate(point: PretixPosition, degrees: float) -> tuple[float, float]:
    """A point relative to an area turned ``degrees`` clockwise around the area's position (y points down)."""
    angle = math.radians(degrees)
    return (
        point.x * math.cos(angle) - point.y * math.sin(angle),
        point.x * math.sin(angle) + point.y * math.cos(angle),
    )


def area_shape(area: PretixArea, origin: PretixPosition) -> Shape:
    x, y = origin.x + area.position.x, origin.y + area.position.y
    label = area.text.text if area.text is not None else None
    rotation = area.rotation or None
    if area.shape == "text":
        offset = area.text.position if area.text is not None else ORIGIN
        color = area.text.color if area.text is not None else None
        return Shape("text", x + offset.x, y + offset.y, text=label or "", rotation=rotation, color=color or area.color)
    if area.shape == "circle":
        radius = area.circle.radius if area.circle is not None else 0.0
        return Shape("circle", x, y, radius=radius, text=label, color=area.color)
    if area.shape in ("polygon", "ellipse"):
        # Points are absolute in a layout: turn them here, so the shape needs no rotation of its own.
        if area.polygon is not None:
            relative = area.polygon.points
        else:
            radii = area.ellipse.radius if area.ellipse is not None else ORIGIN
            steps = [2 * math.pi * index / ELLIPSE_POINTS for index in range(ELLIPSE_POINTS)]
            relative = [PretixPosition(x=radii.x * math.cos(t), y=radii.y * math.sin(t)) for t in steps]
        turned = [rotate(point, area.rotation or 0.0) for point in relative]
        points = tuple(Point(x + dx, y + dy) for dx, dy in turned)
        return Shape("polygon", x, y, points=points, text=label, color=area.color)
    size = area.rectangle or PretixSize(width=area.width or 0.0, height=area.height or 0.0)
    return Shape(
        "rectangle", x, y, width=size.width, height=size.height, text=label, rotation=rotation, color=area.color
    )
