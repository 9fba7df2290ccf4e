"""The figures watch: followers told their showtime's figures after changes, one reading for a burst, none for
showtimes nobody follows, and the throttle kept while a reading is on its way (real SQLite, fake connections)."""

from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.changes import Event, Selection
from server.core.errors import Rejection
from server.fanout import Fanout
from server.figures import FiguresWatch
from server.metrics import Metrics
from server.service import SeatService
from server.settings import SeatSettings
from server.storage.store import SeatStore
from tests.fakes import FakeConnection, FakeOutlet, ManualClock
from tests.unit.database import SHOWTIME, engine

__all__ = ["engine"]

INTERVAL = 0.05  # seconds: the clock is manual, so each throttled reading waits out the whole interval


async def no_log(showtime_id: str, after: int, upto: int) -> list[Event]:
    raise AssertionError("the event log is not read in these tests")


def watch(engine: AsyncEngine) -> tuple[FiguresWatch[FakeConnection], SeatService]:
    clock = ManualClock()
    fanout: Fanout[FakeConnection] = Fanout(no_log, FakeOutlet(), Metrics(), 1 << 20)
    service = SeatService(SeatStore(engine), SeatSettings(), lambda events: None, Metrics(), clock)
    return FiguresWatch(service, fanout, clock, INTERVAL), service


def figures(connection: FakeConnection) -> list[dict[str, object]]:
    return [message for message in connection.messages() if message["type"] == "figures"]


async def test_the_reply_then_one_reading_per_burst(engine: AsyncEngine) -> None:
    watched, service = watch(engine)
    operator = FakeConnection("operator")
    reply = await watched.follow(operator, SHOWTIME, "r1")
    assert not isinstance(reply, Rejection)
    assert (orjson.loads(reply)["requestId"], orjson.loads(reply)["available"]) == ("r1", 20)
    assert not isinstance(await service.lock("s_a", SHOWTIME, Selection(["A1"])), Rejection)
    watched.changed([SHOWTIME])  # at once: nothing was read since the reply
    await watched.settled()
    assert [message["held"] for message in figures(operator)] == [1]
    assert not isinstance(await service.lock("s_a", SHOWTIME, Selection(["A2", "A3"])), Rejection)
    for _ in range(20):
        watched.changed([SHOWTIME, "st_nobody_follows"])
    await watched.settled()
    assert [message["held"] for message in figures(operator)] == [1, 3]


async def test_unknown_showtimes_are_refused_and_not_followed(engine: AsyncEngine) -> None:
    watched, _ = watch(engine)
    operator = FakeConnection("operator")
    refused = await watched.follow(operator, "st_unknown", None)
    assert isinstance(refused, Rejection)
    assert refused.code == "unknown_showtime"
    watched.changed(["st_unknown"])
    await watched.settled()
    assert operator.frames == []


async def test_a_closed_connection_is_told_nothing_more(engine: AsyncEngine) -> None:
    watched, _ = watch(engine)
    operator = FakeConnection("operator")
    await watched.follow(operator, SHOWTIME, None)
    watched.forget(operator)
    watched.changed([SHOWTIME])
    await watched.settled()
    assert operator.frames == []


async def test_followed_again_while_a_reading_waits_it_is_still_read_once(engine: AsyncEngine) -> None:
    watched, _ = watch(engine)
    first, second = FakeConnection("first"), FakeConnection("second")
    await watched.follow(first, SHOWTIME, None)
    watched.changed([SHOWTIME])
    await watched.settled()
    watched.changed([SHOWTIME])  # waits out the interval
    watched.forget(first)
    await watched.follow(second, SHOWTIME, None)
    watched.changed([SHOWTIME])  # the waiting reading covers it: no second one
    await watched.settled()
    assert len(figures(second)) == 1
    await watched.stop()
