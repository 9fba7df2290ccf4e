"""Seat transactions on a real SQLite database: batches decided in order, expiry, replay, consistent snapshots."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.changes import Change, Committed, Customer, NewBooking
from server.core.errors import ErrorCode, Rejection
from server.core.records import Snapshot
from server.core.seats import (
    Claim,
    Layout,
    SeatState,
    SeatStatus,
    plan_block,
    plan_book,
    plan_expiry,
    plan_lock,
    plan_unlock,
)
from server.storage.store import SeatStore
from server.storage.tables import webhook_event
from tests.unit.database import SHOWTIME, engine

__all__ = ["engine"]

NOW = 1_000_000
TTL = 60_000


def lock(session: str, *seats: str, now: int = NOW) -> Change:
    return Change(seats, session, lambda claims, terms: plan_lock(claims, terms, session, seats, now, TTL, max_held=10))


def unlock(session: str, *seats: str) -> Change:
    return Change(seats, session, lambda claims, terms: plan_unlock(claims, session, seats))


def book(session: str, layout: Layout, *seats: str) -> Change:
    rule = lambda claims, terms: plan_book(claims, terms, layout, session, seats, NOW)  # noqa: E731
    return Change(seats, session, rule, NewBooking(Customer("Ada", "ada@example.com")))


def committed(outcome: Rejection | Committed) -> Committed:
    assert isinstance(outcome, Committed), outcome
    return outcome


async def test_a_batch_is_decided_in_order_each_change_seeing_the_ones_before(engine: AsyncEngine) -> None:
    store = SeatStore(engine)
    layout = await store.layout(SHOWTIME)
    assert layout is not None
    locked, taken, bought, other = await store.change(
        SHOWTIME, [lock("s1", "A1", "A2"), lock("s2", "A2"), book("s1", layout, "A1"), lock("s2", "A3")], NOW
    )
    assert [e.seq for e in committed(locked).events] == [1, 2]
    assert isinstance(taken, Rejection)
    assert (taken.code, taken.seats) == (ErrorCode.SEAT_UNAVAILABLE, ("A2",))
    sale = committed(bought)  # s1's hold from the same batch counts
    assert [(e.seq, e.change.status) for e in sale.events] == [(3, SeatStatus.BOOKED)]
    assert [e.seq for e in committed(other).events] == [4]
    snapshot = await store.snapshot(SHOWTIME)
    assert snapshot.seq == 4
    assert snapshot.claims == {
        "A1": Claim(SeatState.BOOKED, "s1"),
        "A2": Claim(SeatState.HELD, "s1", NOW + TTL),
        "A3": Claim(SeatState.HELD, "s2", NOW + TTL),
    }
    assert sale.booking is not None
    record = await store.booking(sale.booking.id)
    assert record is not None
    assert (record.seat_ids, record.session_id, record.total_cents) == (["A1"], "s1", 1200)


async def test_a_batch_that_accepts_nothing_writes_nothing(engine: AsyncEngine) -> None:
    store = SeatStore(engine)
    (refused,) = await store.change(SHOWTIME, [unlock("s1", "B1")], NOW)
    assert isinstance(refused, Rejection)
    assert await store.snapshot(SHOWTIME) == Snapshot(0, {})


async def test_a_hold_lapses_only_once_its_time_has_come(engine: AsyncEngine) -> None:
    store = SeatStore(engine)
    await store.change(SHOWTIME, [lock("s1", "C1", "C2")], NOW)
    deadline = NOW + TTL
    assert await store.showtimes_with_lapsed_holds(deadline - 1) == []
    early = await store.expire(SHOWTIME, deadline - 1, lambda claims, bookings: plan_expiry(claims, deadline - 1))
    assert early.events == []
    assert await store.showtimes_with_lapsed_holds(deadline) == [SHOWTIME]
    expired = await store.expire(SHOWTIME, deadline, lambda claims, bookings: plan_expiry(claims, deadline))
    assert [(e.seq, e.change.seat, e.change.status) for e in expired.events] == [
        (3, "C1", SeatStatus.UNLOCKED), (4, "C2", SeatStatus.UNLOCKED),
    ]  # fmt: skip
    assert (await store.snapshot(SHOWTIME)).claims == {}
    assert await store.showtimes_with_lapsed_holds(deadline) == []


async def test_replay_covers_a_gap_or_says_it_cannot(engine: AsyncEngine) -> None:
    store = SeatStore(engine)
    await store.change(SHOWTIME, [lock("s1", "D1", "D2", "D3")], NOW)
    replay = await store.replay(SHOWTIME, after=1, limit=10)
    assert replay is not None
    assert (replay[0], [e.change.seat for e in replay[1]]) == (3, ["D2", "D3"])
    assert await store.replay(SHOWTIME, after=0, limit=2) is None  # more than the limit
    assert await store.replay(SHOWTIME, after=4, limit=10) is None  # ahead of the showtime
    assert [e.seq for e in await store.events(SHOWTIME, after=1, upto=2)] == [2]
    assert await store.prune_events(before=NOW + 1) == 3
    assert await store.replay(SHOWTIME, after=1, limit=10) is None  # pruned past the gap
    assert await store.replay(SHOWTIME, after=3, limit=10) == (3, [])  # nothing missed needs no log


async def test_a_snapshot_never_sees_a_change_half_written(engine: AsyncEngine) -> None:
    """Each change holds one more seat and adds one to seq, so every snapshot must count as many holds as its seq."""
    store = SeatStore(engine)
    seats = [f"{row}{number}" for row in "ABCD" for number in range(1, 6)]

    async def snapshots() -> list[tuple[int, int]]:
        seen = []
        for _ in range(40):
            snapshot = await store.snapshot(SHOWTIME)
            seen.append((snapshot.seq, len(snapshot.claims)))
        return seen

    reading = asyncio.create_task(snapshots())
    for number, seat in enumerate(seats):
        await store.change(SHOWTIME, [lock(f"s{number}", seat)], NOW)
    seen = await reading
    assert all(seq == held for seq, held in seen), seen
    assert (await store.snapshot(SHOWTIME)).seq == len(seats)


async def test_a_missing_showtime_is_an_error_for_writes_and_none_for_reads(engine: AsyncEngine) -> None:
    store = SeatStore(engine)
    with pytest.raises(LookupError):
        await store.change("st_missing", [lock("s1", "A1")], NOW)
    assert (await store.layout("st_missing"), await store.showtime("st_missing")) == (None, None)
    assert await store.booking("bk_missing") is None
    assert await store.seqs(["st_missing", SHOWTIME]) == {SHOWTIME: 0}


def block(*seats: str) -> Change:
    return Change(seats, "admin", lambda claims, terms: plan_block(claims, seats, "camera"))


async def test_a_blocked_seat_is_told_to_the_outbox_in_its_own_transaction(engine: AsyncEngine) -> None:
    store = SeatStore(engine, render_notice=lambda event_id, notice: f"{event_id} {notice.type} {notice.seats}")
    held, rejected, blocked = await store.change(SHOWTIME, [lock("s1", "A1"), block("A1"), block("A2", "A3")], NOW)
    committed(held)
    assert isinstance(rejected, Rejection)  # A1 is held: nothing of this block reaches the outbox
    committed(blocked)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(webhook_event))).all()
    assert [(row.type, row.showtime_id, row.booking_id, row.position, row.created_at) for row in rows] == [
        ("seat.blocked", SHOWTIME, None, 0, NOW)
    ]
    assert rows[0].body == f"{rows[0].id} seat.blocked ('A2', 'A3')"


async def test_without_webhooks_nothing_is_written_to_the_outbox(engine: AsyncEngine) -> None:
    committed((await SeatStore(engine).change(SHOWTIME, [block("A1")], NOW))[0])
    async with engine.connect() as conn:
        assert (await conn.execute(select(webhook_event))).all() == []
