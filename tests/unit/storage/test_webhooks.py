"""Webhook deliveries in the database, on SQLite and PostgreSQL: the lease, making and claiming deliveries in
order per booking, recording attempts, giving up, pruning, and the list the admin API shows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.deliveries import DeliveryStatus
from server.storage.database import create_engine
from server.storage.tables import webhook_attempt, webhook_delivery, webhook_event
from server.storage.webhooks import Attempt, DeliveryQuery, Due, WebhookStore

A, B = "http://a.example/hooks", "http://b.example/hooks"
NOW = 1_800_000_000_000
LEASE_MS = 10_000


@pytest.fixture
def engine(migrated_engine: AsyncEngine) -> AsyncEngine:
    return migrated_engine


@pytest.fixture
def store(engine: AsyncEngine) -> WebhookStore:
    return WebhookStore(engine)


async def add_event(
    engine: AsyncEngine, event_id: str, at: int = NOW, booking: str | None = None, position: int = 0
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(webhook_event).values(
                id=event_id, position=position, type="booking.confirmed" if booking else "seat.blocked",
                booking_id=booking, showtime_id="st", body=f'{{"id":"{event_id}"}}', created_at=at,
            )
        )  # fmt: skip


async def deliveries(engine: AsyncEngine) -> dict[tuple[str, str], tuple[str, int, int]]:
    """(event, url) -> (status, attempts, next attempt at)."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(webhook_delivery))
        return {(r.event_id, r.url): (r.status, r.attempts, r.next_attempt_at) for r in rows}


def attempt(due: Due, status_code: int | None, at: int = NOW) -> Attempt:
    return Attempt(due.attempts + 1, at, status_code, None if status_code else "refused", 12)


async def test_one_holder_at_a_time_until_its_lease_runs_out_or_is_given_up(store: WebhookStore) -> None:
    assert await store.take_lease("webhooks", "a", NOW, LEASE_MS)
    assert not await store.take_lease("webhooks", "b", NOW + LEASE_MS - 1, LEASE_MS)
    assert await store.take_lease("webhooks", "a", NOW + 5_000, LEASE_MS)  # renewed: now runs to NOW + 15 s
    assert not await store.take_lease("webhooks", "b", NOW + LEASE_MS, LEASE_MS)
    assert await store.take_lease("webhooks", "b", NOW + 15_000, LEASE_MS)  # a's ran out: b takes over
    assert not await store.take_lease("webhooks", "a", NOW + 15_001, LEASE_MS)
    assert await store.take_lease("other-job", "a", NOW, LEASE_MS)  # leases are per name
    await store.release_lease("webhooks", "a")  # not a's to give up: nothing happens
    assert not await store.take_lease("webhooks", "a", NOW + 15_002, LEASE_MS)
    await store.release_lease("webhooks", "b")
    assert await store.take_lease("webhooks", "a", NOW + 15_003, LEASE_MS)


async def test_many_instances_asking_at_once_give_the_lease_to_exactly_one(
    empty_database_url: str, engine: AsyncEngine
) -> None:
    engines = [create_engine(empty_database_url) for _ in range(8)]
    try:
        for _ in range(5):  # a fresh lease each round: first the insert races, then the takeover of a lapsed one
            now = NOW + _ * LEASE_MS
            taken = await asyncio.gather(
                *(WebhookStore(e).take_lease(f"race-{_ % 2}", f"i{n}", now, LEASE_MS) for n, e in enumerate(engines))
            )
            assert sum(taken) == 1, taken
    finally:
        await asyncio.gather(*(e.dispose() for e in engines))


async def test_each_event_gets_one_delivery_per_url_from_since_on(engine: AsyncEngine, store: WebhookStore) -> None:
    await add_event(engine, "evt_old", at=NOW - 1)
    await add_event(engine, "evt_1")
    assert await store.add_deliveries([A, B], since=NOW) == 2
    await add_event(engine, "evt_2", at=NOW + 5)
    assert await store.add_deliveries([A, B], since=NOW) == 2
    assert await store.add_deliveries([A, B], since=NOW - 1) == 2  # the older event, once looked for
    assert await store.add_deliveries([A, B], since=0) == 0
    assert await deliveries(engine) == {
        (event, url): ("pending", 0, at)
        for event, at in (("evt_old", NOW - 1), ("evt_1", NOW), ("evt_2", NOW + 5))
        for url in (A, B)
    }


async def claim(store: WebhookStore, now: int, url: str = A) -> dict[str, Due]:
    return {due.event_id: due for due in await store.claim([url], now, now + 1_000, limit=10)}


async def test_a_bookings_event_waits_for_its_earlier_ones_to_that_url(
    engine: AsyncEngine, store: WebhookStore
) -> None:
    for event_id, booking, position in [("e1", "bk_1", 1), ("e2", "bk_1", 2), ("e3", "bk_1", 3), ("f1", "bk_2", 1)]:
        await add_event(engine, event_id, booking=booking, position=position)
    await add_event(engine, "seat_1")
    await add_event(engine, "seat_2")
    await store.add_deliveries([A, B], since=0)
    # The first of each booking, and the seat events, which wait for nothing.
    first = await claim(store, NOW)
    assert set(first) == {"e1", "f1", "seat_1", "seat_2"}
    assert await claim(store, NOW) == {}  # claimed: not due again until the claim runs out
    await store.record(first["e1"], attempt(first["e1"], 500), DeliveryStatus.PENDING, NOW + 5_000)
    assert set(await claim(store, NOW + 1_000)) == {"f1", "seat_1", "seat_2"}  # e1 retried later; e2 waits for it
    # To B, e1 was delivered: B's e2 goes out while A's still waits.
    to_b = await claim(store, NOW, B)
    await store.record(to_b["e1"], attempt(to_b["e1"], 200), DeliveryStatus.DELIVERED, NOW)
    assert set(await claim(store, NOW + 1_000, B)) == {"e2", "f1", "seat_1", "seat_2"}
    retried = await claim(store, NOW + 5_000)
    await store.record(retried["e1"], attempt(retried["e1"], 200), DeliveryStatus.DELIVERED, NOW + 5_000)
    assert set(await claim(store, NOW + 5_000)) == {"e2"}
    e2 = await claim(store, NOW + 7_000)
    await store.record(e2["e2"], attempt(e2["e2"], None), DeliveryStatus.FAILED, NOW)  # given up: e3 may go
    assert "e3" in await claim(store, NOW + 7_000)


async def test_two_claims_at_once_never_take_the_same_delivery(engine: AsyncEngine, store: WebhookStore) -> None:
    for n in range(20):
        await add_event(engine, f"evt_{n:02}")
    await store.add_deliveries([A], since=0)
    firsts, seconds = await asyncio.gather(claim(store, NOW), WebhookStore(engine).claim((A,), NOW, NOW + 1_000, 15))
    ids = list(firsts) + [due.event_id for due in seconds]
    assert sorted(ids) == sorted(set(ids))  # none twice (PostgreSQL: both may read the same rows; one wins each)
    rest = await claim(store, NOW)  # and none lost
    assert sorted(ids + list(rest)) == [f"evt_{n:02}" for n in range(20)]


async def test_an_attempt_is_recorded_once_with_the_deliverys_new_state(
    engine: AsyncEngine, store: WebhookStore
) -> None:
    await add_event(engine, "evt_1")
    await store.add_deliveries([A], since=0)
    (due,) = await store.claim([A], NOW, NOW + 1_000, 1)
    assert await store.record(due, attempt(due, 503, NOW + 10), DeliveryStatus.PENDING, NOW + 5_000)
    assert not await store.record(due, attempt(due, 200, NOW + 11), DeliveryStatus.DELIVERED, NOW)  # attempt 1 again
    assert await claim(store, NOW + 4_999) == {}
    (again,) = await store.claim([A], NOW + 5_000, NOW + 6_000, 1)
    assert again.attempts == 1
    assert await store.record(again, attempt(again, 204, NOW + 5_001), DeliveryStatus.DELIVERED, NOW + 5_001)
    async with engine.connect() as conn:
        log = [tuple(row) for row in await conn.execute(select(webhook_attempt).order_by(webhook_attempt.c.attempt))]
    assert log == [("evt_1", A, 1, NOW + 10, 503, None, 12), ("evt_1", A, 2, NOW + 5_001, 204, None, 12)]
    (record,) = await store.deliveries(DeliveryQuery(10))
    assert (record.status, record.last_attempt_at, record.delivered_at, record.next_attempt_at) == (
        "delivered", NOW + 5_001, NOW + 5_001, None,
    )  # fmt: skip


async def test_deliveries_to_a_url_no_longer_configured_fail_when_their_window_ends(
    engine: AsyncEngine, store: WebhookStore
) -> None:
    await add_event(engine, "evt_old", at=NOW - 100)
    await add_event(engine, "evt_new", at=NOW)
    await store.add_deliveries([A, B], since=0)
    assert await store.abandon([A], before=NOW) == 1
    assert {key: state[0] for key, state in (await deliveries(engine)).items()} == {
        ("evt_old", A): "pending",  # still configured: its own attempts decide
        ("evt_old", B): "failed",
        ("evt_new", A): "pending",
        ("evt_new", B): "pending",  # within its window: B may come back
    }
    assert set(await claim(store, NOW, B)) == {"evt_new"}


async def test_finished_events_are_pruned_with_their_attempts_pending_ones_kept(
    engine: AsyncEngine, store: WebhookStore
) -> None:
    for event_id in ("evt_done", "evt_waiting", "evt_recent"):
        await add_event(engine, event_id, at=NOW if event_id == "evt_recent" else NOW - 1000)
    await add_event(engine, "evt_nobody", at=NOW - 1000)  # no delivery at all (configured after its window)
    await store.add_deliveries([A], since=NOW - 1000)
    async with engine.begin() as conn:
        await conn.execute(webhook_delivery.delete().where(webhook_delivery.c.event_id == "evt_nobody"))
    for due in await store.claim([A], NOW, NOW + 1, 10):
        if due.event_id != "evt_waiting":
            await store.record(due, attempt(due, 200), DeliveryStatus.DELIVERED, NOW)
    assert await store.prune(before=NOW - 500, limit=1) == 1
    assert await store.prune(before=NOW - 500, limit=10) == 1
    assert await store.prune(before=NOW - 500, limit=10) == 0
    async with engine.connect() as conn:
        left = set((await conn.execute(select(webhook_event.c.id))).scalars())
        attempts = set((await conn.execute(select(webhook_attempt.c.event_id))).scalars())
    assert (left, attempts) == ({"evt_waiting", "evt_recent"}, {"evt_recent"})
    assert await store.backlog() == 1


async def test_the_list_filters_and_pages_newest_first(engine: AsyncEngine, store: WebhookStore) -> None:
    for n in range(5):
        await add_event(engine, f"evt_{n}", at=NOW + n, booking="bk_1" if n < 2 else None, position=n)
    await store.add_deliveries([A, B], since=0)
    due = [d for d in await store.claim([A], NOW + 10, NOW + 20, 10) if d.event_id == "evt_4"]
    await store.record(due[0], attempt(due[0], 410), DeliveryStatus.FAILED, NOW)

    async def listed(**query: Any) -> list[tuple[str, str]]:
        return [(r.event_id, r.url) for r in await store.deliveries(DeliveryQuery(**{"limit": 100} | query))]

    everything = await listed()
    assert everything == [(f"evt_{n}", url) for n in (4, 3, 2, 1, 0) for url in (B, A)]
    pages, after = [], None
    while page := await store.deliveries(DeliveryQuery(3, after=after)):
        pages.append([(r.event_id, r.url) for r in page])
        after = (page[-1].created_at, page[-1].event_id, page[-1].url)
    assert [len(page) for page in pages] == [3, 3, 3, 1]
    assert [delivery for page in pages for delivery in page] == everything
    assert await listed(status="failed") == [("evt_4", A)]
    assert await listed(event_id="evt_3") == [("evt_3", B), ("evt_3", A)]
    assert await listed(booking_id="bk_1", status="pending") == [("evt_1", B), ("evt_1", A), ("evt_0", B), ("evt_0", A)]
    (failed,) = await store.deliveries(DeliveryQuery(1, status="failed"))
    assert (failed.type, failed.booking_id, failed.showtime_id, failed.created_at) == (
        "seat.blocked",
        None,
        "st",
        NOW + 4,
    )
    assert failed.attempts == (Attempt(1, NOW, 410, None, 12),)
