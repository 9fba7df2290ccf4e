"""Apply the checked-in Prisma migrations at start, recording them as ``prisma migrate deploy`` does.

Each ``prisma/<history>/<name>/migration.sql`` is applied once, in name order, in its own transaction,
with a row in ``_prisma_migrations`` (checksum = SHA-256 of the file), so Prisma's own tools see the
database as up to date. On PostgreSQL, Prisma's advisory lock keeps concurrent starters (several
server instances, or the Prisma CLI) from applying the same migration twice; on SQLite the write lock
taken up front and a second look at the bookkeeping inside the transaction do.

A script runs as Prisma runs it: on PostgreSQL as one multi-statement query, on SQLite cut into
statements where SQLite itself says one is complete, so semicolons in literals, comments, function
bodies and triggers are never taken for the end of a statement.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.storage.database import WRITE, is_sqlite

__all__ = ["Migration", "MigrationError", "apply_migrations", "pending_migrations", "prisma_dir", "sqlite_statements"]

log = logging.getLogger(__name__)

# The key `prisma migrate` itself takes, so the server and the CLI exclude each other too.
PRISMA_ADVISORY_LOCK = 72707369

BOOKKEEPING_DDL = {
    "sqlite": """CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)""",
    "postgresql": """CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)""",
}


class MigrationError(SQLAlchemyError):
    """A migration script the database rejected; nothing of it, nor its bookkeeping row, was committed."""


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str
    checksum: str

    @classmethod
    def read(cls, folder: Path) -> Migration:
        raw = (folder / "migration.sql").read_bytes()
        return cls(folder.name, raw.decode(), hashlib.sha256(raw).hexdigest())


def sqlite_statements(script: str) -> list[str]:
    """The statements of a SQLite script, for a driver that takes one at a time, cut as the sqlite3 shell cuts them."""
    statements: list[str] = []
    start = 0
    for semicolon in re.finditer(";", script):
        candidate = script[start : semicolon.end()]
        if sqlite3.complete_statement(candidate):
            statements.append(candidate.strip())
            start = semicolon.end()
    # A last statement without its semicolon still runs; an unfinished one (an open literal) fails there.
    if tail := script[start:].strip():
        statements.append(tail)
    return statements


def prisma_dir() -> Path:
    """``prisma/`` of a source checkout, or the copy a wheel carries inside the package."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package.parent / "prisma", package / "prisma"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("prisma/ migrations not found beside or inside the server package")


def history(dialect: str, root: Path | None = None) -> list[Migration]:
    """The migrations in ``root``, by default the checked-in history of ``dialect``, in the order they apply."""
    root = root or prisma_dir() / ("migrations" if dialect == "sqlite" else "postgresql/migrations")
    return [Migration.read(folder) for folder in sorted(root.iterdir()) if (folder / "migration.sql").is_file()]


async def pending_migrations(conn: AsyncConnection, root: Path | None = None) -> list[Migration]:
    dialect = conn.dialect.name
    await conn.execute(text(BOOKKEEPING_DDL[dialect]))
    rows = await conn.execute(
        text(
            'SELECT migration_name, checksum FROM "_prisma_migrations" '
            "WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL"
        )
    )
    applied: dict[str, str] = {name: checksum for name, checksum in rows}
    migrations = history(dialect, root)
    for migration in migrations:
        if migration.name in applied and applied[migration.name] != migration.checksum:
            log.warning("migration %s was modified after it was applied", migration.name)
    return [migration for migration in migrations if migration.name not in applied]


async def apply_migrations(engine: AsyncEngine, root: Path | None = None) -> list[str]:
    """Bring the schema up to date with the history in ``root`` (default: the checked-in one of the engine's
    database); return the names of the migrations applied now."""
    applied: list[str] = []
    async with engine.connect() as lock_holder:
        if not is_sqlite(engine):
            await lock_holder.execute(text(f"SELECT pg_advisory_lock({PRISMA_ADVISORY_LOCK})"))
            await lock_holder.commit()
        try:
            async with engine.begin() as conn:
                pending = await pending_migrations(conn, root)
            for migration in pending:
                async with engine.execution_options(**WRITE).begin() as conn:
                    if not await _apply(conn, migration):
                        continue
                log.info("applied migration %s", migration.name)
                applied.append(migration.name)
        finally:
            if not is_sqlite(engine):
                await lock_holder.execute(text(f"SELECT pg_advisory_unlock({PRISMA_ADVISORY_LOCK})"))
                await lock_holder.commit()
    return applied


async def _apply(conn: AsyncConnection, migration: Migration) -> bool:
    """Run ``migration`` and record it in the caller's transaction; False if another starter recorded it first."""
    # Also the transaction's first statement: SQLAlchemy's asyncpg adapter sends BEGIN with the first
    # statement it runs, and the script, which bypasses SQLAlchemy, must run inside that transaction.
    recorded = await conn.execute(
        text(
            'SELECT 1 FROM "_prisma_migrations" '
            "WHERE migration_name = :name AND finished_at IS NOT NULL AND rolled_back_at IS NULL"
        ),
        {"name": migration.name},
    )
    if recorded.first() is not None:
        return False
    started_at = _timestamp(conn)
    try:
        await _run_script(conn, migration.sql)
    except (SQLAlchemyError, asyncpg.PostgresError) as error:
        raise MigrationError(f"migration {migration.name} failed: {error}") from error
    await conn.execute(
        text(
            'INSERT INTO "_prisma_migrations" '
            "(id, checksum, migration_name, started_at, finished_at, applied_steps_count) "
            "VALUES (:id, :checksum, :name, :started_at, :finished_at, 1)"
        ),
        {
            "id": str(uuid.uuid4()),
            "checksum": migration.checksum,
            "name": migration.name,
            "started_at": started_at,
            "finished_at": _timestamp(conn),
        },
    )
    return True


async def _run_script(conn: AsyncConnection, script: str) -> None:
    if conn.dialect.name == "sqlite":
        for statement in sqlite_statements(script):
            await conn.exec_driver_sql(statement)
        return
    # asyncpg runs a script given without arguments as one simple query, however many statements it holds.
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None or not driver.is_in_transaction():
        raise RuntimeError("a PostgreSQL migration must run inside the transaction that records it")
    await driver.execute(script)


def _timestamp(conn: AsyncConnection) -> datetime | str:
    """Now, as Prisma stores it: TIMESTAMPTZ on PostgreSQL, ISO 8601 text with milliseconds on SQLite."""
    now = datetime.now(UTC)
    return now.isoformat(timespec="milliseconds") if conn.dialect.name == "sqlite" else now
