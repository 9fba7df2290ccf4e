"""The lock-throughput baseline: the server's lock and unlock transactions, straight through the driver.

Each transaction is the one ``server.storage.store.SeatStore.change`` runs, statement for statement:
lock the showtime row (``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite), read the
holds and sales of the requested seats, decide, delete and insert the holds, append one ``seat_event``
per change and bump the showtime's ``seq``. No server, no WebSocket, no SQLAlchemy, no validation.

PostgreSQL: asyncpg with a pool as large as the server's (the row lock orders the writers). SQLite: the
standard ``sqlite3`` module, with the server's pragmas, one connection in one thread that runs each whole
transaction in a single hop: SQLite admits one writer at a time, and writers that contend for its lock
back off with sleeps, so one writer is its fastest use.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import asyncpg

from bench.workload import UNAVAILABLE, Outcome

__all__ = ["PostgresSeats", "RawSeats", "SqliteSeats", "open_raw_seats"]

NOT_OWNER = "not_lock_owner"
HOLD_MS = 3_600_000
POOL_SIZE = 10  # the server's DATABASE_POOL_SIZE default
ORIGIN = {"locked": "lock", "unlocked": "unlock"}  # the seat history's origin of what the baseline logs


class RawSeats(Protocol):
    async def lock(self, session_id: str, seats: list[str]) -> Outcome: ...

    async def unlock(self, session_id: str, seats: list[str]) -> Outcome: ...

    async def close(self) -> None: ...


def _decide_lock(
    claims: dict[str, tuple[str, int | None]], session_id: str, seats: Sequence[str], now: int
) -> tuple[bool, list[str]]:
    """plan_lock: every seat free for the session (unclaimed, its own, or a lapsed hold); which ones change."""
    changes = []
    for seat in seats:
        claim = claims.get(seat)
        if claim is None:
            changes.append(seat)
            continue
        holder, expires_at = claim
        live = expires_at is not None and expires_at > now
        if expires_at is None or (holder != session_id and live):  # sold, or someone else's live hold
            return False, []
        if holder != session_id or not live:
            changes.append(seat)
    return True, changes


def _owns_all(claims: dict[str, tuple[str, int | None]], session_id: str, seats: Sequence[str]) -> bool:
    """plan_unlock: the session holds every seat (a lapsed hold not yet swept still counts)."""
    return all(
        (claim := claims.get(seat)) is not None and claim[1] is not None and claim[0] == session_id for seat in seats
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class PostgresSeats:
    def __init__(self, pool: asyncpg.Pool, showtime_id: str) -> None:
        self._pool = pool
        self._showtime = showtime_id

    @classmethod
    async def open(cls, url: str, showtime_id: str) -> PostgresSeats:
        pool = await asyncpg.create_pool(url, min_size=POOL_SIZE, max_size=POOL_SIZE)
        return cls(pool, showtime_id)

    async def _claims(self, conn: Any, seats: list[str]) -> tuple[int, dict[str, tuple[str, int | None]]]:
        showtime = self._showtime
        seq = await conn.fetchval("SELECT seq FROM showtime WHERE id = $1 FOR UPDATE", showtime)
        claims: dict[str, tuple[str, int | None]] = {}
        for row in await conn.fetch(
            "SELECT showtime_id, seat_code, session_id, expires_at, created_at FROM seat_hold "
            "WHERE showtime_id = $1 AND seat_code = ANY($2::text[])",
            showtime,
            seats,
        ):
            claims[row["seat_code"]] = (row["session_id"], row["expires_at"])
        for row in await conn.fetch(
            "SELECT booking_seat.seat_code, booking.session_id FROM booking_seat "
            "JOIN booking ON booking.id = booking_seat.booking_id "
            "WHERE booking_seat.showtime_id = $1 AND booking_seat.seat_code = ANY($2::text[])",
            showtime,
            seats,
        ):
            claims[row["seat_code"]] = (row["session_id"], None)
        return int(seq), claims

    async def _events(self, conn: Any, seq: int, seats: list[str], status: str, session_id: str, now: int) -> None:
        await conn.executemany(
            "INSERT INTO seat_event (showtime_id, seq, seat_code, status, session_id, origin, actor, channel, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6, $5, 'socket', $7)",
            [
                (self._showtime, seq + offset, seat, status, session_id, ORIGIN[status], now)
                for offset, seat in enumerate(seats, 1)
            ],
        )
        await conn.execute("UPDATE showtime SET seq = $2 WHERE id = $1", self._showtime, seq + len(seats))

    async def lock(self, session_id: str, seats: list[str]) -> Outcome:
        sent = time.monotonic_ns()
        now = _now_ms()
        async with self._pool.acquire() as conn, conn.transaction():
            seq, claims = await self._claims(conn, seats)
            granted, changes = _decide_lock(claims, session_id, seats, now)
            if granted:
                await conn.execute(
                    "DELETE FROM seat_hold WHERE showtime_id = $1 AND seat_code = ANY($2::text[])",
                    self._showtime,
                    seats,
                )
                await conn.executemany(
                    "INSERT INTO seat_hold (showtime_id, seat_code, session_id, expires_at, created_at) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    [(self._showtime, seat, session_id, now + HOLD_MS, now) for seat in seats],
                )
                if changes:
                    await self._events(conn, seq, changes, "locked", session_id, now)
        return Outcome(granted, None if granted else UNAVAILABLE, sent, time.monotonic_ns())

    async def unlock(self, session_id: str, seats: list[str]) -> Outcome:
        sent = time.monotonic_ns()
        now = _now_ms()
        async with self._pool.acquire() as conn, conn.transaction():
            seq, claims = await self._claims(conn, seats)
            granted = _owns_all(claims, session_id, seats)
            if granted:
                await conn.execute(
                    "DELETE FROM seat_hold WHERE showtime_id = $1 AND seat_code = ANY($2::text[])",
                    self._showtime,
                    seats,
                )
                await self._events(conn, seq, seats, "unlocked", session_id, now)
        return Outcome(granted, None if granted else NOT_OWNER, sent, time.monotonic_ns())

    async def close(self) -> None:
        await self._pool.close()


class SqliteSeats:
    def __init__(self, path: str, showtime_id: str) -> None:
        self._showtime = showtime_id
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._path = path
        self._conn: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: str, showtime_id: str) -> SqliteSeats:
        seats = cls(path, showtime_id)
        await asyncio.get_running_loop().run_in_executor(seats._executor, seats._connect)
        return seats

    def _connect(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        self._conn = conn

    def _claims(self, conn: sqlite3.Connection, seats: list[str]) -> tuple[int, dict[str, tuple[str, int | None]]]:
        marks = ", ".join("?" * len(seats))
        (seq,) = conn.execute("SELECT seq FROM showtime WHERE id = ?", (self._showtime,)).fetchone()
        claims: dict[str, tuple[str, int | None]] = {}
        for _, seat, session, expires_at, _ in conn.execute(
            "SELECT showtime_id, seat_code, session_id, expires_at, created_at FROM seat_hold "
            f"WHERE showtime_id = ? AND seat_code IN ({marks})",
            (self._showtime, *seats),
        ):
            claims[seat] = (session, expires_at)
        for seat, session in conn.execute(
            "SELECT booking_seat.seat_code, booking.session_id FROM booking_seat "
            "JOIN booking ON booking.id = booking_seat.booking_id "
            f"WHERE booking_seat.showtime_id = ? AND booking_seat.seat_code IN ({marks})",
            (self._showtime, *seats),
        ):
            claims[seat] = (session, None)
        return int(seq), claims

    def _write(self, conn: sqlite3.Connection, seq: int, seats: list[str], status: str, session: str, now: int) -> None:
        conn.executemany(
            "INSERT INTO seat_event (showtime_id, seq, seat_code, status, session_id, origin, actor, channel, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'socket', ?)",
            [
                (self._showtime, seq + offset, seat, status, session, ORIGIN[status], session, now)
                for offset, seat in enumerate(seats, 1)
            ],
        )
        conn.execute("UPDATE showtime SET seq = ? WHERE id = ?", (seq + len(seats), self._showtime))

    def _delete(self, conn: sqlite3.Connection, seats: list[str]) -> None:
        marks = ", ".join("?" * len(seats))
        conn.execute(
            f"DELETE FROM seat_hold WHERE showtime_id = ? AND seat_code IN ({marks})", (self._showtime, *seats)
        )

    def _transaction(self, action: str, session_id: str, seats: list[str]) -> bool:
        conn = self._conn
        assert conn is not None
        now = _now_ms()
        conn.execute("BEGIN IMMEDIATE")
        try:
            seq, claims = self._claims(conn, seats)
            if action == "lock":
                granted, changes = _decide_lock(claims, session_id, seats, now)
                if granted:
                    self._delete(conn, seats)
                    conn.executemany(
                        "INSERT INTO seat_hold (showtime_id, seat_code, session_id, expires_at, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [(self._showtime, seat, session_id, now + HOLD_MS, now) for seat in seats],
                    )
                    if changes:
                        self._write(conn, seq, changes, "locked", session_id, now)
            else:
                granted = _owns_all(claims, session_id, seats)
                if granted:
                    self._delete(conn, seats)
                    self._write(conn, seq, seats, "unlocked", session_id, now)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT" if granted else "ROLLBACK")
        return granted

    async def _run(self, action: str, session_id: str, seats: list[str], refusal: str) -> Outcome:
        sent = time.monotonic_ns()
        loop = asyncio.get_running_loop()
        granted = await loop.run_in_executor(self._executor, self._transaction, action, session_id, seats)
        return Outcome(granted, None if granted else refusal, sent, time.monotonic_ns())

    async def lock(self, session_id: str, seats: list[str]) -> Outcome:
        return await self._run("lock", session_id, seats, UNAVAILABLE)

    async def unlock(self, session_id: str, seats: list[str]) -> Outcome:
        return await self._run("unlock", session_id, seats, NOT_OWNER)

    async def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown()


async def open_raw_seats(database_url: str, showtime_id: str) -> RawSeats:
    if database_url.startswith("sqlite:///"):
        return await SqliteSeats.open(database_url.removeprefix("sqlite:///"), showtime_id)
    return await PostgresSeats.open(database_url, showtime_id)
