"""The delivery loop against a real receiver on a loopback port, on SQLite, polled by hand on a manual clock:
signatures, retries with growing waits, giving up, order per booking, one instance at a time, bounded
concurrency, pruning."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.signatures import HEADER, verify
from server.metrics import Metrics
from server.settings import WebhookSettings
from server.storage.tables import lease, webhook_attempt, webhook_delivery, webhook_event
from server.storage.webhooks import WebhookStore
from server.webhooks import LEASE, Webhooks
from tests.fakes import ManualClock
from tests.services import free_port
from tests.unit.database import engine
from tests.webhook_receiver import Receiver

__all__ = ["engine"]

SECRET = "whsec_unit"
HOUR = 3_600_000


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = await Receiver().start()
    yield receiver
    await receiver.stop()


def settings(url: str, **overrides: Any) -> WebhookSettings:
    return WebhookSettings(**{"webhook_url": url, "webhook_secret": SECRET, "webhook_timeout_seconds": 2} | overrides)


@pytest.fixture
def make(engine: AsyncEngine, receiver: Receiver) -> Callable[..., Webhooks]:
    def make(clock: ManualClock, url: str = "", metrics: Metrics | None = None, **overrides: Any) -> Webhooks:
        config = settings(url or receiver.url, **overrides)
        return Webhooks(WebhookStore(engine), config, metrics or Metrics(), clock, jitter=lambda: 0.5)

    return make


async def add_event(engine: AsyncEngine, event_id: str, at: int, booking: str | None = None, position: int = 0) -> str:
    body = orjson.dumps({"id": event_id, "type": "booking.confirmed", "createdAt": at}).decode()
    async with engine.begin() as conn:
        await conn.execute(
            insert(webhook_event).values(
                id=event_id, position=position, type="booking.confirmed", booking_id=booking,
                showtime_id="st", body=body, created_at=at,
            )
        )  # fmt: skip
    return body


async def poll(*instances: Webhooks) -> None:
    for webhooks in instances:
        await webhooks.poll()
        await webhooks.settle()


async def delivery(engine: AsyncEngine, event_id: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(webhook_delivery).where(webhook_delivery.c.event_id == event_id))).one()


async def attempts(engine: AsyncEngine) -> list[tuple[int, int, int | None, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(webhook_attempt).order_by(webhook_attempt.c.at, webhook_attempt.c.attempt))
        return [(row.attempt, row.at, row.status_code, row.error) for row in rows]


def metric(metrics: Metrics, line: str) -> bool:
    return line in metrics.exposition().decode().splitlines()


async def test_an_event_arrives_as_written_and_signed(engine: AsyncEngine, receiver: Receiver, make: Any) -> None:
    clock = ManualClock()
    body = await add_event(engine, "evt_1", clock.now())
    webhooks = make(clock)
    await poll(webhooks)
    (request,) = receiver.received
    headers, raw = request.headers, request.body
    assert raw == body.encode()
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "seat-server-webhooks"
    assert headers[HEADER].startswith(f"t={clock.now() // 1000},v1=")
    assert verify(SECRET, raw, headers[HEADER], clock.now() // 1000)
    assert not verify("another-secret", raw, headers[HEADER], clock.now() // 1000)
    assert (await delivery(engine, "evt_1")).status == "delivered"
    await poll(webhooks)
    assert len(receiver.received) == 1  # delivered: never sent again
    await webhooks.stop(1)


async def test_three_500s_then_a_200_is_four_attempts_with_growing_waits(
    engine: AsyncEngine, receiver: Receiver, make: Any
) -> None:
    clock, metrics = ManualClock(), Metrics()
    receiver.statuses = [500, 500, 500]
    await add_event(engine, "evt_1", clock.now())
    webhooks = make(clock, metrics=metrics, webhook_backoff_seconds=10)
    await poll(webhooks)
    waits = []
    while (row := await delivery(engine, "evt_1")).status == "pending":
        waits.append(row.next_attempt_at - clock.now())
        clock.advance(waits[-1] - 1)
        await poll(webhooks)
        assert row.attempts == (await delivery(engine, "evt_1")).attempts  # not due yet: not tried
        clock.advance(1)
        await poll(webhooks)
    assert waits == [7_500, 15_000, 30_000]  # 10 s doubling, jitter drawn at 0.5: three quarters of each
    start = 1_800_000_000_000
    assert await attempts(engine) == [
        (1, start, 500, None), (2, start + 7_500, 500, None), (3, start + 22_500, 500, None),
        (4, start + 52_500, 200, None),
    ]  # fmt: skip
    assert (row.attempts, row.delivered_at, row.last_attempt_at) == (4, start + 52_500, start + 52_500)
    assert receiver.ids() == ["evt_1"] * 4
    assert metric(metrics, 'seat_webhook_deliveries_total{outcome="retrying"} 3.0')
    assert metric(metrics, 'seat_webhook_deliveries_total{outcome="delivered"} 1.0')
    await webhooks.stop(1)


async def test_no_answer_a_refused_connection_or_a_redirect_is_a_failed_attempt(
    engine: AsyncEngine, receiver: Receiver, make: Any
) -> None:
    clock = ManualClock()
    await add_event(engine, "evt_1", clock.now())
    receiver.delay = 1
    slow = make(clock, webhook_timeout_seconds=0.2)
    await poll(slow)
    await slow.stop(1)
    closed = make(clock, url=f"http://127.0.0.1:{free_port()}/hooks")
    moved = make(clock, url=receiver.url.replace("/hooks", "/moved"))
    for webhooks in (closed, moved):  # each takes the lease the one before gave up when it stopped
        await poll(webhooks)
        await webhooks.stop(1)
    slow_error, closed_error, moved_status = [(code, error) for _, _, code, error in await attempts(engine)]
    assert slow_error == (None, "no answer within 0.2s")
    assert closed_error[0] is None
    assert str(closed_error[1]).startswith("ClientConnectorError: ")
    assert moved_status == (302, None)  # not followed, and not a success
    async with engine.connect() as conn:
        states = (await conn.execute(select(webhook_delivery.c.status, webhook_delivery.c.attempts))).all()
    assert [tuple(state) for state in states] == [("pending", 1)] * 3


async def test_a_delivery_is_given_up_after_its_window_but_tried_once_at_least(
    engine: AsyncEngine, receiver: Receiver, make: Any
) -> None:
    clock, metrics = ManualClock(), Metrics()
    receiver.statuses = [503] * 10
    # evt_late's delivery was made before every instance went down for longer than its window.
    await add_event(engine, "evt_late", clock.now() - 2 * HOUR)
    await WebhookStore(engine).add_deliveries([receiver.url], since=0)
    await add_event(engine, "evt_1", clock.now())
    webhooks = make(clock, metrics=metrics, webhook_retry_hours=1, webhook_backoff_seconds=1000)
    await poll(webhooks)
    for _ in range(4):
        clock.advance((await delivery(engine, "evt_1")).next_attempt_at - clock.now())
        await poll(webhooks)
    failed = await delivery(engine, "evt_1")
    assert (failed.status, failed.attempts, failed.last_attempt_at) == ("failed", 4, clock.now())
    assert clock.now() == 1_800_000_000_000 + HOUR  # the last attempt was at the window's end exactly
    assert (await delivery(engine, "evt_late")).status == "failed"
    assert receiver.ids().count("evt_late") == 1
    assert metric(metrics, 'seat_webhook_deliveries_total{outcome="failed"} 2.0')
    clock.advance(HOUR)
    await poll(webhooks)
    assert len(receiver.received) == 5  # given up: nothing more
    await webhooks.stop(1)


async def test_a_bookings_events_arrive_in_order_even_when_its_first_is_retried(
    engine: AsyncEngine, receiver: Receiver, make: Any
) -> None:
    clock = ManualClock()
    receiver.statuses = [500]  # the first request, b1's first event, fails
    for position in (1, 2, 3):
        await add_event(engine, f"b1_{position}", clock.now() + position, "bk_1", position)
        await add_event(engine, f"b2_{position}", clock.now() + 10 + position, "bk_2", position)
    webhooks = make(clock, webhook_concurrency=1)
    for _ in range(20):
        clock.advance(60_000)
        await poll(webhooks)
    b1 = [event for event in receiver.ids() if event.startswith("b1")]
    b2 = [event for event in receiver.ids() if event.startswith("b2")]
    assert b1 == ["b1_1", "b1_1", "b1_2", "b1_3"]
    assert b2 == ["b2_1", "b2_2", "b2_3"]
    assert receiver.ids().index("b2_1") < receiver.ids().index("b1_2")  # bk_2 did not wait for bk_1
    await webhooks.stop(1)


async def test_only_the_lease_holder_delivers_and_another_takes_over(
    engine: AsyncEngine, receiver: Receiver, make: Any
) -> None:
    clock = ManualClock()
    first, second = make(clock, webhook_lease_seconds=15), make(clock, webhook_lease_seconds=15)
    await add_event(engine, "evt_1", clock.now())
    await poll(first, second)
    assert (first.holding, second.holding, receiver.ids()) == (True, False, ["evt_1"])
    # The holder dies without a word: the other takes over once the lease has run out, not before.
    await add_event(engine, "evt_2", clock.now())
    clock.advance(14_999)
    await poll(second)
    assert (second.holding, receiver.ids()) == (False, ["evt_1"])
    clock.advance(1)
    await poll(second)
    assert (second.holding, receiver.ids()) == (True, ["evt_1", "evt_2"])
    # A clean stop gives the lease up: the other takes over at its next poll.
    await second.stop(1)
    await poll(first)
    assert first.holding
    await first.stop(1)
    async with engine.connect() as conn:
        assert (await conn.execute(select(webhook_attempt.c.event_id))).scalars().all() == ["evt_1", "evt_2"]


async def test_attempts_in_flight_never_exceed_the_concurrency(
    engine: AsyncEngine, receiver: Receiver, make: Any
) -> None:
    clock = ManualClock()
    receiver.delay = 0.2
    for n in range(12):
        await add_event(engine, f"evt_{n:02}", clock.now())
    webhooks = make(clock, webhook_concurrency=3)
    for _ in range(5):  # polls while three are in flight start nothing more
        await webhooks.poll()
    assert receiver.most_in_flight <= 3
    while len(receiver.received) < 12:
        await poll(webhooks)
    assert receiver.most_in_flight == 3
    assert sorted(receiver.ids()) == [f"evt_{n:02}" for n in range(12)]
    await webhooks.stop(1)


async def test_a_url_configured_later_gets_the_events_of_its_window(
    engine: AsyncEngine, receiver: Receiver, make: Any
) -> None:
    clock = ManualClock()
    await add_event(engine, "evt_ancient", clock.now() - 25 * HOUR)
    await add_event(engine, "evt_recent", clock.now() - 23 * HOUR)
    webhooks = make(clock)
    await poll(webhooks)
    assert receiver.ids() == ["evt_recent"]
    await webhooks.stop(1)


async def test_old_finished_events_are_pruned_and_the_backlog_counted(
    engine: AsyncEngine, receiver: Receiver, make: Any
) -> None:
    clock, metrics = ManualClock(), Metrics()
    receiver.statuses = [500]
    await add_event(engine, "evt_1", clock.now())
    await add_event(engine, "evt_2", clock.now())
    webhooks = make(clock, metrics=metrics, webhook_retention_hours=48, webhook_backoff_seconds=3600)
    await poll(webhooks)
    await poll(webhooks)
    assert metric(metrics, "seat_webhook_backlog 1.0")
    assert metric(metrics, "seat_webhook_lease 1.0")
    clock.advance(49 * HOUR)
    await poll(webhooks)  # evt_1 gets its last attempt (and is delivered); evt_2 was delivered long ago
    await poll(webhooks)
    async with engine.connect() as conn:
        left = (await conn.execute(select(webhook_event.c.id))).scalars().all()
    assert left == ["evt_1"]  # evt_2 pruned; evt_1's attempt just ended: kept for its own retention
    assert metric(metrics, "seat_webhook_backlog 0.0")
    await webhooks.stop(1)
    async with engine.connect() as conn:
        assert (await conn.execute(select(lease).where(lease.c.name == LEASE))).all() == []  # given up on stop
