"""The checked-in Prisma migrations match schema.prisma, and Prisma agrees with what the server applies.

These run the pinned Prisma CLI (node_modules, from `npm ci`) and, for PostgreSQL, psql and pg_dump. With
CI=true a missing tool or server fails the test; elsewhere the test is skipped, saying why.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

ROOT = Path(__file__).resolve().parents[2]
PRISMA_CLI = ROOT / "node_modules" / ".bin" / "prisma"
POSTGRES_URL = os.environ.get("PRISMA_CHECK_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
UP_TO_DATE = "Database schema is up to date!"  # what `prisma migrate status` prints, exit code 0


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI requires it", pytrace=False)
    pytest.skip(reason)


def require_prisma() -> None:
    if not PRISMA_CLI.exists():
        unavailable("node_modules/.bin/prisma is missing: run `npm ci`")


def require_postgres() -> None:
    if not (shutil.which("psql") and shutil.which("pg_dump")):
        unavailable("psql and pg_dump are needed to check the PostgreSQL migrations")
    env = os.environ | {"PGCONNECT_TIMEOUT": "5"}
    probe = subprocess.run(["psql", POSTGRES_URL, "-qXAtc", "SELECT 1"], capture_output=True, text=True, env=env)
    if probe.returncode != 0:
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL}: {probe.stderr.strip()}")


def prisma(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": f"file:{database}"}
    return subprocess.run(
        [ROOT / "scripts" / "prisma", *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


async def migrate_with_server(database: Path) -> list[str]:
    from server.storage.database import create_engine
    from server.storage.migrations import apply_migrations

    engine = create_engine(f"sqlite:///{database}")
    try:
        return await apply_migrations(engine)
    finally:
        await engine.dispose()


def bookkeeping(database: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The schema and the `_prisma_migrations` rows, with the id and the instants reduced to their formats."""

    def shape(instant: object) -> object:
        return re.sub(r"\d", "0", instant) if isinstance(instant, str) else instant

    with closing(sqlite3.connect(database)) as db:
        schema = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall()
        rows = db.execute(
            "SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count"
            " FROM _prisma_migrations ORDER BY migration_name"
        ).fetchall()
    return schema, [
        (
            f"uuid v{uuid.UUID(id_).version}",
            checksum,
            shape(finished),
            name,
            logs,
            shape(rolled_back),
            shape(started),
            steps,
        )
        for id_, checksum, finished, name, logs, rolled_back, started, steps in rows
    ]


def test_checked_in_migrations_match_schema() -> None:
    require_prisma()
    require_postgres()
    done = subprocess.run(
        [sys.executable, ROOT / "scripts" / "prisma_migrations.py", "check"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def test_prisma_sees_server_migrations_as_up_to_date(tmp_path: Path) -> None:
    require_prisma()
    database = tmp_path / "server.db"
    applied = await migrate_with_server(database)
    assert applied == sorted(path.parent.name for path in (ROOT / "prisma" / "migrations").glob("*/migration.sql"))
    status = prisma(database, "migrate", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert UP_TO_DATE in status.stdout


async def test_server_writes_the_rows_prisma_migrate_deploy_writes(tmp_path: Path) -> None:
    """`migrate status` reads neither checksums nor timestamps, but `migrate dev` and Prisma's ordering do."""
    require_prisma()
    await migrate_with_server(tmp_path / "server.db")
    deploy = prisma(tmp_path / "prisma.db", "migrate", "deploy")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert bookkeeping(tmp_path / "server.db") == bookkeeping(tmp_path / "prisma.db")


# Every construct scripts/generate_tables.py maps, each where it differs from the seat schema's use of it.
EVERY_CONSTRUCT = """datasource db {
  provider = "sqlite"
  url      = env("DATABASE_URL")
}

/// A model with a self-relation.
model Kind {
  id       Int       @id @map("kind_id")
  label    String    @unique
  ratio    Float     @default(1.5)
  active   Boolean   @default(true)
  seen     DateTime  @default(now())
  maybe    DateTime?
  big      BigInt?   @default(-3)
  note     String?   @default("it's \\"quoted\\"")
  parentId Int?      @map("parent_id")
  parent   Kind?     @relation("tree", fields: [parentId], references: [id], onDelete: Cascade)
  children Kind[]    @relation("tree")
  parts    Part[]
  profile  Profile?

  @@unique([ratio, active], map: "kind_ratio_active")
  @@index([seen])
  @@map("kind")
}

model Part {
  a      String
  b      Int
  kindId Int    @map("kind_id")
  kind   Kind   @relation(fields: [kindId], references: [id], onUpdate: NoAction)

  @@id([b, a])
  @@index([b, a], map: "part_b_a")
}

model Profile {
  id     String @id @default("me")
  kindId Int?   @unique
  kind   Kind?  @relation(fields: [kindId], references: [id])
}
"""


def generated_metadata(schema: Path) -> MetaData:
    """The ``metadata`` of the tables module scripts/generate_tables.py writes from ``schema``."""
    generated = subprocess.run(
        [sys.executable, ROOT / "scripts" / "generate_tables.py", "--schema", schema, "--output", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    module: dict[str, Any] = {}
    exec(generated.stdout, module)
    metadata: MetaData = module["metadata"]
    return metadata


@pytest.mark.parametrize("provider", ["sqlite", "postgresql"])
async def test_generated_tables_match_what_prisma_creates_from_every_construct(provider: str, tmp_path: Path) -> None:
    from server.storage.database import create_engine
    from server.storage.migrations import apply_migrations
    from tests.schema_diff import schema_differences
    from tests.services import create_database, drop_database

    require_prisma()
    schema = tmp_path / "schema.prisma"
    schema.write_text(EVERY_CONSTRUCT.replace('"sqlite"', f'"{provider}"', 1))
    script = tmp_path / "history" / "20990101000000_every_construct" / "migration.sql"
    script.parent.mkdir(parents=True)
    diff = prisma(
        tmp_path / "unused.db",
        "migrate",
        "diff",
        "--from-empty",
        "--to-schema-datamodel",
        str(schema),
        "--script",
        "--output",
        str(script),
    )
    assert diff.returncode == 0, diff.stdout + diff.stderr
    metadata = generated_metadata(schema)
    url = f"sqlite:///{tmp_path / 'every.db'}" if provider == "sqlite" else await create_database("seats_every")
    engine = create_engine(url)
    try:
        assert await apply_migrations(engine, script.parent.parent) == [script.parent.name]
        assert await schema_differences(engine, metadata) == []
    finally:
        await engine.dispose()
        if provider == "postgresql":
            await drop_database(url)
