"""Seat transactions on a real SQLite database: batches decided in order, expiry, replay, consistent snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.bookings import BookingStatus
from server.core.changes import BookingChange, Change, Committed, Customer, NewBooking
from server.core.checkout import plan_cancel, plan_confirm, plan_sweep
from server.core.errors import ErrorCode, Rejection
from server.core.history import HistoryEntry, HistoryQuery
from server.core.origins import Channel, Origin, Source
from server.core.records import BookingRecord, BookingSearch, Snapshot, TransitionRecord
from server.core.seats import (
    Claim,
    HoldPolicy,
    Layout,
    Plan,
    SeatState,
    SeatStatus,
    plan_block,
    plan_book,
    plan_expiry,
    plan_lock,
    plan_unlock,
)
from server.storage.store import SeatStore
from server.storage.tables import booking_seat, seat_hold, webhook_event
from tests.unit.database import SHOWTIME, engine

__all__ = ["engine"]

NOW = 1_000_000
TTL = 60_000
HOLDS = HoldPolicy(ttl_ms=TTL, max_ms=3 * TTL, max_seats=10)


def rest(actor: str) -> Source:
    return Source(actor, Channel.REST)


def lock(session: str, *seats: str, now: int = NOW) -> Change:
    rule = lambda claims, terms: plan_lock(claims, terms, session, seats, now, HOLDS)  # noqa: E731
    return Change(seats, session, rule, source=rest(session))


def unlock(session: str, *seats: str) -> Change:
    return Change(seats, session, lambda claims, terms: plan_unlock(claims, session, seats), source=rest(session))


def book(session: str, layout: Layout, *seats: str) -> Change:
    rule = lambda claims, terms: plan_book(claims, terms, layout, session, seats, NOW)  # noqa: E731
    return Change(seats, session, rule, NewBooking(Customer("Ada", "ada@example.com")), source=rest(session))


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
        "A2": Claim(SeatState.HELD, "s1", NOW + TTL, NOW),
        "A3": Claim(SeatState.HELD, "s2", NOW + TTL, NOW),
    }
    assert sale.booking is not None
    record = await store.booking(sale.booking.id)
    assert record is not None
    assert (record.seat_ids, record.session_id, record.total_cents) == (["A1"], "s1", 1200)


async def test_a_hold_locked_again_keeps_when_it_began_in_its_row(engine: AsyncEngine) -> None:
    store = SeatStore(engine)
    await store.change(SHOWTIME, [lock("s1", "B1")], NOW)
    await store.change(SHOWTIME, [lock("s1", "B1", "B2", now=NOW + TTL // 2)], NOW + TTL // 2)
    rows = await _hold_rows(engine)
    assert rows == {"B1": (NOW, NOW + TTL // 2 + TTL), "B2": (NOW + TTL // 2, NOW + TTL // 2 + TTL)}
    # In the same batch as another change of the seat, and read back as the rules see it.
    late = NOW + 5 * TTL // 2
    relocked, _ = await store.change(SHOWTIME, [lock("s1", "B1", now=late), unlock("s1", "B2")], late)
    assert committed(relocked).plan.hold_until == NOW + 3 * TTL  # capped
    assert (await store.snapshot(SHOWTIME)).claims == {"B1": Claim(SeatState.HELD, "s1", NOW + 3 * TTL, NOW)}
    # Taken over once lapsed, it is the new holder's from then on.
    (taken,) = await store.change(SHOWTIME, [lock("s2", "B1", now=NOW + 3 * TTL)], NOW + 3 * TTL)
    committed(taken)
    assert (await _hold_rows(engine))["B1"] == (NOW + 3 * TTL, NOW + 4 * TTL)


async def _hold_rows(engine: AsyncEngine) -> dict[str, tuple[int, int]]:
    """Each hold row's created_at and expires_at, as stored."""
    query = select(seat_hold.c.seat_code, seat_hold.c.created_at, seat_hold.c.expires_at)
    async with engine.connect() as conn:
        return {code: (created, expires) for code, created, expires in await conn.execute(query)}


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


async def test_replay_offers_no_change_older_than_asked_though_the_log_keeps_it(engine: AsyncEngine) -> None:
    store = SeatStore(engine)
    await store.change(SHOWTIME, [lock("s1", "D1")], NOW)
    await store.change(SHOWTIME, [lock("s1", "D2")], NOW + 10)
    assert await store.replay(SHOWTIME, after=0, limit=10, since=NOW + 1) is None  # D1's change is too old
    replay = await store.replay(SHOWTIME, after=1, limit=10, since=NOW + 1)
    assert replay is not None
    assert [e.change.seat for e in replay[1]] == ["D2"]
    assert len(await store.history(HistoryQuery(SHOWTIME, 10))) == 2  # both kept as history


async def test_history_pages_and_filters_the_log(engine: AsyncEngine) -> None:
    store = SeatStore(engine)
    layout = await store.layout(SHOWTIME)
    assert layout is not None
    await store.change(SHOWTIME, [lock("s1", "A1", "A2")], NOW)
    await store.change(SHOWTIME, [book("s1", layout, "A1"), unlock("s1", "A2")], NOW + 10)
    await store.change(SHOWTIME, [block("A3")], NOW + 20)

    def seen(found: list[HistoryEntry]) -> list[tuple[int, str, Origin, str, Channel, int]]:
        return [(e.seq, e.seat, e.origin, e.actor, e.channel, e.at) for e in found]

    assert seen(await store.history(HistoryQuery(SHOWTIME, 10))) == [
        (1, "A1", Origin.LOCK, "s1", Channel.REST, NOW),
        (2, "A2", Origin.LOCK, "s1", Channel.REST, NOW),
        (3, "A1", Origin.BOOK, "s1", Channel.REST, NOW + 10),
        (4, "A2", Origin.UNLOCK, "s1", Channel.REST, NOW + 10),
        (5, "A3", Origin.BLOCK, "admin", Channel.REST, NOW + 20),
    ]
    assert [e.seq for e in await store.history(HistoryQuery(SHOWTIME, 10, seat="A1"))] == [1, 3]
    assert [e.seq for e in await store.history(HistoryQuery(SHOWTIME, 2, after=1))] == [2, 3]
    assert [e.seq for e in await store.history(HistoryQuery(SHOWTIME, 10, since=NOW + 10, until=NOW + 20))] == [3, 4]
    picked = HistoryQuery(SHOWTIME, 10, origins=(Origin.LOCK, Origin.BLOCK), after=1)
    assert [e.seq for e in await store.history(picked)] == [2, 5]
    assert await store.history(HistoryQuery("st_other", 10)) == []


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
    return Change(seats, "admin", lambda claims, terms: plan_block(claims, seats, "camera"), source=rest("admin"))


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


# --- checkout ---------------------------------------------------------------------------------------------

PAY_MS = 900_000


def book_pending(session: str, layout: Layout, *seats: str, reference: str | None = None) -> Change:
    rule = lambda claims, terms: plan_book(claims, terms, layout, session, seats, NOW, PAY_MS)  # noqa: E731
    return Change(
        seats,
        session,
        rule,
        NewBooking(Customer("Ada", "ada@example.com", "+1 555"), True, "aisle", reference),
        source=rest(session),
    )


def confirm(booking_id: str, seats: tuple[str, ...], reference: str = "pay_1", now: int = NOW) -> BookingChange:
    return BookingChange(
        booking_id,
        seats,
        lambda claims, found: plan_confirm(claims, found, "admin", reference, "stripe", now),
        rest("admin"),
    )


def cancel(booking_id: str, seats: tuple[str, ...], actor: str, now: int = NOW) -> BookingChange:
    return BookingChange(
        booking_id,
        seats,
        lambda claims, found: plan_cancel(claims, found, actor, actor == "admin", "why", now),
        rest(actor),
    )


def outbox_store(engine: AsyncEngine) -> SeatStore:
    return SeatStore(engine, render_notice=lambda event_id, notice: f"{notice.type}:{notice.position}")


async def outbox(engine: AsyncEngine) -> list[tuple[str | None, int, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(webhook_event).order_by(webhook_event.c.created_at, webhook_event.c.position))
        return [(row.booking_id, row.position, row.type) for row in rows]


async def sold_seats(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        return {row.seat_code: row.booking_id for row in await conn.execute(select(booking_seat))}


async def pending_booking(store: SeatStore, *seats: str) -> BookingRecord:
    layout = await store.layout(SHOWTIME)
    assert layout is not None
    await store.change(SHOWTIME, [lock("s1", *seats)], NOW)
    made = committed((await store.change(SHOWTIME, [book_pending("s1", layout, *seats, reference="ord-1")], NOW))[0])
    assert made.booking is not None
    return made.booking


async def test_a_pending_booking_keeps_its_seats_taken_and_reads_back_whole(engine: AsyncEngine) -> None:
    store = outbox_store(engine)
    made = await pending_booking(store, "A1", "A2")
    assert (made.status, made.payment_due_at, made.items, made.total_cents) == (
        BookingStatus.PENDING, NOW + PAY_MS, {"A1": 1200, "A2": 1200}, 2400,
    )  # fmt: skip
    assert await store.booking(made.id) == made  # what the transaction built is what is stored
    assert (made.customer_phone, made.notes, made.order_reference) == ("+1 555", "aisle", "ord-1")
    assert made.transitions == (TransitionRecord(1, BookingStatus.PENDING, "s1", NOW),)
    snapshot = await store.snapshot(SHOWTIME)
    assert snapshot.claims == {"A1": Claim(SeatState.PENDING, "s1"), "A2": Claim(SeatState.PENDING, "s1")}
    assert await sold_seats(engine) == {"A1": made.id, "A2": made.id}
    assert await store.holds(SHOWTIME, "s1") == {}  # a booking, no longer holds
    assert await outbox(engine) == [(made.id, 1, "booking.pending")]


async def test_confirm_then_a_refund_move_the_booking_and_its_seats_in_one_transaction_each(
    engine: AsyncEngine,
) -> None:
    store = outbox_store(engine)
    made = await pending_booking(store, "A1", "A2")
    paid = committed((await store.change(SHOWTIME, [confirm(made.id, ("A1", "A2"))], NOW + 5))[0])
    assert [(e.change.seat, e.change.status, e.change.session_id) for e in paid.events] == [
        ("A1", SeatStatus.BOOKED, "s1"), ("A2", SeatStatus.BOOKED, "s1"),
    ]  # fmt: skip
    assert paid.booking is not None
    assert (paid.booking.status, paid.booking.confirmed_at, paid.booking.payment_reference) == (
        BookingStatus.CONFIRMED, NOW, "pay_1",
    )  # fmt: skip
    assert await store.booking(made.id) == paid.booking
    assert (await store.snapshot(SHOWTIME)).claims == {
        "A1": Claim(SeatState.BOOKED, "s1"),
        "A2": Claim(SeatState.BOOKED, "s1"),
    }
    refunded = committed((await store.change(SHOWTIME, [cancel(made.id, ("A1", "A2"), "admin")], NOW))[0])
    assert [e.change.status for e in refunded.events] == [SeatStatus.UNLOCKED] * 2
    assert await sold_seats(engine) == {}
    assert (await store.snapshot(SHOWTIME)).claims == {}
    stored = await store.booking(made.id)
    assert stored is not None
    assert (stored.status, stored.cancel_reason, [t.status for t in stored.transitions]) == (
        BookingStatus.CANCELLED, "why", [BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.CANCELLED],
    )  # fmt: skip
    assert stored.items == made.items  # kept whatever becomes of the booking
    assert await outbox(engine) == [
        (made.id, 1, "booking.pending"), (made.id, 2, "booking.confirmed"), (made.id, 3, "booking.cancelled"),
    ]  # fmt: skip


async def test_moves_in_one_batch_each_see_the_booking_as_the_one_before_left_it(engine: AsyncEngine) -> None:
    store = outbox_store(engine)
    layout = await store.layout(SHOWTIME)
    assert layout is not None
    made = await pending_booking(store, "B1")
    seats = ("B1",)
    paid, again, buyer, shop, relock, rebook = await store.change(
        SHOWTIME,
        [
            confirm(made.id, seats),
            confirm(made.id, seats),  # the same payment: nothing more
            cancel(made.id, seats, "s1"),  # the buyer may not cancel it now
            cancel(made.id, seats, "admin"),
            lock("s2", "B1"),  # the freed seat, in the same transaction
            book("s2", layout, "B1"),
        ],
        NOW,
    )
    assert [len(committed(o).events) for o in (paid, again, shop, relock, rebook)] == [1, 0, 1, 1, 1]
    assert isinstance(buyer, Rejection)
    assert buyer.code is ErrorCode.BOOKING_CONFIRMED
    sold = committed(rebook).booking
    assert sold is not None
    assert await sold_seats(engine) == {"B1": sold.id}
    stored = await store.booking(made.id)
    assert stored is not None
    assert [t.position for t in stored.transitions] == [1, 2, 3]
    assert stored.status is BookingStatus.CANCELLED
    assert [event for event in await outbox(engine) if event[0] == made.id] == [
        (made.id, 1, "booking.pending"), (made.id, 2, "booking.confirmed"), (made.id, 3, "booking.cancelled"),
    ]  # fmt: skip


async def test_an_unpaid_booking_expires_once_and_a_late_payment_takes_free_seats_back(engine: AsyncEngine) -> None:
    store = outbox_store(engine)
    made = await pending_booking(store, "C1", "C2")
    due = NOW + PAY_MS

    def sweep(now: int) -> Callable[[Mapping[str, Claim], Sequence[BookingRecord]], Plan]:
        return lambda claims, bookings: plan_sweep(claims, bookings, now)

    assert await store.showtimes_with_overdue_payments(due - 1) == []
    assert (await store.expire(SHOWTIME, due - 1, sweep(due - 1))).events == []
    assert await store.showtimes_with_overdue_payments(due) == [SHOWTIME]
    expired = await store.expire(SHOWTIME, due, sweep(due))
    assert [(e.change.seat, e.change.status) for e in expired.events] == [
        ("C1", SeatStatus.UNLOCKED), ("C2", SeatStatus.UNLOCKED),
    ]  # fmt: skip
    assert (await store.expire(SHOWTIME, due, sweep(due))).events == []  # exactly once
    assert await store.showtimes_with_overdue_payments(due) == []
    assert await sold_seats(engine) == {}
    late = committed((await store.change(SHOWTIME, [confirm(made.id, ("C1", "C2"), now=due + 1)], due + 1))[0])
    assert late.booking is not None
    assert (late.booking.status, late.booking.expired_at, late.booking.confirmed_at) == (
        BookingStatus.CONFIRMED, due, due + 1,
    )  # fmt: skip
    assert await sold_seats(engine) == {"C1": made.id, "C2": made.id}
    assert [event[1:] for event in await outbox(engine)] == [
        (1, "booking.pending"), (2, "booking.expired"), (3, "booking.confirmed"),
    ]  # fmt: skip


async def test_a_late_payment_for_seats_taken_since_is_logged_and_changes_no_seat(engine: AsyncEngine) -> None:
    store = outbox_store(engine)
    made = await pending_booking(store, "D1")
    due = NOW + PAY_MS
    await store.expire(SHOWTIME, due, lambda claims, bookings: plan_sweep(claims, bookings, due))
    await store.change(SHOWTIME, [lock("s2", "D1", now=due)], due)
    late = committed((await store.change(SHOWTIME, [confirm(made.id, ("D1",), now=due)], due))[0])
    assert late.events == []
    assert late.booking is not None
    assert (late.booking.status, late.booking.payment_reference) == (BookingStatus.EXPIRED, "pay_1")
    assert (await store.snapshot(SHOWTIME)).claims == {"D1": Claim(SeatState.HELD, "s2", due + TTL, due)}
    assert [event[1:] for event in await outbox(engine)] == [
        (1, "booking.pending"), (2, "booking.expired"), (3, "booking.late_payment"),
    ]  # fmt: skip
    told_again = (await store.change(SHOWTIME, [confirm(made.id, ("D1",), now=due)], due))[0]
    assert isinstance(told_again, Rejection)
    assert len(await outbox(engine)) == 3


async def test_bookings_are_found_by_showtime_status_reference_and_email(engine: AsyncEngine) -> None:
    store = SeatStore(engine)
    layout = await store.layout(SHOWTIME)
    assert layout is not None
    made = await pending_booking(store, "A3")
    await store.change(SHOWTIME, [lock("s1", "A4"), book("s1", layout, "A4")], NOW)
    assert [b.id for b in await store.bookings(BookingSearch(SHOWTIME, BookingStatus.PENDING))] == [made.id]
    assert len(await store.bookings(BookingSearch(SHOWTIME))) == 2
    assert [b.id for b in await store.bookings(BookingSearch(order_reference="ord-1"))] == [made.id]
    assert len(await store.bookings(BookingSearch(email="ada@example.com"))) == 2
    assert await store.bookings(BookingSearch(email="nobody@example.com")) == []
    assert await store.bookings(BookingSearch("st_missing")) == []
