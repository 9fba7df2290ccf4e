"""The seat transactions' runner: one dedicated thread for a SQLite file, the async engine otherwise."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from server.storage.migrations import apply_migrations
from server.storage.seed import create_showtime
from server.storage.tables import showtime
from server.storage.writer import Transactions
from tests.unit.database import SHOWTIME, engine

__all__ = ["engine"]


def bump(conn: Connection) -> tuple[int, str]:
    """Add one to the showtime's seq; what it is now, and which thread did it."""
    conn.execute(update(showtime).where(showtime.c.id == SHOWTIME).values(seq=showtime.c.seq + 1))
    seq = conn.execute(select(showtime.c.seq).where(showtime.c.id == SHOWTIME)).scalar_one()
    return int(seq), threading.current_thread().name


async def seq(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(showtime.c.seq).where(showtime.c.id == SHOWTIME))).scalar_one())


async def test_a_sqlite_file_is_written_by_one_thread_of_its_own_and_read_by_the_engine(engine: AsyncEngine) -> None:
    transactions = Transactions(engine)
    try:
        done = [await transactions.run(bump) for _ in range(3)]
    finally:
        await transactions.close()
    assert [seq for seq, _ in done] == [1, 2, 3]
    threads = {thread for _, thread in done}
    assert len(threads) == 1
    assert threads != {threading.current_thread().name}
    assert await seq(engine) == 3  # committed, and visible to the async engine's connections


async def test_a_body_that_raises_leaves_nothing_behind(engine: AsyncEngine) -> None:
    def bump_then_fail(conn: Connection) -> None:
        bump(conn)
        raise LookupError("refused after writing")

    transactions = Transactions(engine)
    try:
        with pytest.raises(LookupError):
            await transactions.run(bump_then_fail)
        seq_after, _ = await transactions.run(bump)  # the writer's connection is usable again
    finally:
        await transactions.close()
    assert seq_after == 1
    assert await seq(engine) == 1


async def test_an_in_memory_database_is_written_through_the_engine_itself() -> None:
    memory = create_async_engine("sqlite+aiosqlite:///:memory:")  # one connection, kept: the database lives in it
    try:
        await apply_migrations(memory)
        await create_showtime(memory, rows=1, seats_per_row=2, title="Memory", starts_at=0, showtime_id=SHOWTIME)
        transactions = Transactions(memory)
        seq_now, thread = await transactions.run(bump)
        await transactions.close()
        assert (seq_now, thread) == (1, threading.current_thread().name)  # a second connection would see nothing
        assert await seq(memory) == 1
    finally:
        await memory.dispose()
