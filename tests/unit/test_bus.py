"""The bus between instances: its message format, the local bus, and reconcile reading what a fan-out missed."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.bus import LocalBus, decode, decode_counts, encode, encode_counts, reconcile
from server.core.changes import Accepted, Event, Selection
from server.core.origins import Origin
from server.core.seats import SeatChange, SeatStatus
from server.fanout import Fanout
from server.metrics import Metrics
from server.service import SeatService
from server.settings import SeatSettings
from server.storage.store import SeatStore
from tests.fakes import FakeConnection, FakeOutlet, ManualClock
from tests.unit.database import SHOWTIME, engine

__all__ = ["engine"]

EVENTS = [
    Event("st_1", 1, SeatChange("A1", SeatStatus.LOCKED, "s_a", Origin.LOCK), 1000),
    Event("st_2", 9, SeatChange("AA12", SeatStatus.BOOKED, "s_b", Origin.BOOK), 2000),
]


def test_a_message_decodes_to_what_was_encoded() -> None:
    assert decode(encode("origin", EVENTS)) == ("origin", EVENTS)
    assert decode(encode("origin", [])) == ("origin", [])


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"5",
        b'["origin"]',
        b'["origin", 5]',
        b'["origin", [null]]',
        b'["origin", [["st", 1, "A1", "sold", "s", 1]]]',  # no such status
        b'["origin", [["st", "one", "A1", "locked", "s", 1]]]',
        b'["origin", [["st", 1, "A1", "locked", "s"]]]',
    ],
)
def test_a_malformed_message_raises_what_the_receiver_catches(data: bytes) -> None:
    with pytest.raises((ValueError, TypeError)):
        decode(data)


def test_the_wire_format_is_compact_positional_json() -> None:
    assert orjson.loads(encode("o", EVENTS[:1])) == ["o", [["st_1", 1, "A1", "locked", "s_a", "lock", 1000]]]


def test_an_audience_announcement_decodes_to_what_was_encoded() -> None:
    assert orjson.loads(encode_counts("o", {"st_1": 3})) == ["o", {"st_1": 3}]
    assert decode_counts(encode_counts("o", {"st_1": 3, "st_2": 0})) == ("o", {"st_1": 3, "st_2": 0})
    assert decode_counts(encode_counts("o", {})) == ("o", {})


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'["o"]',
        b'["o", 5]',
        b'["o", [1]]',
        b'["o", {"st": -1}]',
        b'["o", {"st": 1.5}]',
        b'["o", {"st": "2"}]',
        b'["o", {"st": true}]',
    ],
)
def test_a_malformed_announcement_raises_what_the_receiver_catches(data: bytes) -> None:
    with pytest.raises((ValueError, TypeError, AttributeError)):
        decode_counts(data)


async def test_the_local_bus_delivers_straight_to_this_instance() -> None:
    delivered: list[Event] = []
    bus = LocalBus(delivered.extend)
    await bus.start()
    bus.publish(EVENTS)
    await bus.ping()
    await bus.stop()
    assert delivered == EVENTS


async def test_reconcile_delivers_from_the_log_what_the_fanout_never_got(engine: AsyncEngine) -> None:
    store = SeatStore(engine)
    fanout: Fanout[FakeConnection] = Fanout(store.events, FakeOutlet(), Metrics(), 1 << 20)
    watcher = FakeConnection("watcher")
    fanout.join(SHOWTIME, watcher, 0)

    def lost(events: Sequence[Event]) -> None:  # a bus that drops everything
        pass

    service = SeatService(store, SeatSettings(), lost, Metrics(), ManualClock())
    assert isinstance(await service.lock("s1", SHOWTIME, Selection(["A1", "A2"])), Accepted)
    assert isinstance(await service.unlock("s1", SHOWTIME, Selection(["A1"])), Accepted)
    assert watcher.seqs() == []

    await reconcile(fanout, store.seqs)
    assert watcher.seqs() == [1, 2, 3]
    assert [m["seatId"] for m in watcher.messages()] == ["A1", "A2", "A1"]
    await reconcile(fanout, store.seqs)
    assert watcher.seqs() == [1, 2, 3]  # nothing twice


async def test_reconcile_reads_nothing_when_nobody_is_subscribed() -> None:
    async def unreachable(showtime_ids: Sequence[str]) -> dict[str, int]:
        raise AssertionError("no subscriber, no query")

    async def no_log(showtime_id: str, after: int, upto: int) -> list[Event]:
        raise AssertionError("no subscriber, no query")

    await reconcile(Fanout(no_log, FakeOutlet(), Metrics(), 1 << 20), unreachable)
