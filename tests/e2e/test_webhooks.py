"""Webhooks end to end, with a real receiver on a loopback port: the events of admin blocks arrive signed; a
receiver failing three times gets a fourth attempt after growing waits; an event committed before a kill -9
arrives after the restart; two instances on one PostgreSQL never both make an attempt, and keep each booking's
events in order; the survivor of a killed lease holder takes over."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import pairwise
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, insert, select

from server.core.clock import SystemClock
from server.core.signatures import HEADER, verify
from server.messages import WebhookEventView
from server.storage.database import create_engine
from server.storage.seed import create_showtime
from server.storage.tables import lease, webhook_attempt, webhook_delivery, webhook_event
from tests.cluster import Instance, start_instance, unique_prefix
from tests.conftest import Running, StartServer, eventually
from tests.fakes import ManualClock
from tests.services import create_database, drop_database, free_port
from tests.webhook_receiver import Receiver

KEY = "operator-key-for-tests"
SECRET = "whsec_e2e_secret"
ADMIN = {"Authorization": f"Bearer {KEY}"}
# Quick polls, short waits and a short lease, so that retries and takeovers happen within a test's time.
FAST = {
    "webhook_poll_interval_seconds": "0.05",
    "webhook_backoff_seconds": "0.2",
    "webhook_backoff_max_seconds": "0.5",
    "webhook_lease_seconds": "1",
    "webhook_timeout_seconds": "2",
}


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database of the test's own: the deliverer sends every event in its database, and holds its one lease."""
    return empty_database_url


def received(receiver: Receiver, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(receiver.received) >= count

    return check


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = await Receiver().start()
    yield receiver
    await receiver.stop()


async def webhooks_server(start_server: StartServer, receiver: Receiver, **overrides: Any) -> Running:
    settings = {"webhook_url": receiver.url, "webhook_secret": SECRET, "admin_api_key": KEY} | FAST
    return await start_server(**settings | overrides)


async def block(http_url: str, showtime_id: str, seats: list[str], *, unblock: bool = False) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            "DELETE" if unblock else "POST", f"{http_url}/api/admin/showtimes/{showtime_id}/blocks",
            json={"seatIds": seats, "reason": "camera"}, headers=ADMIN,
        ) as response,
    ):  # fmt: skip
        assert response.status == 200, await response.text()


async def deliveries(running: Running, **query: str) -> list[dict[str, Any]]:
    async with running.http.get(
        f"{running.http_url}/api/admin/webhooks/deliveries", params=query, headers=ADMIN
    ) as response:
        assert response.status == 200
        listed: list[dict[str, Any]] = (await response.json())["deliveries"]
        return listed


async def test_blocked_and_unblocked_seats_arrive_signed_as_documented(
    start_server: StartServer, receiver: Receiver
) -> None:
    running = await webhooks_server(start_server, receiver)
    showtime_id = await running.showtime()
    await block(running.http_url, showtime_id, ["A1", "A2"])
    await block(running.http_url, showtime_id, ["A1"], unblock=True)
    await eventually(received(receiver, 2))
    seen = set()
    for request in receiver.received:
        assert verify(SECRET, request.body, request.headers[HEADER], int(time.time()))
        event = WebhookEventView.model_validate_json(request.body, strict=False)
        assert event.id.startswith("evt_")
        seen.add((event.type, request.body.decode().count('"A'), str(request.event["data"].get("reason"))))
        assert request.event["data"]["showtimeId"] == showtime_id
    assert seen == {("seat.blocked", 2, "camera"), ("seat.unblocked", 1, "None")}
    await eventually(lambda: _delivered(running, 2))
    listed = await deliveries(running, status="delivered")
    assert {d["eventId"] for d in listed} == set(receiver.ids())
    assert [[a["statusCode"] for a in d["attempts"]] for d in listed] == [[200], [200]]
    async with running.http.get(f"{running.http_url}/metrics") as response:
        assert 'seat_webhook_deliveries_total{outcome="delivered"} 2.0' in (await response.text()).splitlines()


async def _delivered(running: Running, count: int) -> bool:
    return len(await deliveries(running, status="delivered")) == count


async def test_three_500s_then_a_200_make_four_attempts_with_growing_waits(
    start_server: StartServer, receiver: Receiver
) -> None:
    clock = ManualClock()
    receiver.statuses = [500, 500, 500]
    running = await webhooks_server(
        start_server, receiver, clock=clock, webhook_backoff_seconds="10", webhook_backoff_max_seconds="3600"
    )
    showtime_id = await running.showtime()
    await block(running.http_url, showtime_id, ["B3"])
    for failed in (1, 2, 3):

        async def recorded(attempts: int = failed) -> bool:
            listed = await deliveries(running)
            return len(listed) == 1 and len(listed[0]["attempts"]) == attempts

        await eventually(recorded)
        (pending,) = await deliveries(running, status="pending")
        clock.advance(pending["nextAttemptAt"] - clock.now())  # the wait, on the server's clock
    await eventually(lambda: _delivered(running, 1))
    (delivered,) = await deliveries(running)
    attempts = delivered["attempts"]
    assert [a["statusCode"] for a in attempts] == [500, 500, 500, 200]
    assert receiver.ids() == [delivered["eventId"]] * 4
    waits = [later["at"] - earlier["at"] for earlier, later in pairwise(attempts)]
    for n, wait in enumerate(waits):  # 10 s doubling, half of each random: each longer than the last
        assert 5_000 * 2**n <= wait < 10_000 * 2**n, waits
    assert waits == sorted(set(waits))


async def sql(database_url: str, query: Any) -> list[Any]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(query)).all())
    finally:
        await engine.dispose()


async def new_showtime(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        title = "Hooks " + secrets.token_hex(3)
        return await create_showtime(engine, rows=3, seats_per_row=10, title=title, starts_at=SystemClock().now())
    finally:
        await engine.dispose()


def instance_settings(url: str, **overrides: str) -> dict[str, str]:
    settings = {"webhook_url": url, "webhook_secret": SECRET, "admin_api_key": KEY} | FAST | overrides
    return {name.upper(): value for name, value in settings.items()}


async def test_an_event_committed_before_a_kill_9_arrives_after_the_restart(database_url: str) -> None:
    port = free_port()  # the receiver is down at first: the event stays in the outbox, its attempt failed
    settings = instance_settings(f"http://127.0.0.1:{port}/hooks")
    first = await start_instance(database_url, "", unique_prefix(), **settings)
    receiver = Receiver()
    try:
        showtime_id = await new_showtime(database_url)
        await block(first.http_url, showtime_id, ["C7"])

        async def tried() -> bool:
            return bool(await sql(database_url, select(webhook_attempt.c.error)))

        await eventually(tried)
        first.kill()
        await first.process.wait()
        await receiver.start(port)
        second = await start_instance(database_url, "", unique_prefix(), **settings)
        try:
            await eventually(received(receiver, 1), timeout=20)
            request = receiver.received[0]
            assert verify(SECRET, request.body, request.headers[HEADER], int(time.time()))
            assert (request.event["type"], request.event["data"]["seatIds"]) == ("seat.blocked", ["C7"])

            async def delivered() -> bool:
                (status,) = await sql(database_url, select(webhook_delivery.c.status))
                return bool(status[0] == "delivered")

            await eventually(delivered)
            log = await sql(database_url, select(webhook_attempt).order_by(webhook_attempt.c.attempt))
            assert log[0].status_code is None
            assert log[0].error.startswith("ClientConnectorError")
            assert log[-1].status_code == 200
        finally:
            await second.stop()
    finally:
        await first.stop()
        await receiver.stop()


@pytest.fixture
async def postgres_database() -> AsyncIterator[str]:
    url = await create_database("seats_webhooks")
    yield url
    await drop_database(url)


async def add_booking_events(database_url: str, bookings: int, positions: int) -> set[str]:
    """Booking events as the booking lifecycle writes them: a body, the booking, its place in its history."""
    rows = [
        {"id": f"evt_bk{b}_{p}", "position": p, "type": "booking.confirmed", "booking_id": f"bk_{b}",
         "showtime_id": "st", "body": f'{{"id":"evt_bk{b}_{p}","type":"booking.confirmed","createdAt":1}}',
         "created_at": SystemClock().now()}
        for b in range(bookings) for p in range(1, positions + 1)
    ]  # fmt: skip
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(webhook_event), rows)
    finally:
        await engine.dispose()
    return {row["id"] for row in rows}  # type: ignore[misc]


async def holder_pid(database_url: str) -> int:
    ((holder,),) = await sql(database_url, select(lease.c.holder).where(lease.c.name == "webhooks"))
    return int(holder.split(":")[-2])


async def test_two_instances_never_both_make_an_attempt_and_keep_each_bookings_order(
    postgres_database: str, receiver: Receiver
) -> None:
    receiver.delay = 0.05  # attempts overlap the other instance's polls
    first_answer: set[str] = set()

    def answer(event: dict[str, Any]) -> int:  # a booking's first event fails once: its others must wait
        if event["id"].endswith("_1") and event["id"] not in first_answer:
            first_answer.add(event["id"])
            return 500
        return 200

    receiver.answer = answer
    # A claim lasts twice the timeout: long, so that however slow the machine, no attempt is made again because
    # its first try seemed lost, and each count below is exact.
    settings = instance_settings(receiver.url, webhook_timeout_seconds="10")
    prefix = unique_prefix()
    instances = [await start_instance(postgres_database, "", prefix, **settings) for _ in range(2)]
    try:
        showtime_id = await new_showtime(postgres_database)
        booking_events = await add_booking_events(postgres_database, bookings=5, positions=3)
        for n in range(1, 11):  # seat events committed through both instances
            await block(instances[n % 2].http_url, showtime_id, [f"A{n}"])
            await block(instances[(n + 1) % 2].http_url, showtime_id, [f"A{n}"], unblock=True)
        events = 20 + len(booking_events)

        async def all_delivered() -> bool:
            query = select(func.count()).where(webhook_delivery.c.status == "delivered")
            return bool((await sql(postgres_database, query))[0][0] == events)

        await eventually(all_delivered, timeout=60)
        counts = Counter(receiver.ids())
        assert len(counts) == events
        # Exactly once each, but for a booking's first event: once failed, once delivered.
        assert {event: n for event, n in counts.items() if n != 1} == dict.fromkeys(first_answer, 2)
        made = await sql(postgres_database, select(webhook_attempt.c.event_id, webhook_attempt.c.attempt))
        assert Counter(event for event, _ in made) == counts  # every request is one recorded attempt
        for booking in range(5):
            arrived = [r for r in receiver.received if r.event["id"].startswith(f"evt_bk{booking}_")]
            ok = [r.event["id"] for r in arrived if r.status == 200]
            assert ok == [f"evt_bk{booking}_{p}" for p in (1, 2, 3)]
            assert arrived[0].status == 500  # nothing of the booking went out before its first event
        await _survivor_takes_over(postgres_database, receiver, instances, showtime_id)
    finally:
        await asyncio.gather(*(instance.stop() for instance in instances))


async def _survivor_takes_over(
    database_url: str, receiver: Receiver, instances: list[Instance], showtime_id: str
) -> None:
    """kill -9 the lease holder: once its lease runs out the other delivers, what it commits included."""
    holder = await holder_pid(database_url)
    (dead,) = [i for i in instances if i.process.pid == holder]
    (survivor,) = [i for i in instances if i is not dead]
    dead.kill()
    await dead.process.wait()
    before = len(receiver.received)
    await block(survivor.http_url, showtime_id, ["B1", "B2"])
    await eventually(received(receiver, before + 1), timeout=20)
    assert receiver.received[-1].event["data"]["seatIds"] == ["B1", "B2"]
    assert await holder_pid(database_url) == survivor.process.pid
