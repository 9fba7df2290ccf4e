"""Webhook deliveries in the database: who delivers (a lease), what is due, and what each attempt did.

The outbox itself (``webhook_event``) is written by the seat transactions (``store.py``). Here:

- ``lease``: one row per job, taken, renewed and given up with one conditional statement each, so at most one
  instance holds it at any moment, whatever the timing, on SQLite and PostgreSQL alike.
- ``webhook_delivery``: one row per event and endpoint, made by the instance delivering. An attempt is claimed
  before it is made (a conditional update moves its due time past the attempt's end), so no two instances
  ever make the same attempt, not even while the lease changes hands.
- ``webhook_attempt``: one row per attempt, written with the delivery's new state in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.core.deliveries import DeliveryStatus
from server.storage.database import WRITE
from server.storage.tables import lease, webhook_attempt, webhook_delivery, webhook_event

__all__ = ["Attempt", "DeliveryQuery", "DeliveryRecord", "Due", "WebhookStore"]

PENDING, DELIVERED, FAILED = DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery claimed for its next attempt, with what to send."""

    event_id: str
    url: str
    attempts: int  # made before this one
    created_at: int  # the event's: the retry window starts there
    body: str


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int  # 1 for the first
    at: int  # when it was sent
    status_code: int | None  # the receiver's answer; None when there was none
    error: str | None  # why there was no answer (refused, timed out, ...)
    duration_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    event_id: str
    type: str
    booking_id: str | None
    showtime_id: str
    url: str
    status: str
    created_at: int  # the event's
    next_attempt_at: int | None  # pending ones only
    last_attempt_at: int | None
    delivered_at: int | None
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    """Which deliveries to list, newest event first; ``after`` is the sort key of the last one already seen."""

    limit: int
    status: str | None = None
    event_id: str | None = None
    booking_id: str | None = None
    after: tuple[int, str, str] | None = None  # (event created_at, event id, url)


_d, _e = webhook_delivery, webhook_event
_earlier_d, _earlier_e = webhook_delivery.alias("earlier_delivery"), webhook_event.alias("earlier_event")
# A booking's event waits while an earlier one of the same booking is still pending to the same endpoint:
# a receiver never hears of a booking's confirmation before its creation. Seat events have no booking, and
# NULL equals nothing: they never wait.
_WAITS_FOR_EARLIER = exists().where(
    _earlier_d.c.url == _d.c.url,
    _earlier_d.c.status == PENDING,
    _earlier_d.c.event_id == _earlier_e.c.id,
    _earlier_e.c.booking_id == _e.c.booking_id,
    _earlier_e.c.position < _e.c.position,
)


class WebhookStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._writer = engine.execution_options(**WRITE)

    # --- the lease ---------------------------------------------------------------------------------------

    async def take_lease(self, name: str, holder: str, now: int, ttl_ms: int) -> bool:
        """Take the lease ``name`` for ``holder`` until ``now + ttl_ms``, or renew it; False while another
        holder's lease has not run out. One statement: two instances asking at once cannot both get it."""
        async with self._writer.begin() as conn:
            upsert = _insert(conn, lease).values(name=name, holder=holder, expires_at=now + ttl_ms)
            statement = upsert.on_conflict_do_update(
                index_elements=[lease.c.name],
                set_={"holder": upsert.excluded.holder, "expires_at": upsert.excluded.expires_at},
                where=or_(lease.c.holder == upsert.excluded.holder, lease.c.expires_at <= now),
            ).returning(lease.c.holder)
            return (await conn.execute(statement)).first() is not None

    async def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up, if ``holder`` still has it, so that another instance need not wait for it to run out."""
        async with self._writer.begin() as conn:
            await conn.execute(delete(lease).where(lease.c.name == name, lease.c.holder == holder))

    # --- deliveries --------------------------------------------------------------------------------------

    async def add_deliveries(self, urls: Sequence[str], since: int) -> int:
        """A pending delivery to each of ``urls`` for every event since ``since`` that has none yet; how many."""
        added = 0
        async with self._writer.begin() as conn:
            for url in urls:
                missing = select(
                    _e.c.id, literal(url), literal(PENDING), literal(0), _e.c.created_at
                ).where(
                    _e.c.created_at >= since,
                    ~exists().where(_d.c.event_id == _e.c.id, _d.c.url == url),
                )  # fmt: skip
                columns = ["event_id", "url", "status", "attempts", "next_attempt_at"]
                statement = _insert(conn, _d).from_select(columns, missing).on_conflict_do_nothing()
                added += (await conn.execute(statement)).rowcount
        return added

    async def claim(self, urls: Sequence[str], now: int, until: int, limit: int) -> list[Due]:
        """Claim up to ``limit`` deliveries to ``urls`` due at ``now``, oldest due first, for an attempt that
        ends by ``until``; none waits behind an earlier pending event of its booking. Each claim is a
        conditional update: a delivery another instance claimed first is not claimed again."""
        due = (
            select(_d.c.event_id, _d.c.url, _d.c.attempts, _e.c.created_at, _e.c.body)
            .join(_e, _e.c.id == _d.c.event_id)
            .where(_d.c.status == PENDING, _d.c.next_attempt_at <= now, _d.c.url.in_(urls), ~_WAITS_FOR_EARLIER)
            .order_by(_d.c.next_attempt_at, _d.c.event_id)
            .limit(limit)
        )
        claimed = []
        async with self._writer.begin() as conn:
            for row in await conn.execute(due):
                taken = await conn.execute(
                    update(_d)
                    .where(_key(row.event_id, row.url), _d.c.status == PENDING, _d.c.attempts == row.attempts)
                    .where(_d.c.next_attempt_at <= now)
                    .values(next_attempt_at=until)
                )
                if taken.rowcount == 1:
                    claimed.append(Due(row.event_id, row.url, row.attempts, row.created_at, row.body))
        return claimed

    async def record(self, due: Due, attempt: Attempt, status: DeliveryStatus, next_attempt_at: int) -> bool:
        """Log ``attempt`` and move the delivery to ``status`` (due again at ``next_attempt_at`` if pending).

        False, and nothing written, if that attempt was already recorded: the update is conditional on the
        attempts made so far.
        """
        async with self._writer.begin() as conn:
            updated = await conn.execute(
                update(_d)
                .where(_key(due.event_id, due.url), _d.c.status == PENDING, _d.c.attempts == attempt.number - 1)
                .values(
                    attempts=attempt.number,
                    status=status.value,
                    next_attempt_at=next_attempt_at,
                    last_attempt_at=attempt.at,
                    delivered_at=attempt.at if status is DeliveryStatus.DELIVERED else None,
                )
            )
            if updated.rowcount != 1:
                return False
            await conn.execute(
                insert(webhook_attempt).values(
                    event_id=due.event_id,
                    url=due.url,
                    attempt=attempt.number,
                    at=attempt.at,
                    status_code=attempt.status_code,
                    error=attempt.error,
                    duration_ms=attempt.duration_ms,
                )
            )
        return True

    async def abandon(self, urls: Sequence[str], before: int) -> int:
        """Fail the pending deliveries to endpoints no longer configured whose events are older than ``before``
        (their retry window is over); deliveries to the ``urls`` configured are failed by their last attempt."""
        old = select(_e.c.id).where(_e.c.created_at < before)
        async with self._writer.begin() as conn:
            result = await conn.execute(
                update(_d)
                .where(_d.c.status == PENDING, _d.c.url.not_in(urls), _d.c.event_id.in_(old))
                .values(status=FAILED)
            )
        return int(result.rowcount)

    async def prune(self, before: int, limit: int) -> int:
        """Delete up to ``limit`` events older than ``before`` that nothing is pending for, with their deliveries
        and attempts; how many events."""
        prunable = (
            select(_e.c.id)
            .where(_e.c.created_at < before, ~exists().where(_d.c.event_id == _e.c.id, _d.c.status == PENDING))
            .limit(limit)
        )
        async with self._writer.begin() as conn:
            ids = list((await conn.execute(prunable)).scalars())
            if ids:
                await conn.execute(delete(webhook_attempt).where(webhook_attempt.c.event_id.in_(ids)))
                await conn.execute(delete(_d).where(_d.c.event_id.in_(ids)))
                await conn.execute(delete(_e).where(_e.c.id.in_(ids)))
        return len(ids)

    async def backlog(self) -> int:
        """Deliveries still pending."""
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).where(_d.c.status == PENDING))).scalar_one())

    async def deliveries(self, query: DeliveryQuery) -> list[DeliveryRecord]:
        """Deliveries as ``query`` picks them, newest event first (then by event id and URL), with their attempts."""
        conditions = [
            condition
            for wanted, condition in (
                (query.status, _d.c.status == query.status),
                (query.event_id, _d.c.event_id == query.event_id),
                (query.booking_id, _e.c.booking_id == query.booking_id),
                (query.after, tuple_(_e.c.created_at, _d.c.event_id, _d.c.url) < tuple_(*(query.after or ()))),
            )
            if wanted is not None
        ]
        listed = (
            select(_d, _e.c.type, _e.c.booking_id, _e.c.showtime_id, _e.c.created_at)
            .join(_e, _e.c.id == _d.c.event_id)
            .where(*conditions)
            .order_by(_e.c.created_at.desc(), _d.c.event_id.desc(), _d.c.url.desc())
            .limit(query.limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(listed)).all()
            log = await conn.execute(
                select(webhook_attempt)
                .where(webhook_attempt.c.event_id.in_({row.event_id for row in rows}))
                .order_by(webhook_attempt.c.attempt)
            )
            attempts: dict[tuple[str, str], list[Attempt]] = {}
            for entry in log:
                attempts.setdefault((entry.event_id, entry.url), []).append(
                    Attempt(entry.attempt, entry.at, entry.status_code, entry.error, entry.duration_ms)
                )
        return [_delivery(row, tuple(attempts.get((row.event_id, row.url), ()))) for row in rows]


def _key(event_id: str, url: str) -> ColumnElement[bool]:
    return and_(_d.c.event_id == event_id, _d.c.url == url)


def _insert(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say ON CONFLICT, in the connection's dialect (both spell it the same)."""
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


def _delivery(row: Row[Any], attempts: tuple[Attempt, ...]) -> DeliveryRecord:
    return DeliveryRecord(
        event_id=row.event_id,
        type=row.type,
        booking_id=row.booking_id,
        showtime_id=row.showtime_id,
        url=row.url,
        status=row.status,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at if row.status == PENDING else None,
        last_attempt_at=row.last_attempt_at,
        delivered_at=row.delivered_at,
        attempts=attempts,
    )
