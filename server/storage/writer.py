"""Runs the seat transactions: a synchronous body given a connection, read-decide-write in one go.

A seat change is a handful of small statements (lock the showtime, read the claims, write holds, events
and ``seq``) around a pure rule, so its cost is the trips to the database, not the database's work. On
SQLite through aiosqlite every statement is a trip to aiosqlite's thread and back; here the whole body runs
in one dedicated writer thread on a connection of its own, one trip per transaction, while the event loop
goes on reading requests (which then share the next transaction: see :mod:`server.group_commit`). SQLite
takes one writer at a time anyway, so one thread loses nothing. On PostgreSQL, and on an in-memory SQLite
database that a second connection could not see, the body runs on the async engine's connection through
SQLAlchemy's greenlet bridge, statement by statement as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.database import WRITE, take_over_sqlite_transactions

__all__ = ["Transactions"]

T = TypeVar("T")
Body = Callable[[Connection], T]


class Transactions:
    """Write transactions on ``engine``'s database; ``run(body)`` commits what ``body`` did, or rolls it back
    if it raised."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(**WRITE)
        self._thread: ThreadPoolExecutor | None = None
        self._own: Engine | None = None
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            self._own = create_engine(engine.url.set(drivername="sqlite"), pool_size=1, max_overflow=0)
            take_over_sqlite_transactions(self._own)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seat-writer")

    async def run(self, body: Body[T]) -> T:
        if self._thread is None:
            async with self._engine.begin() as conn:
                return await conn.run_sync(body)
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_thread, body)

    def _in_thread(self, body: Body[T]) -> T:
        assert self._own is not None
        with self._own.execution_options(**WRITE).begin() as conn:
            return body(conn)

    async def close(self) -> None:
        """Let the transaction under way finish, then close the writer's connection (in its thread)."""
        if self._thread is not None and self._own is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._own.dispose)
            self._thread.shutdown()
