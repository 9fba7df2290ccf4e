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

import pytest

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
