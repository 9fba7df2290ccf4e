"""Runs the seat transactions: a synchronous body given a connection, read-decide-write in one go.

A seat change is a handful of small statements (lock the showtime, read the claims, write holds, events
and ``seq``) around a pure rule, so its cost is the trips to the database, not the database's work. Through
aiosqlite every statement is a trip to aiosqlite's thread and back, and while that thread runs Python it
contends with the event loop for the GIL on every system call either makes. So on a SQLite file the body
runs right on the event loop, on a connection of its own: in WAL mode with ``synchronous=NORMAL`` a commit
appends a few pages to the log without waiting for the disk, which costs less than one trip to a thread.
Two things could make it wait, and both are kept off the loop:

- another writer (another instance, or this one's other stores) holding SQLite's write lock: the loop's
  connection does not wait (``busy_timeout`` 0); the transaction is run again, whole, on a writer thread
  that waits for the lock as every other connection does. A body only reads and writes through its
  connection, so running it again is safe;
- checkpoints, which copy the log into the database and sync it: the loop's connection never starts one;
  the writer thread runs one every ``CHECKPOINT_EVERY`` transactions, holding the write lock so that the
  log starts over afterwards (changes meanwhile find the lock taken and wait for it on that thread).

On PostgreSQL, and on an in-memory SQLite database that a second connection could not see, the body runs
on the async engine's connection through SQLAlchemy's greenlet bridge, statement by statement.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import sqlalchemy
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.database import WRITE, take_over_sqlite_transactions

__all__ = ["CHECKPOINT_EVERY", "Transactions"]

T = TypeVar("T")
Body = Callable[[Connection], T]

CHECKPOINT_EVERY = 200  # transactions on the loop between checkpoints (each writes a few pages)


class Transactions:
    """Write transactions on ``engine``'s database; ``run(body)`` commits what ``body`` did, or rolls it back
    if it raised."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(**WRITE)
        self._here: Engine | None = None  # on a SQLite file: the event loop's connection ...
        self._there: Engine | None = None  # ... and the writer thread's
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seat-writer")
        self._since_checkpoint = 0
        self._checkpoint: Future[None] | None = None
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            url = engine.url.set(drivername="sqlite")
            self._here = _sqlite_engine(url, "busy_timeout=0", "wal_autocheckpoint=0")
            self._there = _sqlite_engine(url)

    async def run(self, body: Body[T]) -> T:
        if self._here is None:
            async with self._engine.begin() as conn:
                return await conn.run_sync(body)
        try:
            done = _transaction(self._here, body)
        except OperationalError as error:
            if not _busy(error):
                raise
            return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_thread, body)
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY and (self._checkpoint is None or self._checkpoint.done()):
            self._since_checkpoint = 0
            self._checkpoint = self._thread.submit(self._checkpoint_log)
        return done

    def _in_thread(self, body: Body[T]) -> T:
        assert self._there is not None
        return _transaction(self._there, body)

    def _checkpoint_log(self) -> None:
        """Copy the log into the database, so that the next transaction writes the log from its start again."""
        assert self._there is not None
        with self._there.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)")

    async def close(self) -> None:
        """Let what the writer thread has under way finish, then close the connections (each in its thread)."""
        if self._here is not None and self._there is not None:
            self._here.dispose()
            await asyncio.get_running_loop().run_in_executor(self._thread, self._there.dispose)
        self._thread.shutdown()


def _sqlite_engine(url: URL, *pragmas: str) -> Engine:
    """An engine of one connection with the server's SQLite settings, then ``pragmas``."""
    engine = sqlalchemy.create_engine(url, pool_size=1, max_overflow=0)
    take_over_sqlite_transactions(engine, *pragmas)
    return engine


def _transaction(engine: Engine, body: Body[T]) -> T:
    with engine.execution_options(**WRITE).begin() as conn:
        return body(conn)


def _busy(error: OperationalError) -> bool:
    """SQLite's write lock is taken by another connection."""
    return isinstance(error.orig, sqlite3.OperationalError) and error.orig.sqlite_errorcode == sqlite3.SQLITE_BUSY
