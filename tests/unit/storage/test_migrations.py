"""The server's own migration runner: Prisma's bookkeeping, once per migration, whoever starts first."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from server.storage.database import create_engine
from server.storage.migrations import BOOKKEEPING_DDL, _apply, apply_migrations, history
from tests.services import create_database, drop_database


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


async def test_instances_starting_together_apply_each_migration_once(postgres_url: str) -> None:
    url = await create_database("seats_migrate")
    engines = [create_engine(url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(apply_migrations(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    try:
        assert sorted(len(names) for names in results) == [0, 0, len(history("postgresql"))]
        assert await applied_names(url) == [m.name for m in history("postgresql")]
    finally:
        await drop_database(url)
