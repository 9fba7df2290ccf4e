"""Subscribing: a snapshot or a replay, then the fan-out, with no change lost or doubled, even while changes race in.

Two instances share one SQLite database, as in production they share PostgreSQL: each has its own service
and fan-out, and what one commits reaches the other's fan-out as the bus would bring it.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.changes import Accepted, Customer, Event, NewBooking, Selection
from server.core.errors import ErrorCode, Rejection
from server.core.records import Snapshot
from server.core.seats import SeatState
from server.fanout import Fanout
from server.messages import CurrentSeatStatus
from server.metrics import Metrics
from server.service import ADMIN, SeatService
from server.settings import SeatSettings
from server.storage.store import SeatStore
from server.subscriptions import Joined, Subscriptions
from tests.fakes import FakeConnection, FakeOutlet, ManualClock
from tests.unit.database import SHOWTIME, engine

__all__ = ["engine"]

SEATS = [f"{row}{number}" for row in "ABCD" for number in range(1, 6)]
UNLIMITED = SeatSettings(seat_changes_per_second=1e9, seat_change_burst=1_000_000, max_held_seats_per_session=100)


class CountingStore(SeatStore):
    """A store that counts the catch-up reads: whole snapshots, log replays and one session's holds."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.reads: Counter[str] = Counter()

    async def snapshot(self, showtime_id: str) -> Snapshot:
        self.reads["snapshot"] += 1
        return await super().snapshot(showtime_id)

    async def replay(self, showtime_id: str, after: int, limit: int, since: int = 0) -> tuple[int, list[Event]] | None:
        self.reads["replay"] += 1
        return await super().replay(showtime_id, after, limit, since)

    async def holds(self, showtime_id: str, session_id: str) -> dict[str, int]:
        self.reads["holds"] += 1
        return await super().holds(showtime_id, session_id)


@dataclass
class Instance:
    service: SeatService
    fanout: Fanout[FakeConnection]
    subscriptions: Subscriptions[FakeConnection]
    store: CountingStore


def instance(
    engine: AsyncEngine, peers: list[Fanout[FakeConnection]], history: int = 256, clock: ManualClock | None = None
) -> Instance:
    store = CountingStore(engine)
    fanout: Fanout[FakeConnection] = Fanout(store.events, FakeOutlet(), Metrics(), 1 << 20, history=history)
    peers.append(fanout)

    def publish(events: Sequence[Event]) -> None:
        for peer in peers:  # the bus: every instance's fan-out, this one's first
            peer.publish(events)

    service = SeatService(store, UNLIMITED, publish, Metrics(), clock or ManualClock())
    return Instance(service, fanout, Subscriptions(service, fanout, max_per_connection=3), store)


def view(connection: FakeConnection) -> tuple[dict[str, str], int]:
    """What a client believes after applying everything it was sent; checks the seq runs on without a gap."""
    seats: dict[str, str] = {}
    seq = -1
    for message in connection.messages():
        if message["type"] == "current_seat_status":
            seats = {seat: "locked" for seat in message["lockedSeats"]}  # type: ignore[attr-defined]
            seats |= {seat: "booked" for seat in message["bookedSeats"]}  # type: ignore[attr-defined]
            seq = int(message["seq"])  # type: ignore[call-overload]
        elif message["type"] == "seat_status_change":
            assert seq >= 0, "a change arrived before the snapshot"
            assert message["seq"] == seq + 1, f"expected seq {seq + 1}, got {message['seq']}"
            seq += 1
            seats[str(message["seatId"])] = str(message["status"])
    return {seat: status for seat, status in seats.items() if status != "unlocked"}, seq


async def database_view(service: SeatService) -> tuple[dict[str, str], int]:
    status = await service.status("", SHOWTIME)
    assert not isinstance(status, Rejection)
    return {seat: "locked" for seat in status.held} | {seat: "booked" for seat in status.booked}, status.seq


async def churn(service: SeatService, session: str, rounds: int, seed: int) -> None:
    chooser = random.Random(seed)
    for _ in range(rounds):
        seats = chooser.sample(SEATS, 2)
        await service.lock(session, SHOWTIME, Selection(seats))
        await service.unlock(session, SHOWTIME, Selection(seats[:1]))


async def test_subscribers_joining_while_both_instances_commit_see_exactly_the_database(engine: AsyncEngine) -> None:
    peers: list[Fanout[FakeConnection]] = []
    here, there = instance(engine, peers), instance(engine, peers)
    connections = [FakeConnection(f"c{n}") for n in range(40)]

    async def join_late(connection: FakeConnection, delay: int) -> None:
        for _ in range(delay):
            await asyncio.sleep(0)
        joined = await here.subscriptions.subscribe(connection, "s_viewer", SHOWTIME)
        assert isinstance(joined, Joined)
        here.fanout.send(connection, joined.frames)

    await asyncio.gather(
        churn(here.service, "s_here", 30, seed=1),
        churn(there.service, "s_there", 30, seed=2),
        *(join_late(connection, delay=n * 3) for n, connection in enumerate(connections)),
    )
    # While the other instance commits, a snapshot read may miss the channel's seq and not seed its memory, and
    # changes committed there during the first subscriber's read leave a gap, repaired from the log. Once the
    # commits pause and the gap is repaired, one read warms the channel and it serves the rest from memory.
    expected = await database_view(here.service)
    await here.fanout.delivered(SHOWTIME, expected[1])
    before = here.store.reads["snapshot"]
    later = [FakeConnection(f"later{n}") for n in range(10)]
    for connection in later:
        await join_late(connection, delay=0)
    assert here.store.reads["snapshot"] - before <= 1
    for connection in [*connections, *later]:
        assert view(connection) == expected, connection.name


async def test_joins_on_a_warm_channel_read_no_snapshot_and_own_holds_only_for_a_holder(engine: AsyncEngine) -> None:
    node = instance(engine, [])
    await node.service.lock("s_holder", SHOWTIME, Selection(["A1", "A2"]))
    first = await node.subscriptions.subscribe(FakeConnection("first"), "s_viewer", SHOWTIME)
    assert isinstance(first, Joined)
    await node.service.lock("s_other", SHOWTIME, Selection(["B1"]))
    assert node.store.reads == {"snapshot": 1}
    for n in range(200):
        joined = await node.subscriptions.subscribe(FakeConnection(f"c{n}"), f"s_new{n}", SHOWTIME)
        assert isinstance(joined, Joined)
        assert joined.seq == 3
    assert node.store.reads == {"snapshot": 1}  # no holds of their own: nothing read at all
    holder = FakeConnection("holder")
    joined = await node.subscriptions.subscribe(holder, "s_holder", SHOWTIME)
    assert isinstance(joined, Joined)
    assert node.store.reads == {"snapshot": 1, "holds": 1}
    holder.frames += joined.frames
    status = next(m for m in holder.messages() if m["type"] == "current_seat_status")
    assert (status["mySeats"], status["lockedSeats"]) == (["A1", "A2"], ["A1", "A2", "B1"])
    assert status["holdExpiresAt"] == await node.service.own_holds("s_holder", SHOWTIME)


async def test_a_warm_showtime_takes_new_subscribers_without_its_lock_and_renders_their_snapshot_once(
    engine: AsyncEngine,
) -> None:
    clock = ManualClock()
    node = instance(engine, [], clock=clock)
    assert isinstance(await node.subscriptions.subscribe(FakeConnection("first"), "s_first", SHOWTIME), Joined)
    await node.service.lock("s_other", SHOWTIME, Selection(["A1"]))
    renders = 0
    real_view = node.service.view

    def counted_view(*args):  # type: ignore[no-untyped-def]
        nonlocal renders
        renders += 1
        return real_view(*args)

    node.service.view = counted_view  # type: ignore[method-assign]
    snapshots: list[dict[str, object]] = []
    async with node.service.serialized(SHOWTIME):  # as while a change of the showtime commits
        for n in range(3):
            clock.advance(250)
            subscribing = asyncio.create_task(node.subscriptions.subscribe(FakeConnection(f"c{n}"), f"s{n}", SHOWTIME))
            for _ in range(5):
                await asyncio.sleep(0)
            assert subscribing.done()  # it did not wait for the lock
            joined = subscribing.result()
            assert isinstance(joined, Joined)
            snapshots.append(orjson.loads(joined.frames[1]))
    assert renders == 1
    assert [snapshot.pop("timestamp") for snapshot in snapshots] == [clock.now() - 500, clock.now() - 250, clock.now()]
    assert snapshots == [snapshots[0]] * 3
    assert (snapshots[0]["seq"], snapshots[0]["lockedSeats"]) == (1, ["A1"])


async def test_a_replay_from_kept_frames_reads_nothing(engine: AsyncEngine) -> None:
    node = instance(engine, [])
    watcher = await node.subscriptions.subscribe(FakeConnection("watcher"), "s", SHOWTIME)
    assert isinstance(watcher, Joined)
    await node.service.lock("s_other", SHOWTIME, Selection(["C1", "C2"]))
    again = FakeConnection("again")
    replayed = await node.subscriptions.subscribe(again, "s", SHOWTIME, last_seq=1)
    assert isinstance(replayed, Joined)
    assert (replayed.recovered, replayed.seq) == (True, 2)
    again.frames += replayed.frames
    assert [(m["type"], m.get("seq")) for m in again.messages()] == [("seat_status_change", 2), ("subscribed", 2)]
    assert node.store.reads == {"snapshot": 1}


async def test_the_audience_greeting_ends_a_subscribe_that_asks_for_it_and_counts_the_subscriber(
    engine: AsyncEngine,
) -> None:
    node = instance(engine, [])
    quiet = await node.subscriptions.subscribe(FakeConnection("quiet"), "s_quiet", SHOWTIME)
    assert isinstance(quiet, Joined)
    assert [orjson.loads(frame)["type"] for frame in quiet.frames] == ["subscribed", "current_seat_status"]
    await node.service.lock("s_other", SHOWTIME, Selection(["A1"]))
    fresh = await node.subscriptions.subscribe(FakeConnection("fresh"), "s", SHOWTIME, audience=True)
    replayed = await node.subscriptions.subscribe(FakeConnection("back"), "s", SHOWTIME, last_seq=0, audience=True)
    assert isinstance(fresh, Joined)
    assert isinstance(replayed, Joined)
    kinds = [[orjson.loads(frame)["type"] for frame in joined.frames] for joined in (fresh, replayed)]
    assert kinds == [
        ["subscribed", "current_seat_status", "audience"],
        ["seat_status_change", "subscribed", "audience"],
    ]
    greetings = [orjson.loads(joined.frames[-1]) for joined in (fresh, replayed)]
    assert [(g["showtimeId"], g["viewers"]) for g in greetings] == [(SHOWTIME, 2), (SHOWTIME, 3)]


async def test_the_memory_snapshot_equals_the_database_after_random_changes_from_two_instances(
    engine: AsyncEngine,
) -> None:
    peers: list[Fanout[FakeConnection]] = []
    clock = ManualClock()
    here, there = instance(engine, peers, clock=clock), instance(engine, peers, clock=clock)
    watcher = await here.subscriptions.subscribe(FakeConnection("watcher"), "s_watch", SHOWTIME)
    assert isinstance(watcher, Joined)
    chooser = random.Random(7)
    sessions = ["s_a", "s_b", "s_c"]
    seen: set[str] = set()
    made: list[tuple[str, str]] = []  # (booking, buyer) of every booking made
    extends: list[bool] = []  # whether each extend was accepted and announced

    async def act(node: Instance) -> None:
        seats = Selection(chooser.sample(SEATS, chooser.randint(1, 3)))
        session = chooser.choice(sessions)
        match chooser.randrange(11):
            case 0 | 1:
                await node.service.lock(session, SHOWTIME, seats)
            case 10:  # announced locked again: the memory must keep the seat held by its holder
                clock.advance(1000)
                extended = await node.service.extend(session, SHOWTIME, seats)
                extends.append(isinstance(extended, Accepted) and extended.seq is not None)
            case 2:
                await node.service.unlock(session, SHOWTIME, seats)
            case 3 | 4:  # a sale follows a hold of the same seats: confirmed at once, or awaiting payment
                await node.service.lock(session, SHOWTIME, seats)
                order = NewBooking(Customer("Ada", "ada@example.com"), pending=chooser.random() < 0.7)
                sold = await node.service.book(session, SHOWTIME, seats, order)
                if isinstance(sold, Accepted) and sold.booking is not None:
                    made.append((sold.booking.id, session))
            case 5 if made:  # paid, or cancelled by its buyer or the shop
                booking_id, buyer = chooser.choice(made)
                if chooser.random() < 0.5:
                    await node.service.confirm(booking_id, "pay", "stripe")
                else:
                    await node.service.cancel(chooser.choice([buyer, ADMIN]), booking_id, None)
            case 6 | 7:
                await node.service.block(SHOWTIME, Selection(seats.seat_ids[:1]), "broken")
            case _:
                await node.service.unblock(SHOWTIME, seats)

    for round_ in range(120):
        await asyncio.gather(act(here), act(there))
        if round_ % 20 == 19:
            for session in sessions:
                before = here.store.reads["snapshot"]
                joined = await here.subscriptions.subscribe(FakeConnection(f"{session}{round_}"), session, SHOWTIME)
                assert isinstance(joined, Joined)
                assert here.store.reads["snapshot"] == before  # served from memory
                remembered = next(orjson.loads(f) for f in joined.frames if '"current_seat_status"' in f)
                status = await here.service.status(session, SHOWTIME)
                assert not isinstance(status, Rejection)
                stored = orjson.loads(CurrentSeatStatus.of(status).to_json())
                assert {k: v for k, v in remembered.items() if k != "timestamp"} == {
                    k: v for k, v in stored.items() if k != "timestamp"
                }
                seen |= {kind for kind in ("lockedSeats", "bookedSeats", "blockedSeats", "mySeats") if stored[kind]}
                seen |= {"pending" for claim in status.claims.values() if claim.state is SeatState.PENDING}
    assert seen == {"lockedSeats", "bookedSeats", "blockedSeats", "mySeats", "pending"}  # every kind was compared
    assert any(extends)


async def test_a_resubscribe_with_last_seq_replays_exactly_what_was_missed(engine: AsyncEngine) -> None:
    node = instance(engine, [])
    first = FakeConnection("first")
    joined = await node.subscriptions.subscribe(first, "s", SHOWTIME)
    assert isinstance(joined, Joined)
    assert (joined.recovered, joined.seq) == (False, 0)
    await node.service.lock("s_other", SHOWTIME, Selection(["A1", "A2"]))
    await node.service.unlock("s_other", SHOWTIME, Selection(["A1"]))

    again = FakeConnection("again")  # a reconnect that saw up to seq 1
    replayed = await node.subscriptions.subscribe(again, "s", SHOWTIME, last_seq=1, request_id="r")
    assert isinstance(replayed, Joined)
    assert (replayed.recovered, replayed.seq) == (True, 3)
    again.frames += replayed.frames
    kinds = [(m["type"], m.get("seq")) for m in again.messages()]
    assert kinds == [("seat_status_change", 2), ("seat_status_change", 3), ("subscribed", 3)]
    assert again.messages()[-1]["requestId"] == "r"


async def test_a_live_resubscribe_continues_after_what_was_sent_without_repeating(engine: AsyncEngine) -> None:
    node = instance(engine, [])
    connection = FakeConnection("c")
    joined = await node.subscriptions.subscribe(connection, "s", SHOWTIME)
    assert isinstance(joined, Joined)
    node.fanout.send(connection, joined.frames)
    await node.service.lock("s_other", SHOWTIME, Selection(["B1", "B2"]))
    again = await node.subscriptions.subscribe(connection, "s", SHOWTIME, last_seq=0)
    assert isinstance(again, Joined)
    assert (again.recovered, again.seq) == (True, 2)
    node.fanout.send(connection, again.frames)
    await node.service.lock("s_other", SHOWTIME, Selection(["B3"]))
    assert connection.seqs() == [1, 2, 3]


async def test_too_old_a_last_seq_gets_a_snapshot_instead(engine: AsyncEngine) -> None:
    node = instance(engine, [])
    await node.service.lock("s_other", SHOWTIME, Selection(["C1"]))
    joined = await node.subscriptions.subscribe(FakeConnection("c"), "s", SHOWTIME, last_seq=99)
    assert isinstance(joined, Joined)
    assert (joined.recovered, joined.seq) == (False, 1)
    assert [frame.count('"recovered":false') for frame in joined.frames[:1]] == [1]


async def test_a_joiner_behind_a_flood_of_remote_changes_reads_its_snapshot_again(engine: AsyncEngine) -> None:
    peers: list[Fanout[FakeConnection]] = []
    here, there = instance(engine, peers, history=1), instance(engine, peers)
    here.fanout.join(SHOWTIME, FakeConnection("watcher"), 0)  # keeps the channel, and so its short history
    real_status = here.service.status
    reads = 0

    async def status_then_flood(session_id: str, showtime_id: str):  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += 1
        status = await real_status(session_id, showtime_id)
        if reads == 1:  # while the first snapshot is in hand, the other instance commits twice
            await there.service.lock("s_there", SHOWTIME, Selection(["D1"]))
            await there.service.lock("s_there", SHOWTIME, Selection(["D2"]))
        return status

    here.service.status = status_then_flood  # type: ignore[method-assign]
    connection = FakeConnection("c")
    joined = await here.subscriptions.subscribe(connection, "s", SHOWTIME)
    assert isinstance(joined, Joined)
    assert reads == 2
    assert joined.seq == 2
    connection.frames += joined.frames
    assert view(connection) == await database_view(there.service)


@pytest.mark.parametrize(
    ("showtime", "subscribed", "code"),
    [("st_missing", 0, ErrorCode.UNKNOWN_SHOWTIME), (SHOWTIME, 3, ErrorCode.TOO_MANY_SUBSCRIPTIONS)],
)
async def test_refusals_leave_the_connection_as_it_was(
    engine: AsyncEngine, showtime: str, subscribed: int, code: ErrorCode
) -> None:
    node = instance(engine, [])
    connection = FakeConnection("c")
    for n in range(subscribed):
        node.fanout.join(f"other{n}", connection, 0)
    before = node.fanout.subscriptions_of(connection)
    refused = await node.subscriptions.subscribe(connection, "s", showtime)
    assert isinstance(refused, Rejection)
    assert refused.code is code
    assert node.fanout.subscriptions_of(connection) == before
