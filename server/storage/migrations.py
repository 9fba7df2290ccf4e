"""Apply the checked-in Prisma migrations at start, recording them as ``prisma migrate deploy`` does.

Each ``prisma/<history>/<name>/migration.sql`` is applied once, in name order, in its own transaction,
with a row in ``_prisma_migrations`` (checksum = SHA-256 of the file), so Prisma's own tools see the
database as up to date. On PostgreSQL, Prisma's advisory lock keeps concurrent starters (several
server instances, or the Prisma CLI) from applying the same migration twice.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.storage.database import WRITE, is_sqlite

__all__ = ["Migration", "apply_migrations", "pending_migrations", "prisma_dir"]

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


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str
    checksum: str

    @classmethod
    def read(cls, folder: Path) -> Migration:
        raw = (folder / "migration.sql").read_bytes()
        return cls(folder.name, raw.decode(), hashlib.sha256(raw).hexdigest())

    def statements(self) -> list[str]:
        """Split on the semicolons that end Prisma's statements; drivers take one statement at a time."""
        lines = [line for line in self.sql.splitlines() if not line.lstrip().startswith("--")]
        return [statement.strip() for statement in "\n".join(lines).split(";\n") if statement.strip(" ;\n")]


def prisma_dir() -> Path:
    """``prisma/`` of a source checkout, or the copy a wheel carries inside the package."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package.parent / "prisma", package / "prisma"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("prisma/ migrations not found beside or inside the server package")


def history(dialect: str) -> list[Migration]:
    root = prisma_dir() / ("migrations" if dialect == "sqlite" else "postgresql/migrations")
    return [Migration.read(folder) for folder in sorted(root.iterdir()) if (folder / "migration.sql").is_file()]


async def pending_migrations(conn: AsyncConnection) -> list[Migration]:
    dialect = conn.dialect.name
    await conn.execute(text(BOOKKEEPING_DDL[dialect]))
    rows = await conn.execute(
        text(
            'SELECT migration_name, checksum FROM "_prisma_migrations" '
            "WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL"
        )
    )
    applied: dict[str, str] = {name: checksum for name, checksum in rows}
    migrations = history(dialect)
    for migration in migrations:
        if migration.name in applied and applied[migration.name] != migration.checksum:
            log.warning("migration %s was modified after it was applied", migration.name)
    return [migration for migration in migrations if migration.name not in applied]


async def apply_migrations(engine: AsyncEngine) -> list[str]:
    """Bring the schema up to date; return the names of the migrations applied now."""
    applied: list[str] = []
    async with engine.connect() as lock_holder:
        if not is_sqlite(engine):
            await lock_holder.execute(text(f"SELECT pg_advisory_lock({PRISMA_ADVISORY_LOCK})"))
            await lock_holder.commit()
        try:
            async with engine.begin() as conn:
                pending = await pending_migrations(conn)
            for migration in pending:
                async with engine.execution_options(**WRITE).begin() as conn:
                    await _apply(conn, migration)
                log.info("applied migration %s", migration.name)
                applied.append(migration.name)
        finally:
            if not is_sqlite(engine):
                await lock_holder.execute(text(f"SELECT pg_advisory_unlock({PRISMA_ADVISORY_LOCK})"))
                await lock_holder.commit()
    return applied


async def _apply(conn: AsyncConnection, migration: Migration) -> None:
    started_at = _timestamp(conn)
    for statement in migration.statements():
        await conn.exec_driver_sql(statement)
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


def _timestamp(conn: AsyncConnection) -> datetime | str:
    """Now, as Prisma stores it: TIMESTAMPTZ on PostgreSQL, ISO 8601 text with milliseconds on SQLite."""
    now = datetime.now(UTC)
    return now.isoformat(timespec="milliseconds") if conn.dialect.name == "sqlite" else now
