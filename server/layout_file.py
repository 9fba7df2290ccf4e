"""The layout file: a hall's seats as one JSON document, read into a HallLayout and written back.

Rows may be compact (``from``/``to`` and a geometry, expanded here) or explicit seats; docs/layouts.md
describes the format. Reading never raises on bad input: it returns every error found, each naming the
path of the offending element ("sections[1].rows[3].seats[7]: duplicate seat id B-12").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal, Self, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from server.core.errors import FieldError
from server.core.venues import (
    CategoryInfo,
    HallLayout,
    Point,
    RowPlan,
    SeatFlag,
    SeatPlace,
    SectionPlan,
    Shape,
    TablePlan,
)
from server.messages import PRINTABLE, Model, SeatId, Text

__all__ = [
    "DEFAULT_ID_PATTERN",
    "MAX_ERRORS",
    "Findings",
    "LayoutDocument",
    "LayoutError",
    "dump_layout",
    "layout_document",
    "layout_json_schema",
    "load_layout",
    "parse_document",
]

DEFAULT_ID_PATTERN = "{row}{seat}"
MAX_ERRORS = 100  # a 100,000-seat file full of mistakes gets a readable answer, not 100,000 lines
DECIMALS = 4  # expanded positions and rotations, so that writing a layout back reads as it was computed
PLACEHOLDER = re.compile(r"\{(\w*)\}")
IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")


# One error in a layout file: its path ("sections[1].rows[3].seats[7]"; empty for the document as a whole).
LayoutError = FieldError


class Findings:
    """The errors found in one document, the first MAX_ERRORS of them, and where each seat id was first seen."""

    def __init__(self) -> None:
        self.errors: list[LayoutError] = []
        self.seat_paths: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(LayoutError(path, message))

    def seat(self, seat_id: str, path: str) -> None:
        first = self.seat_paths.setdefault(seat_id, path)
        if first != path:
            self.add(path, f"duplicate seat id {seat_id} (first at {first})")

    def seat_limit(self, count: int, max_seats: int) -> bool:
        """Whether ``count`` seats are allowed; checked before expanding, so a huge layout costs nothing."""
        if count > max_seats:
            self.add("", f"the layout has {count} seats, more than the limit of {max_seats}")
            return False
        return True


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if not IDENTIFIER.match(key):
        return f"{path}[{json.dumps(key)}]"
    return f"{path}.{key}" if path else key


def path_of(location: Iterable[str | int]) -> str:
    path = ""
    for key in location:
        path = join(path, key)
    return path


Document = TypeVar("Document", bound=BaseModel)


def parse_document(model: type[Document], document: object) -> Document | list[LayoutError]:
    """The document (JSON text or parsed JSON) as ``model``, or its structural errors with their paths."""
    if isinstance(document, str | bytes):
        try:
            document = json.loads(document)
        except (ValueError, RecursionError) as error:
            return [LayoutError("", f"not a JSON document: {error}")]
    try:
        return model.model_validate(document)
    except ValidationError as invalid:
        errors = []
        for detail in invalid.errors(include_input=False, include_url=False)[:MAX_ERRORS]:
            context = detail.get("ctx") or {}
            message = str(context["error"]) if detail["type"] == "value_error" else detail["msg"]
            errors.append(LayoutError(path_of(detail["loc"]), message))
        return errors


# --- The document -------------------------------------------------------------------------------------------


class FileModel(Model):
    # A misspelt field ("spaceing") is an error here, not ignored: a layout silently losing its aisles is worse.
    model_config = ConfigDict(extra="forbid")


Key = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE), Text]
Label = Annotated[str, Field(min_length=1, max_length=16, pattern=PRINTABLE), Text]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE), Text]
Color = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]
Flag = Literal["accessible", "companion", "restrictedView"]
Distance = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Coordinate = Annotated[float, Field(allow_inf_nan=False)]


class Position(FileModel):
    x: Coordinate
    y: Coordinate


class CategoryEntry(FileModel):
    id: Key
    name: Name
    color: Color | None = None


class ShapeEntry(FileModel):
    """Something drawn. x, y: a rectangle's corner, a circle's centre, a text's anchor; polygon points absolute."""

    kind: Literal["rectangle", "circle", "polygon", "text"]
    x: Coordinate = 0.0
    y: Coordinate = 0.0
    width: Distance | None = None
    height: Distance | None = None
    radius: Distance | None = None
    points: list[Position] | None = None
    text: Annotated[str, Field(max_length=200)] | None = None
    rotation: Coordinate | None = Field(None, description="degrees, clockwise around (x, y)")
    color: Color | None = None

    @model_validator(mode="after")
    def complete(self) -> Self:
        missing = {
            "rectangle": (self.width is None or self.height is None, "a rectangle needs width and height"),
            "circle": (self.radius is None, "a circle needs a radius"),
            "polygon": (len(self.points or ()) < 3, "a polygon needs at least three points"),
            "text": (not self.text, "a text shape needs its text"),
        }
        incomplete, message = missing[self.kind]
        if incomplete:
            raise ValueError(message)
        return self


class SeatEntry(FileModel):
    id: SeatId | None = Field(None, description="unique in the hall; by default from the row's idPattern")
    label: Label
    x: Coordinate
    y: Coordinate
    rotation: Coordinate | None = Field(None, description="degrees clockwise; 0 faces up (towards -y)")
    category: Key | None = None
    flags: list[Flag] | None = None


class SeatOverride(FileModel):
    category: Key | None = None
    flags: list[Flag] | None = None


def check_id_pattern(pattern: str | None) -> None:
    if pattern is None:
        return
    names = set(PLACEHOLDER.findall(pattern))
    if "{" in PLACEHOLDER.sub("", pattern) or "}" in PLACEHOLDER.sub("", pattern):
        raise ValueError(f"idPattern {pattern!r}: a brace outside a placeholder")
    if names - {"section", "row", "seat"}:
        raise ValueError(f"idPattern {pattern!r}: placeholders are {{section}}, {{row}} and {{seat}}")
    if "seat" not in names:
        raise ValueError(f"idPattern {pattern!r} needs {{seat}}, or every seat of a row gets the same id")


COMPACT_FIELDS = ("from_", "to", "start", "spacing", "angle", "curve", "gaps_after", "center", "radius")
STRAIGHT_FIELDS = ("start", "spacing", "angle", "curve", "gaps_after")
ROUND_FIELDS = ("center", "radius", "start_angle")


NO_OVERRIDE = SeatOverride()


class RowEntry(FileModel):
    """Either explicit ``seats``, or compact: seats numbered ``from``..``to`` laid out by a geometry."""

    label: Label
    category: Key | None = None
    id_pattern: str | None = None
    seats: list[SeatEntry] | None = None
    from_: Annotated[int, Field(ge=0)] | None = Field(None, alias="from", description="the first seat number")
    to: Annotated[int, Field(ge=0)] | None = Field(None, description="the last seat number (may be below from)")
    # A straight row, or an arc when curve is set: seats from start, spacing apart along the row.
    start: Position | None = None
    spacing: Distance | None = None
    angle: Coordinate | None = Field(None, description="the row's direction, degrees clockwise from +x")
    curve: Coordinate | None = Field(None, description="radius of the arc the row follows, bending around the focus")
    gaps_after: dict[str, Distance] | None = Field(None, description="seat number -> extra space after it (aisles)")
    # A round table: seats evenly around a circle, the first at startAngle (degrees clockwise from the top).
    center: Position | None = None
    radius: Distance | None = None
    start_angle: Coordinate | None = None
    overrides: dict[str, SeatOverride] | None = Field(None, description="seat number -> its own category or flags")

    @model_validator(mode="after")
    def one_form(self) -> Self:
        check_id_pattern(self.id_pattern)
        given = {name for name in (*COMPACT_FIELDS, *ROUND_FIELDS, "overrides") if getattr(self, name) is not None}
        if self.seats is not None:
            if given:
                raise ValueError("a row has either explicit seats or from/to, not both")
            if not self.seats:
                raise ValueError("empty row")
            return self
        if self.from_ is None or self.to is None:
            raise ValueError("a row needs explicit seats, or from and to")
        straight, round_ = given & set(STRAIGHT_FIELDS), given & set(ROUND_FIELDS)
        if round_ and straight:
            raise ValueError(f"a round row takes center and radius, not {', '.join(sorted(straight))}")
        if round_ and (self.center is None or self.radius is None):
            raise ValueError("a round row needs center and radius")
        if not round_ and (self.start is None or self.spacing is None):
            raise ValueError("a compact row needs start and spacing (or center and radius for a round table)")
        numbers = self.numbers()  # a range: a row of 10**12 seats is refused later, not expanded here
        for field, keys in (("gapsAfter", self.gaps_after or {}), ("overrides", self.overrides or {})):
            if unknown := sorted(
                key for key in keys if not key.isdecimal() or str(int(key)) != key or int(key) not in numbers
            ):
                raise ValueError(f"{field}: no seat {unknown[0]} in row {self.label}")
        if self.curve is not None and self.spacing is not None:
            length = self.length()
            if abs(self.curve) * math.pi < length * (1 - 1e-12):  # a half circle exactly is fine, rounding aside
                raise ValueError(f"curve {self.curve} is too tight for a row {length:g} long (at least length/pi)")
        return self

    def numbers(self) -> range:
        assert self.from_ is not None
        assert self.to is not None
        step = 1 if self.to >= self.from_ else -1
        return range(self.from_, self.to + step, step)

    def seat_count(self) -> int:
        if self.seats is not None:
            return len(self.seats)
        assert self.from_ is not None
        assert self.to is not None
        return abs(self.to - self.from_) + 1

    def length(self) -> float:
        """From the first seat to the last along the row, without expanding it."""
        assert self.spacing is not None
        last = self.numbers()[-1]
        gaps = sum(gap for number, gap in (self.gaps_after or {}).items() if int(number) != last)
        return (self.seat_count() - 1) * self.spacing + gaps

    def offsets(self) -> list[float]:
        """Each seat's distance from the first along the row: spacing, plus the gaps after seats passed."""
        assert self.spacing is not None
        gaps = self.gaps_after or {}
        offsets, distance, previous = [], 0.0, None
        for number in self.numbers():
            if previous is not None:
                distance += self.spacing + gaps.get(str(previous), 0.0)
            offsets.append(distance)
            previous = number
        return offsets


class SectionEntry(FileModel):
    id: Key
    name: Name
    category: Key | None = Field(None, description="the category of its seats that name none")
    id_pattern: str | None = Field(None, description=f"seat ids of compact rows; default {DEFAULT_ID_PATTERN}")
    rows: Annotated[list[RowEntry], Field(min_length=1)]

    @model_validator(mode="after")
    def valid_pattern(self) -> Self:
        check_id_pattern(self.id_pattern)
        return self


class TableEntry(FileModel):
    """A table or box: a named group of seats; sold as a whole, none of its seats can be taken alone."""

    id: Key
    label: Name
    seat_ids: Annotated[list[SeatId], Field(min_length=1)]
    sold_as_whole: bool
    shape: ShapeEntry | None = None


class LayoutDocument(FileModel):
    """A hall's layout: categories, sections of rows of seats, tables and boxes, shapes to draw, a focus."""

    # An integer bounded to 1 rather than Literal[1]: some client generators cannot write a const of a number.
    version: Annotated[int, Field(ge=1, le=1, description="the format's version")] = 1
    categories: Annotated[list[CategoryEntry], Field(min_length=1)]
    sections: Annotated[list[SectionEntry], Field(min_length=1)]
    tables: list[TableEntry] = Field(default_factory=list)
    shapes: list[ShapeEntry] = Field(default_factory=list)
    focus: Position | None = Field(None, description="the stage or screen centre; curved rows bend around it")
    blocked: dict[SeatId, Name] = Field(
        default_factory=dict, description="seat id -> why it is blocked for every new showtime (a pillar)"
    )


def layout_json_schema() -> dict[str, Any]:
    """The JSON Schema of the layout file (draft 2020-12), generated from the models above."""
    schema = LayoutDocument.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "Hall layout"}


# --- Reading ------------------------------------------------------------------------------------------------


def load_layout(document: object, *, max_seats: int) -> HallLayout | list[LayoutError]:
    """The layout a native document (JSON text or parsed JSON) describes, or every error found in it."""
    parsed = parse_document(LayoutDocument, document)
    if isinstance(parsed, list):
        return parsed
    return Reader(parsed).read(max_seats)


def rounded(value: float) -> float:
    return round(value, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def facing(dx: float, dy: float) -> float | None:
    """The rotation of a seat facing direction (dx, dy): degrees clockwise from up; None when it faces up."""
    degrees = rounded(180.0 - (180.0 - math.degrees(math.atan2(dx, -dy))) % 360.0)  # in (-180, 180]
    return degrees or None


seat_id_adapter: TypeAdapter[str] = TypeAdapter(SeatId)


class Reader:
    def __init__(self, document: LayoutDocument) -> None:
        self.document = document
        self.findings = Findings()
        self.categories = {category.id for category in document.categories}

    def read(self, max_seats: int) -> HallLayout | list[LayoutError]:
        document, findings = self.document, self.findings
        count = sum(row.seat_count() for section in document.sections for row in section.rows)
        if not findings.seat_limit(count, max_seats):
            return findings.errors
        self.check_unique("categories", [category.id for category in document.categories], "category id")
        self.check_unique("sections", [section.id for section in document.sections], "section id")
        sections = tuple(self.section(f"sections[{index}]", entry) for index, entry in enumerate(document.sections))
        tables = self.tables()
        for seat_id in document.blocked:
            if seat_id not in findings.seat_paths:
                findings.add(join("blocked", seat_id), f"no seat {seat_id}")
        if findings.errors:
            return findings.errors
        return HallLayout(
            categories=tuple(CategoryInfo(c.id, c.name, c.color) for c in document.categories),
            sections=sections,
            tables=tables,
            shapes=tuple(shape_of(entry) for entry in document.shapes),
            focus=None if document.focus is None else Point(document.focus.x, document.focus.y),
            blocked=dict(document.blocked),
        )

    def check_unique(self, path: str, ids: list[str], what: str) -> None:
        seen: set[str] = set()
        for index, value in enumerate(ids):
            if value in seen:
                self.findings.add(f"{path}[{index}].id", f"duplicate {what} {value}")
            seen.add(value)

    def category(self, path: str, category: str | None) -> None:
        if category is not None and category not in self.categories:
            self.findings.add(path, f"unknown category {category}")

    def section(self, path: str, entry: SectionEntry) -> SectionPlan:
        self.category(f"{path}.category", entry.category)
        rows = []
        for index, row in enumerate(entry.rows):
            row_path = f"{path}.rows[{index}]"
            self.category(f"{row_path}.category", row.category)
            default = row.category or entry.category
            if row.seats is not None:
                seats = self.explicit_seats(row_path, entry, row, default)
            else:
                seats = self.compact_seats(row_path, entry, row, default)
            rows.append(RowPlan(row.label, seats))
        return SectionPlan(entry.id, entry.name, tuple(rows))

    def seat_id(self, path: str, section: SectionEntry, row: RowEntry, label: str) -> str:
        pattern = row.id_pattern or section.id_pattern or DEFAULT_ID_PATTERN
        seat_id = pattern.replace("{section}", section.id).replace("{row}", row.label).replace("{seat}", label)
        try:
            return seat_id_adapter.validate_python(seat_id)
        except ValidationError as invalid:
            self.findings.add(path, f"seat id {seat_id!r} from idPattern {pattern!r}: {invalid.errors()[0]['msg']}")
            return seat_id

    def explicit_seats(
        self, path: str, section: SectionEntry, row: RowEntry, default: str | None
    ) -> tuple[SeatPlace, ...]:
        seats = []
        for index, seat in enumerate(row.seats or ()):
            seat_path = f"{path}.seats[{index}]"
            seat_id = seat.id or self.seat_id(seat_path, section, row, seat.label)
            self.findings.seat(seat_id, seat_path)
            self.category(f"{seat_path}.category", seat.category)
            category = seat.category or default
            if category is None:
                self.findings.add(seat_path, "no category: give one to the seat, its row or its section")
            flags = frozenset(SeatFlag(flag) for flag in seat.flags or ())
            seats.append(SeatPlace(seat_id, seat.label, seat.x, seat.y, category or "", seat.rotation, flags))
        return tuple(seats)

    def compact_seats(
        self, path: str, section: SectionEntry, row: RowEntry, default: str | None
    ) -> tuple[SeatPlace, ...]:
        overrides = row.overrides or {}
        for key, override in overrides.items():
            self.category(f"{join(join(path, 'overrides'), key)}.category", override.category)
        places = round_places(row) if row.center is not None else row_places(row, self.document.focus)
        seats: list[SeatPlace] = []
        uncategorised: list[str] = []
        for number, (x, y, rotation) in zip(row.numbers(), places, strict=True):
            label = str(number)
            override = overrides.get(label, NO_OVERRIDE)
            seat_path = f"{path} seat {label}"  # a compact row has no seats[] to point into
            seat_id = self.seat_id(seat_path, section, row, label)
            self.findings.seat(seat_id, seat_path)
            category = override.category or default
            if category is None:
                uncategorised.append(label)
            flags = frozenset(SeatFlag(flag) for flag in override.flags or ())
            seats.append(SeatPlace(seat_id, label, x, y, category or "", rotation, flags))
        if uncategorised:
            self.findings.add(path, f"seat {uncategorised[0]} has no category: give one to the row or its section")
        return tuple(seats)

    def tables(self) -> tuple[TablePlan, ...]:
        tables: list[TablePlan] = []
        owner: dict[str, str] = {}
        self.check_unique("tables", [table.id for table in self.document.tables], "table id")
        for index, entry in enumerate(self.document.tables):
            for position, seat_id in enumerate(entry.seat_ids):
                seat_path = f"tables[{index}].seatIds[{position}]"
                if seat_id not in self.findings.seat_paths:
                    self.findings.add(seat_path, f"no seat {seat_id}")
                elif (other := owner.setdefault(seat_id, entry.id)) != entry.id:
                    self.findings.add(seat_path, f"seat {seat_id} is already at table {other}")
            shape = None if entry.shape is None else shape_of(entry.shape)
            tables.append(TablePlan(entry.id, entry.label, tuple(entry.seat_ids), entry.sold_as_whole, shape))
        return tuple(tables)


def row_places(row: RowEntry, focus: Position | None) -> list[tuple[float, float, float | None]]:
    """Seats along a straight row, or along an arc of radius ``curve`` whose middle is the straight row's middle.

    The row runs from ``start`` in the direction ``angle``; its normal points to the focus side (up without a
    focus). On an arc, each seat keeps its distance along the row and turns to face the arc's centre.
    """
    assert row.start is not None
    offsets = row.offsets()
    half = offsets[-1] / 2
    angle = math.radians(row.angle or 0.0)
    ux, uy = math.cos(angle), math.sin(angle)
    nx, ny = uy, -ux  # left of the direction: up for a row running right, in screen coordinates (y down)
    mx, my = row.start.x + half * ux, row.start.y + half * uy
    if focus is not None and (focus.x - mx) * nx + (focus.y - my) * ny < 0:
        nx, ny = -nx, -ny
    if row.curve is None:
        rotation = facing(nx, ny)
        return [(rounded(row.start.x + t * ux), rounded(row.start.y + t * uy), rotation) for t in offsets]
    radius, places = row.curve, []
    for t in offsets:
        theta = (t - half) / radius
        along, towards = radius * math.sin(theta), radius * (1 - math.cos(theta))
        x, y = mx + along * ux + towards * nx, my + along * uy + towards * ny
        places.append(
            (
                rounded(x),
                rounded(y),
                facing(math.cos(theta) * nx - math.sin(theta) * ux, math.cos(theta) * ny - math.sin(theta) * uy),
            )
        )
    return places


def round_places(row: RowEntry) -> list[tuple[float, float, float | None]]:
    """Seats evenly around a circle, clockwise from ``startAngle`` degrees (0: straight above the centre),
    each facing the centre."""
    assert row.center is not None
    assert row.radius is not None
    count, places = row.seat_count(), []
    for index in range(count):
        angle = math.radians((row.start_angle or 0.0) + 360.0 * index / count)
        dx, dy = math.sin(angle), -math.cos(angle)
        places.append(
            (rounded(row.center.x + row.radius * dx), rounded(row.center.y + row.radius * dy), facing(-dx, -dy))
        )
    return places


def shape_of(entry: ShapeEntry) -> Shape:
    return Shape(
        kind=entry.kind,
        x=entry.x,
        y=entry.y,
        width=entry.width,
        height=entry.height,
        radius=entry.radius,
        points=tuple(Point(p.x, p.y) for p in entry.points or ()),
        text=entry.text,
        rotation=entry.rotation,
        color=entry.color,
    )


# --- Writing ------------------------------------------------------------------------------------------------


def shape_entry(shape: Shape) -> ShapeEntry:
    return ShapeEntry(
        kind=shape.kind,
        x=shape.x,
        y=shape.y,
        width=shape.width,
        height=shape.height,
        radius=shape.radius,
        points=[Position(x=p.x, y=p.y) for p in shape.points] or None,
        text=shape.text,
        rotation=shape.rotation,
        color=shape.color,
    )


def seat_entry(seat: SeatPlace) -> SeatEntry:
    return SeatEntry(
        id=seat.id,
        label=seat.label,
        x=seat.x,
        y=seat.y,
        rotation=seat.rotation,
        category=seat.category_id,
        flags=cast("list[Flag]", sorted(flag.value for flag in seat.flags)) or None,
    )


def dump_layout(layout: HallLayout) -> dict[str, Any]:
    """The native document of a layout, every seat explicit: JSON-ready, and read back to the same layout."""
    return layout_document(layout).model_dump(mode="json", by_alias=True, exclude_none=True)


def layout_document(layout: HallLayout) -> LayoutDocument:
    """The native document of a layout, every seat explicit (``to_json()`` writes what ``dump_layout`` gives)."""
    return LayoutDocument(
        categories=[CategoryEntry(id=c.id, name=c.name, color=c.color) for c in layout.categories],
        sections=[
            SectionEntry(
                id=section.id,
                name=section.name,
                rows=[RowEntry(label=row.label, seats=[seat_entry(s) for s in row.seats]) for row in section.rows],
            )
            for section in layout.sections
        ],
        tables=[
            TableEntry(
                id=table.id,
                label=table.label,
                seat_ids=list(table.seat_ids),
                sold_as_whole=table.sold_as_whole,
                shape=None if table.shape is None else shape_entry(table.shape),
            )
            for table in layout.tables
        ],
        shapes=[shape_entry(shape) for shape in layout.shapes],
        focus=None if layout.focus is None else Position(x=layout.focus.x, y=layout.focus.y),
        blocked=dict(layout.blocked),
    )
