"""The seat transactions' runner: on the event loop for a SQLite file, on a writer thread while another
connection holds the write lock, on the async engine otherwise."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from server.storage.migrations import apply_migrations
from server.storage.seed import create_showtime
from server.storage.tables import showtime
from server.storage.writer import CHECKPOINT_EVERY, Transactions
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


def database_file(engine: AsyncEngine) -> Path:
    assert engine.url.database is not None
    return Path(engine.url.database)


async def test_a_sqlite_file_is_written_on_the_event_loop_and_read_by_the_engine(engine: AsyncEngine) -> None:
    transactions = Transactions(engine)
    try:
        done = [await transactions.run(bump) for _ in range(3)]
    finally:
        await transactions.close()
    assert done == [(n, threading.current_thread().name) for n in (1, 2, 3)]
    assert await seq(engine) == 3  # committed, and visible to the async engine's connections


async def test_while_another_connection_holds_the_write_lock_the_change_waits_on_the_writer_thread(
    engine: AsyncEngine,
) -> None:
    other = sqlite3.connect(database_file(engine), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE showtime SET seq = 10 WHERE id = ?", (SHOWTIME,))
    transactions = Transactions(engine)
    try:
        waiting = asyncio.create_task(transactions.run(bump))
        await asyncio.sleep(0)  # it tried the loop's connection, found the lock taken and went to the thread
        assert not waiting.done()
        other.execute("COMMIT")
        seq_after, thread = await waiting
    finally:
        other.close()
        await transactions.close()
    assert seq_after == 11  # decided on what the other transaction left
    assert thread.startswith("seat-writer")


async def test_a_body_that_raises_leaves_nothing_behind(engine: AsyncEngine) -> None:
    def bump_then_fail(conn: Connection) -> None:
        bump(conn)
        raise LookupError("refused after writing")

    transactions = Transactions(engine)
    try:
        with pytest.raises(LookupError):
            await transactions.run(bump_then_fail)
        seq_after, _ = await transactions.run(bump)  # the connection is usable again
    finally:
        await transactions.close()
    assert seq_after == 1
    assert await seq(engine) == 1


async def test_the_log_is_checkpointed_so_it_stops_growing(engine: AsyncEngine) -> None:
    log = database_file(engine).with_name(database_file(engine).name + "-wal")
    transactions = Transactions(engine)
    sizes = []
    try:
        for _ in range(6):
            for _ in range(CHECKPOINT_EVERY):
                await transactions.run(bump)
            sizes.append(log.stat().st_size)
    finally:
        await transactions.close()
    assert await seq(engine) == 6 * CHECKPOINT_EVERY
    assert sizes[-1] <= 2 * sizes[0]  # without checkpoints it grows by as much again with every round


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
