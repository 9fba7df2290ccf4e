"""The seat service on a real SQLite database, with the clock in the test's hand."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.bookings import BookingStatus
from server.core.changes import Accepted, Customer, Event, NewBooking, Selection
from server.core.errors import ErrorCode, Rejection
from server.core.history import HistoryQuery
from server.core.origins import Channel, Origin
from server.core.records import BookingRecord, ShowtimeDetails, StatusView
from server.metrics import Metrics
from server.service import ADMIN, Replay, SeatService
from server.settings import SeatSettings
from server.storage.idempotency import IdempotencyKeys
from server.storage.store import SeatStore
from tests.fakes import ManualClock
from tests.unit.database import SHOWTIME, engine

__all__ = ["engine"]

ADA = NewBooking(Customer("Ada", "ada@example.com"))


class Published(list[Event]):
    def __call__(self, events: Sequence[Event]) -> None:
        self.extend(events)


def service(engine: AsyncEngine, clock: ManualClock, published: Published, **settings: float) -> SeatService:
    return SeatService(SeatStore(engine), SeatSettings(**settings), published, Metrics(), clock)


async def test_lock_book_and_read_back(engine: AsyncEngine) -> None:
    clock, published = ManualClock(), Published()
    seats = service(engine, clock, published, hold_ttl_seconds=60)
    locked = await seats.lock("s1", SHOWTIME, Selection(["A1", "A2", "A1"]))
    assert locked == Accepted("lock", SHOWTIME, ("A1", "A2"), expires_at=clock.now() + 60_000, seq=2)
    booked = await seats.book("s1", SHOWTIME, Selection(["A1"]), ADA)
    assert isinstance(booked, Accepted)
    assert booked.booking is not None
    assert (booked.booking.total_cents, booked.booking.currency) == (1200, "EUR")
    assert [(e.seq, e.change.seat, e.change.status.value) for e in published] == [
        (1, "A1", "locked"), (2, "A2", "locked"), (3, "A1", "booked"),
    ]  # fmt: skip
    record = await seats.booking("s1", booked.booking.id)
    assert isinstance(record, BookingRecord)
    assert (record.seat_ids, record.customer_name, record.total_cents) == (["A1"], "Ada", 1200)
    foreign = await seats.booking("s2", booked.booking.id)
    assert isinstance(foreign, Rejection)
    assert foreign.code is ErrorCode.NOT_FOUND  # someone else's booking is reported missing
    status = await seats.status("s1", SHOWTIME)
    lapses = clock.now() + 60_000
    assert status == StatusView(SHOWTIME, 3, ["A1"], ["A2"], {"A2": lapses}, clock.now(), lapses_at=lapses)


async def test_all_or_nothing_and_the_refusals_name_the_seats(engine: AsyncEngine) -> None:
    clock, published = ManualClock(), Published()
    seats = service(engine, clock, published)
    await seats.lock("s1", SHOWTIME, Selection(["B2"]))
    taken = await seats.lock("s2", SHOWTIME, Selection(["B1", "B2", "B3"]))
    assert isinstance(taken, Rejection)
    assert (taken.code, taken.seats) == (ErrorCode.SEAT_UNAVAILABLE, ("B2",))
    unknown = await seats.lock("s2", SHOWTIME, Selection(["B1", "Z9"]))
    assert isinstance(unknown, Rejection)
    assert (unknown.code, unknown.seats) == (ErrorCode.UNKNOWN_SEAT, ("Z9",))
    not_mine = await seats.unlock("s2", SHOWTIME, Selection(["B2"]))
    assert isinstance(not_mine, Rejection)
    assert not_mine.code is ErrorCode.NOT_LOCK_OWNER
    assert [e.change.seat for e in published] == ["B2"]
    missing = await seats.lock("s1", "st_missing", Selection(["A1"]))
    assert isinstance(missing, Rejection)
    assert missing.code is ErrorCode.UNKNOWN_SHOWTIME


async def test_lapsed_holds_are_released_once_when_the_clock_passes_them(engine: AsyncEngine) -> None:
    clock, published = ManualClock(), Published()
    seats = service(engine, clock, published, hold_ttl_seconds=10)
    await seats.lock("s1", SHOWTIME, Selection(["C1", "C2"]))
    clock.advance(9_999)
    assert await seats.expire_lapsed() == 0
    clock.advance(1)
    assert await seats.expire_lapsed() == 2
    assert await seats.expire_lapsed() == 0
    assert [e.change.status.value for e in published] == ["locked", "locked", "unlocked", "unlocked"]
    assert isinstance(await seats.lock("s2", SHOWTIME, Selection(["C1"])), Accepted)


async def test_the_seat_change_rate_follows_the_monotonic_clock_not_wall_steps(engine: AsyncEngine) -> None:
    clock = ManualClock()
    seats = service(engine, clock, Published(), seat_changes_per_second=1, seat_change_burst=1)
    assert isinstance(await seats.lock("s1", SHOWTIME, Selection(["D1"])), Accepted)
    limited = await seats.lock("s1", SHOWTIME, Selection(["D2"]))
    assert isinstance(limited, Rejection)
    assert (limited.code, limited.retry_after_ms) == (ErrorCode.RATE_LIMITED, 1000)
    clock.step_wall(-600_000)  # a wall clock stepped back ten minutes changes nothing
    limited = await seats.lock("s1", SHOWTIME, Selection(["D2"]))
    assert isinstance(limited, Rejection)
    assert limited.retry_after_ms == 1000
    clock.advance(1000)
    assert isinstance(await seats.lock("s1", SHOWTIME, Selection(["D2"])), Accepted)


async def test_replay_gives_the_missed_changes_or_none_when_the_log_cannot(engine: AsyncEngine) -> None:
    clock = ManualClock()
    seats = service(engine, clock, Published(), max_replay_events=2)
    await seats.lock("s1", SHOWTIME, Selection(["A3", "A4", "A5"]))
    replay = await seats.replay(SHOWTIME, 1)
    assert isinstance(replay, Replay)
    assert (replay.seq, [e.seq for e in replay.events]) == (3, [2, 3])
    assert await seats.replay(SHOWTIME, 0) is None  # three changes, more than max_replay_events
    assert await seats.replay(SHOWTIME, 7) is None  # ahead of the showtime: a snapshot must do


async def test_a_showtime_has_its_seats_and_its_seq_is_read_alone(engine: AsyncEngine) -> None:
    seats = service(engine, ManualClock(), Published())
    await seats.lock("s1", SHOWTIME, Selection(["B4"]))
    found = await seats.showtime(SHOWTIME)
    assert isinstance(found, ShowtimeDetails)
    assert len(found.hall.seats()) == 20
    state = await seats.state(SHOWTIME)
    assert state is not None
    assert (state[0], state[1]) == (1, found.terms)
    missing = await seats.showtime("st_missing")
    assert isinstance(missing, Rejection)
    assert await seats.state("st_missing") is None


async def test_a_status_view_says_when_its_first_hold_lapses(engine: AsyncEngine) -> None:
    clock = ManualClock()
    seats = service(engine, clock, Published(), hold_ttl_seconds=60)
    await seats.lock("s1", SHOWTIME, Selection(["B4"]))
    clock.advance(10_000)
    await seats.lock("s2", SHOWTIME, Selection(["B5"]))
    status = await seats.status("", SHOWTIME)
    assert isinstance(status, StatusView)
    assert (status.held, status.mine, status.lapses_at) == (["B4", "B5"], {}, clock.now() + 50_000)
    clock.advance(50_000)  # B4 lapsed, not yet swept: no longer shown held
    status = await seats.status("", SHOWTIME)
    assert isinstance(status, StatusView)
    assert (status.seq, status.held, status.lapses_at) == (2, ["B5"], clock.now() + 10_000)


async def test_showtimes_are_listed(engine: AsyncEngine) -> None:
    listed = await service(engine, ManualClock(), Published()).showtimes()
    assert [(s.id, s.title, s.seat_count, s.currency) for s in listed] == [(SHOWTIME, "Unit", 20, "EUR")]


async def test_upkeep_forgets_expired_idempotency_keys_now_and_then(engine: AsyncEngine) -> None:
    clock = ManualClock()
    seats, keys = service(engine, clock, Published()), IdempotencyKeys(engine)
    await keys.claim("s1", "lapsed", "fp", clock.now() - 10, clock.now())
    await keys.claim("s1", "live", "fp", clock.now(), clock.now() + 1)
    await seats.maintain()
    assert await keys.find("s1", "lapsed") is None
    assert await keys.find("s1", "live") is not None
    clock.advance(1)
    await seats.maintain()  # within the prune interval: kept for the next round
    assert await keys.find("s1", "live") is not None
    clock.advance(60_000)
    await seats.maintain()
    assert await keys.find("s1", "live") is None


PAY_LATER = NewBooking(Customer("Ada", "ada@example.com"), pending=True)


async def test_a_pending_booking_outlives_the_hold_ttl_and_expires_at_its_payment_due_time(engine: AsyncEngine) -> None:
    clock, published = ManualClock(), Published()
    seats = service(engine, clock, published, hold_ttl_seconds=60, payment_timeout_seconds=900)
    await seats.lock("s1", SHOWTIME, Selection(["A1", "A2"]))
    booked = await seats.book("s1", SHOWTIME, Selection(["A1", "A2"]), PAY_LATER)
    assert isinstance(booked, Accepted)
    assert booked.booking is not None
    assert (booked.booking.status, booked.booking.payment_due_at) == (BookingStatus.PENDING, clock.now() + 900_000)
    assert [e.change.status.value for e in published] == ["locked"] * 4  # locked again: still taken
    status = await seats.status("s1", SHOWTIME)
    assert isinstance(status, StatusView)
    assert (status.held, status.mine, status.lapses_at) == (["A1", "A2"], {}, None)  # held, but not a hold
    clock.advance(60_000)
    assert await seats.expire_lapsed() == 0  # the hold TTL is nothing to it
    clock.advance(839_999)
    assert await seats.expire_lapsed() == 0
    clock.advance(1)
    assert await seats.expire_lapsed() == 2
    assert await seats.expire_lapsed() == 0
    assert [e.change.status.value for e in published[4:]] == ["unlocked", "unlocked"]
    expired = await seats.booking(ADMIN, booked.booking.id)
    assert isinstance(expired, BookingRecord)
    assert (expired.status, expired.expired_at) == (BookingStatus.EXPIRED, clock.now())


async def test_confirm_and_cancel_answer_with_the_booking_or_the_code_of_its_status(engine: AsyncEngine) -> None:
    clock, published = ManualClock(), Published()
    seats = service(engine, clock, published)
    await seats.lock("s1", SHOWTIME, Selection(["B1"]))
    booked = await seats.book("s1", SHOWTIME, Selection(["B1"]), PAY_LATER)
    assert isinstance(booked, Accepted)
    assert booked.booking is not None
    booking_id = booked.booking.id
    foreign = await seats.cancel("s2", booking_id, None)
    assert isinstance(foreign, Rejection)
    assert foreign.code is ErrorCode.NOT_FOUND
    unknown = await seats.confirm("bk_nope", "pay_1", "stripe")
    assert isinstance(unknown, Rejection)
    assert unknown.code is ErrorCode.NOT_FOUND
    paid = await seats.confirm(booking_id, "pay_1", "stripe")
    assert isinstance(paid, BookingRecord)
    assert (paid.status, paid.payment_reference, paid.payment_provider) == (BookingStatus.CONFIRMED, "pay_1", "stripe")
    assert await seats.confirm(booking_id, "pay_1", "stripe") == paid  # told twice: the same answer
    by_buyer = await seats.cancel("s1", booking_id, None)
    assert isinstance(by_buyer, Rejection)
    assert by_buyer.code is ErrorCode.BOOKING_CONFIRMED
    refunded = await seats.cancel(ADMIN, booking_id, "refund")
    assert isinstance(refunded, BookingRecord)
    assert (refunded.status, refunded.cancel_reason) == (BookingStatus.CANCELLED, "refund")
    assert [e.change.status.value for e in published] == ["locked", "locked", "booked", "unlocked"]
    await seats.lock("s3", SHOWTIME, Selection(["B1"]))  # the seat is free at once
    late = await seats.confirm(booking_id, "pay_2", "stripe")
    assert isinstance(late, Rejection)
    assert late.code is ErrorCode.BOOKING_CANCELLED
    logged = await seats.booking(ADMIN, booking_id)
    assert isinstance(logged, BookingRecord)
    assert (logged.status, logged.payment_reference, len(logged.transitions)) == (BookingStatus.CANCELLED, "pay_2", 4)


async def test_a_buyer_cancelling_is_a_seat_change_under_its_rate_limit(engine: AsyncEngine) -> None:
    clock = ManualClock()
    seats = service(engine, clock, Published(), seat_changes_per_second=1, seat_change_burst=2)
    await seats.lock("s1", SHOWTIME, Selection(["C1"]))
    booked = await seats.book("s1", SHOWTIME, Selection(["C1"]), PAY_LATER)
    assert isinstance(booked, Accepted)
    assert booked.booking is not None
    limited = await seats.cancel("s1", booked.booking.id, None)
    assert isinstance(limited, Rejection)
    assert limited.code is ErrorCode.RATE_LIMITED
    assert isinstance(await seats.cancel(ADMIN, booked.booking.id, None), BookingRecord)  # the shop has no limit


async def test_the_log_keeps_the_seats_history_longer_than_it_replays_it(engine: AsyncEngine) -> None:
    """Replays offer changes younger than EVENT_LOG_RETENTION_SECONDS; pruning waits for AUDIT_RETENTION_DAYS."""
    clock = ManualClock()
    seats = service(engine, clock, Published(), event_log_retention_seconds=60, audit_retention_days=0.01)
    await seats.lock("s1", SHOWTIME, Selection(["A1", "A2"]), Channel.SOCKET)
    await seats.unlock("s1", SHOWTIME, Selection(["A1"]), Channel.REST)
    assert isinstance(await seats.replay(SHOWTIME, 0), Replay)
    clock.advance(61_000)
    await seats.maintain()  # prunes what is older than the audit retention: nothing yet
    assert await seats.replay(SHOWTIME, 0) is None  # older than the replay retention: a snapshot must do
    assert await seats.replay(SHOWTIME, 3) == Replay(3, [])
    history = await seats.history(HistoryQuery(SHOWTIME, 10))
    assert isinstance(history, list)
    assert [(e.seq, e.seat, e.origin, e.actor, e.channel) for e in history] == [
        (1, "A1", Origin.LOCK, "s1", Channel.SOCKET),
        (2, "A2", Origin.LOCK, "s1", Channel.SOCKET),
        (3, "A1", Origin.UNLOCK, "s1", Channel.REST),
    ]
    clock.advance(864_000)  # past the audit retention (and A2's hold, which lapses now)
    await seats.maintain()
    history = await seats.history(HistoryQuery(SHOWTIME, 10))
    assert isinstance(history, list)
    assert [(e.seq, e.seat, e.origin, e.actor, e.channel) for e in history] == [
        (4, "A2", Origin.HOLD_EXPIRED, "system", Channel.SYSTEM),
    ]
    unknown = await seats.history(HistoryQuery(SHOWTIME, 10, seat="Z9"))
    assert isinstance(unknown, Rejection)
    assert unknown.code is ErrorCode.UNKNOWN_SEAT
    missing = await seats.history(HistoryQuery("st_missing", 10))
    assert isinstance(missing, Rejection)
    assert missing.code is ErrorCode.UNKNOWN_SHOWTIME
