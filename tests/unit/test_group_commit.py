"""Group commit: changes queued while a transaction runs share the next one, decided and answered in order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from server.core.changes import BookingChange, Change, Committed, Event
from server.core.errors import ErrorCode, Rejection
from server.core.origins import Channel, Origin, Source
from server.core.seats import Plan, SeatChange, SeatStatus
from server.group_commit import GroupCommit
from server.keyed_lock import KeyedLock


def change(seat: str) -> Change:
    return Change((seat,), "s", rule=lambda claims, terms: Plan("s"), source=Source("s", Channel.REST))


class Ledger:
    """An in-memory transaction log: each transaction's changes, and a seq that grows by one per change."""

    def __init__(self, fail: bool = False) -> None:
        self.transactions: list[list[str]] = []
        self.announced: list[int] = []
        self.seq = 0
        self.fail = fail
        self.gate = asyncio.Event()
        self.gate.set()

    async def commit(self, showtime_id: str, changes: Sequence[Change | BookingChange]) -> list[Rejection | Committed]:
        await self.gate.wait()
        if self.fail:
            raise ConnectionError("the database went away")
        self.transactions.append([c.seats[0] for c in changes])
        outcomes: list[Rejection | Committed] = []
        for c in changes:
            if c.seats[0] == "taken":
                outcomes.append(Rejection(ErrorCode.SEAT_UNAVAILABLE, "taken", c.seats))
                continue
            self.seq += 1
            event = Event(showtime_id, self.seq, SeatChange(c.seats[0], SeatStatus.LOCKED, "s", Origin.LOCK), 0)
            outcomes.append(Committed(Plan("s"), [event]))
        return outcomes

    def announce(self, committed: Committed) -> None:
        self.announced += [event.seq for event in committed.events]


async def test_changes_arriving_during_a_transaction_share_the_next_one_in_order() -> None:
    ledger = Ledger()
    group = GroupCommit(ledger.commit, KeyedLock(), ledger.announce, max_batch=3)
    ledger.gate.clear()
    first = asyncio.create_task(group.decide("st", change("A1")))
    await asyncio.sleep(0)  # the drainer takes A1 and waits in its transaction
    rest = [asyncio.create_task(group.decide("st", change(seat))) for seat in ("A2", "A3", "taken", "A4", "A5")]
    await asyncio.sleep(0)
    ledger.gate.set()
    outcomes = await asyncio.gather(first, *rest)
    assert ledger.transactions == [["A1"], ["A2", "A3", "taken"], ["A4", "A5"]]
    assert [o.events[0].seq if isinstance(o, Committed) else o.code for o in outcomes] == [
        1, 2, 3, ErrorCode.SEAT_UNAVAILABLE, 4, 5,
    ]  # fmt: skip
    assert ledger.announced == [1, 2, 3, 4, 5]


async def test_showtimes_commit_independently() -> None:
    ledger = Ledger()
    group = GroupCommit(ledger.commit, KeyedLock(), ledger.announce)
    await asyncio.gather(group.decide("one", change("A1")), group.decide("two", change("B1")))
    assert sorted(ledger.transactions) == [["A1"], ["B1"]]


async def test_a_failed_transaction_refuses_its_whole_batch_and_the_next_change_starts_afresh() -> None:
    ledger = Ledger(fail=True)
    group = GroupCommit(ledger.commit, KeyedLock(), ledger.announce)
    failed = await asyncio.gather(group.decide("st", change("A1")), group.decide("st", change("A2")))
    assert [o.code for o in failed if isinstance(o, Rejection)] == [ErrorCode.INTERNAL_ERROR] * 2
    assert ledger.announced == []
    ledger.fail = False
    assert isinstance(await group.decide("st", change("A3")), Committed)


async def test_a_reader_holding_the_showtime_lock_never_sees_half_a_transaction_announced() -> None:
    ledger = Ledger()
    serial = KeyedLock()
    group = GroupCommit(ledger.commit, serial, ledger.announce, max_batch=2)
    seen: list[int] = []

    async def reader() -> None:
        async with serial.hold("st"):
            seen.append(len(ledger.announced))

    ledger.gate.clear()
    decisions = [asyncio.create_task(group.decide("st", change(f"A{n}"))) for n in range(6)]
    readers = [asyncio.create_task(reader()) for _ in range(3)]
    await asyncio.sleep(0)
    ledger.gate.set()
    await asyncio.gather(*decisions, *readers)
    boundaries = {0}
    for transaction in ledger.transactions:
        boundaries.add(max(boundaries) + len(transaction))
    assert len(ledger.transactions) > 1
    assert set(seen) <= boundaries
    assert len(serial) == 0  # forgotten once nobody holds or awaits it
