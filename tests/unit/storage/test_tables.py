"""server/storage/tables.py is what prisma/schema.prisma generates, and what the migrations build agrees with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import BigInteger, Column, MetaData, PrimaryKeyConstraint, Text
from sqlalchemy.exc import SAWarning

from server.storage import tables
from server.storage.database import create_engine
from server.storage.migrations import apply_migrations
from tests.schema_diff import schema_differences

ROOT = Path(__file__).resolve().parents[3]
GENERATOR = ROOT / "scripts" / "generate_tables.py"
SETTINGS = 'datasource db {\n  provider = "sqlite"\n  url      = env("DATABASE_URL")\n}\n\n'


def generate(schema: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, GENERATOR, "--schema", schema, "--output", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_checked_in_tables_are_what_the_schema_generates() -> None:
    done = generate(ROOT / "prisma" / "schema.prisma")
    assert done.returncode == 0, done.stderr
    assert (ROOT / "server" / "storage" / "tables.py").read_text() == done.stdout, (
        "server/storage/tables.py is stale: run scripts/generate_tables.py"
    )


async def test_the_tables_agree_with_the_database_the_migrations_build(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        await apply_migrations(engine)
        assert await schema_differences(engine, tables.metadata) == []
    finally:
        await engine.dispose()


async def test_the_comparison_sees_each_kind_of_disagreement(tmp_path: Path) -> None:
    changed = MetaData()
    for table in tables.metadata.tables.values():
        table.to_metadata(changed)
    venue, seat, hold, event = (changed.tables[name] for name in ("venue", "layout_seat", "seat_hold", "seat_event"))
    venue.append_column(Column("city", Text, nullable=False))
    venue.c.name.nullable = True
    seat.c.position.type = BigInteger()
    hold.indexes.remove(next(index for index in hold.indexes if index.name == "seat_hold_expires_at_idx"))
    with pytest.warns(SAWarning, match="primary_key"):  # SQLAlchemy's note that the key is replaced
        event.append_constraint(PrimaryKeyConstraint("showtime_id"))
    next(iter(seat.foreign_key_constraints)).ondelete = "CASCADE"
    engine = create_engine(f"sqlite:///{tmp_path / 'seats.db'}")
    try:
        await apply_migrations(engine)
        differences = await schema_differences(engine, changed)
    finally:
        await engine.dispose()
    expected = [
        "only in the database: column layout_seat.position INTEGER NOT NULL",
        "only in the database: column venue.name TEXT NOT NULL",
        "only in the database: index seat_hold_expires_at_idx on seat_hold (expires_at)",
        "only in the database: primary key seat_event (showtime_id, seq)",
        "only in the tables: column layout_seat.position BIGINT NOT NULL",
        "only in the tables: column venue.city TEXT NOT NULL",
        "only in the tables: column venue.name TEXT NULL",
        "only in the tables: primary key seat_event (showtime_id)",
    ]
    assert [line for line in differences if "foreign key" not in line] == expected
    assert [line.partition(" on delete ")[2] for line in differences if "foreign key" in line] == [
        "RESTRICT on update CASCADE",
        "CASCADE on update CASCADE",
    ]


def model(field: str) -> str:
    """A schema whose line 8 is ``field``."""
    return SETTINGS + f"model Thing {{\n  id String @id\n  {field}\n}}\n"


@pytest.mark.parametrize(
    ("schema", "error"),
    [
        (SETTINGS + "enum Colour {\n  RED\n}\n", "line 6: 'enum' blocks are not supported"),
        (SETTINGS + "view Totals {\n  id String\n}\n", "line 6: 'view' blocks are not supported"),
        (model("price Decimal"), "line 8: type Decimal of field 'price' is not supported"),
        (model("blob Json?"), "line 8: type Json of field 'blob' is not supported"),
        (model('area Unsupported("circle")'), "line 8: type Unsupported(...) of field 'area' is not supported"),
        (model("tags String[]"), "line 8: scalar list String[] of field 'tags' is not supported"),
        (model("name String @db.VarChar(20)"), "line 8: @db.VarChar on field 'name' is not supported"),
        (model("changed DateTime @updatedAt"), "line 8: @updatedAt on field 'changed' is not supported"),
        (model("key String @default(uuid())"), "line 8: this @default of String field 'key' is not supported"),
        (model("count Int @default(1.5)"), "line 8: this @default of Int field 'count' is not supported"),
        (model("code String @unique(length: 10)"), "line 8: argument 'length' of @unique is not supported"),
        (model("n Int\n  @@index([n(sort: Desc)])"), "line 9: fields of @@index may hold plain field names only"),
        (model("n Int\n  @@index([n], type: Hash)"), "line 9: argument 'type' of @@index is not supported"),
        (model('n Int\n  @@unique([n], name: "byN")'), "line 9: argument 'name' of @@unique is not supported"),
        (model("n Int\n  @@index([m])"), "line 9: model Thing has no scalar field 'm'"),
        (model("n Int\n  @@ignore"), "line 9: @@ignore is not supported"),
        (model('n Int\n  @@schema("other")'), "line 9: @@schema is not supported"),
        (model("n Int @id"), "line 8: model Thing has two primary keys"),
        (
            model('other Thing @relation(fields: [id], references: [id], map: "fk")'),
            "line 8: argument 'map' of @relation",
        ),
        (
            model("other Thing @relation(fields: [id], references: [id], onDelete: Wipe)"),
            "line 8: onDelete must be one of",
        ),
        (model("n Int /* note */"), "line 8: unexpected character '/'"),
    ],
)
def test_what_the_generator_cannot_map_stops_it_with_the_line(tmp_path: Path, schema: str, error: str) -> None:
    path = tmp_path / "schema.prisma"
    path.write_text(schema)
    done = generate(path)
    assert (done.returncode, done.stdout) == (1, "")
    assert f"error: {path}: {error}" in done.stderr
