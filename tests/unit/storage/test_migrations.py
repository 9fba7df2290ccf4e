"""The server's own migration runner: Prisma's bookkeeping, once per migration, whoever starts first."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.database import create_engine
from server.storage.migrations import (
    BOOKKEEPING_DDL,
    MigrationError,
    _apply,
    apply_migrations,
    history,
    sqlite_statements,
)


async def applied_names(url: str) -> list[str]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(text('SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name'))
        names = list(rows.scalars())
    await engine.dispose()
    return names


async def test_a_fresh_database_gets_every_migration_once(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        first = await apply_migrations(engine)
        again = await apply_migrations(engine)
    finally:
        await engine.dispose()
    expected = [migration.name for migration in history(engine.dialect.name)]
    assert again == []
    assert (await applied_names(database_url))[-len(expected) :] == expected
    assert not first or first == expected  # a shared database may have been migrated by an earlier test


async def test_an_older_database_is_brought_up_to_date(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    engine = create_engine(url)
    migrations = history("sqlite")
    try:
        async with engine.begin() as conn:
            await conn.execute(text(BOOKKEEPING_DDL["sqlite"]))
            await _apply(conn, migrations[0])  # a database from before the later migrations
        assert await apply_migrations(engine) == [m.name for m in migrations[1:]]
    finally:
        await engine.dispose()
    assert await applied_names(url) == [m.name for m in migrations]


async def test_instances_starting_together_apply_each_migration_once(empty_database_url: str) -> None:
    """PostgreSQL serializes the starters with Prisma's advisory lock, SQLite with its write lock and a second look."""
    engines = [create_engine(empty_database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(apply_migrations(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    names = [m.name for m in history(engines[0].dialect.name)]
    assert sorted(name for applied in results for name in applied) == names
    assert await applied_names(empty_database_url) == names


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ("CREATE TABLE a (x);\nCREATE TABLE b (x);\n", ["CREATE TABLE a (x);", "CREATE TABLE b (x);"]),
        ("INSERT INTO a VALUES ('a;\nb');\n", ["INSERT INTO a VALUES ('a;\nb');"]),
        ("INSERT INTO a VALUES ('it''s;');", ["INSERT INTO a VALUES ('it''s;');"]),
        ("-- a comment; not a statement\nSELECT 1;", ["-- a comment; not a statement\nSELECT 1;"]),
        ("/* one; */ SELECT 1; SELECT 2;", ["/* one; */ SELECT 1;", "SELECT 2;"]),
        (
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END;",
            ["CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END;"],
        ),
        ("SELECT 1;\nSELECT 2", ["SELECT 1;", "SELECT 2"]),
        ("SELECT 1;\n-- the end\n", ["SELECT 1;", "-- the end"]),
    ],
)
def test_sqlite_scripts_are_cut_where_sqlite_says_a_statement_ends(script: str, statements: list[str]) -> None:
    assert sqlite_statements(script) == statements


# Each line of these scripts that ends in a semicolon inside a literal or a body broke the old runner's cut.
FIRST = """-- CreateTable
CREATE TABLE "note" (
    "id" INTEGER NOT NULL PRIMARY KEY,
    "body" TEXT NOT NULL
);

INSERT INTO "note" ("id", "body") VALUES (1, 'a;
b');
INSERT INTO "note" ("id", "body") VALUES (2, '-- not a comment;
'); INSERT INTO "note" ("id", "body") VALUES (3, 'it''s; "quoted";');
"""
SECOND = {
    "sqlite": """CREATE TABLE "note_log" ("body" TEXT NOT NULL);

CREATE TRIGGER "note_logged" AFTER INSERT ON "note" BEGIN
    INSERT INTO "note_log" ("body") VALUES (NEW."body" || ';
');
END;

INSERT INTO "note" ("id", "body") VALUES (4, 'four');
INSERT INTO "note" ("id", "body") VALUES (5, 'five')
""",
    "postgresql": """DO $$
DECLARE
    i integer;
BEGIN
    FOR i IN 4..5 LOOP
        INSERT INTO "note" ("id", "body") VALUES (i, CASE i WHEN 4 THEN 'four' ELSE 'five' END);
    END LOOP;
END
$$;

CREATE FUNCTION "note_log"() RETURNS TABLE ("body" TEXT) LANGUAGE plpgsql AS $body$
BEGIN
    RETURN QUERY SELECT "note"."body" || ';
' FROM "note" WHERE "note"."id" >= 4;
END;
$body$;
""",
}
NOTES = [(1, "a;\nb"), (2, "-- not a comment;\n"), (3, 'it\'s; "quoted";'), (4, "four"), (5, "five")]
NOTE_LOG = {"sqlite": 'SELECT "body" FROM "note_log"', "postgresql": 'SELECT "body" FROM "note_log"()'}


def write_history(root: Path, scripts: list[str]) -> list[tuple[str, str]]:
    """Migration folders under ``root``, as Prisma lays them out; their names and checksums."""
    written = []
    for number, script in enumerate(scripts, 1):
        folder = root / f"2099010100000{number}_step_{number}"
        folder.mkdir(parents=True)
        (folder / "migration.sql").write_text(script)
        written.append((folder.name, hashlib.sha256(script.encode()).hexdigest()))
    return written


async def bookkeeping_rows(conn: AsyncConnection) -> list[tuple[Any, ...]]:
    rows = await conn.execute(
        text(
            "SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count"
            ' FROM "_prisma_migrations" ORDER BY migration_name'
        )
    )
    return [tuple(row) for row in rows]


def instant(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


async def test_literals_and_bodies_holding_semicolons_arrive_intact(empty_database_url: str, tmp_path: Path) -> None:
    engine = create_engine(empty_database_url)
    dialect = engine.dialect.name
    written = write_history(tmp_path / "history", [FIRST, SECOND[dialect]])
    try:
        assert await apply_migrations(engine, tmp_path / "history") == [name for name, _ in written]
        assert await apply_migrations(engine, tmp_path / "history") == []
        async with engine.connect() as conn:
            notes = [tuple(row) for row in await conn.execute(text('SELECT "id", "body" FROM "note" ORDER BY "id"'))]
            log = sorted((await conn.execute(text(NOTE_LOG[dialect]))).scalars())
            rows = await bookkeeping_rows(conn)
    finally:
        await engine.dispose()
    assert notes == NOTES
    assert log == ["five;\n", "four;\n"]
    assert [
        (name, checksum, logs, rolled_back, steps) for _, checksum, _, name, logs, rolled_back, _, steps in rows
    ] == [(name, checksum, None, None, 1) for name, checksum in written]
    for id_, _, finished, _, _, _, started, _ in rows:
        assert uuid.UUID(id_).version == 4
        assert instant(started) <= instant(finished)


async def test_a_failing_migration_leaves_neither_changes_nor_a_record(empty_database_url: str, tmp_path: Path) -> None:
    engine = create_engine(empty_database_url)
    broken = 'CREATE TABLE "half" ("id" INTEGER NOT NULL);\nINSERT INTO "half" ("id") VALUES (1);\nINSERT INTO "missing" VALUES (1);\n'
    written = write_history(tmp_path / "history", [FIRST, broken])
    try:
        with pytest.raises(MigrationError, match=written[1][0]):
            await apply_migrations(engine, tmp_path / "history")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
            rows = await bookkeeping_rows(conn)
    finally:
        await engine.dispose()
    assert "note" in tables
    assert "half" not in tables
    assert [(name, checksum) for _, checksum, _, name, *_ in rows] == [written[0]]
