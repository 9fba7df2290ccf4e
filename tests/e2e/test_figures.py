"""Live figures on the socket: only for a connection that sent the admin key, after changes, and at most one
per FIGURES_INTERVAL_SECONDS per showtime however fast the changes come (frames counted over a bounded window:
no timing is asserted), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import math
import secrets

from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.clock import SystemClock
from server.storage.database import create_engine
from server.storage.seed import create_showtime
from tests.client import SeatClient
from tests.cluster import redis_reachable, start_instance, unique_prefix
from tests.conftest import Running, StartServer

KEY = "operator-key-for-the-dashboard"


async def seeded_showtime(engine: AsyncEngine) -> str:
    title = "Figures " + secrets.token_hex(3)
    return await create_showtime(
        engine, rows=2, seats_per_row=4, title=title, starts_at=SystemClock().now() + 3_600_000
    )


async def operator(running: Running) -> SeatClient:
    client = await running.client()
    assert (await client.request("authenticate", adminKey=KEY))["type"] == "authenticated"
    return client


async def test_figures_are_refused_without_the_admin_key(start_server: StartServer) -> None:
    running = await start_server(admin_api_key=KEY)
    showtime = await running.showtime()
    client = await running.client()
    refused = await client.request("subscribe_figures", showtimeId=showtime)
    assert (refused["type"], refused["code"]) == ("error", "unauthorized")
    wrong = await client.request("authenticate", adminKey=KEY + "x")
    assert (wrong["type"], wrong["code"]) == ("error", "unauthorized")
    assert (await client.request("subscribe_figures", showtimeId=showtime))["code"] == "unauthorized"
    # The connection stays usable: with the key it may follow figures.
    assert (await client.request("authenticate", adminKey=KEY))["type"] == "authenticated"
    assert (await client.request("subscribe_figures", showtimeId=showtime))["type"] == "figures"
    await client.close()


async def test_without_an_admin_key_configured_nobody_authenticates(start_server: StartServer) -> None:
    running = await start_server()
    client = await running.client()
    assert (await client.request("authenticate", adminKey=""))["code"] == "unauthorized"
    await client.close()


async def test_unknown_showtimes_have_no_figures(start_server: StartServer) -> None:
    running = await start_server(admin_api_key=KEY)
    client = await operator(running)
    assert (await client.request("subscribe_figures", showtimeId="no-such-showtime"))["code"] == "unknown_showtime"
    await client.close()


async def test_figures_follow_the_changes(start_server: StartServer) -> None:
    running = await start_server(admin_api_key=KEY)
    showtime, other = await running.showtime(), await running.showtime()
    watcher, buyer = await operator(running), await running.client()
    first = await watcher.request("subscribe_figures", showtimeId=showtime)
    assert (first["showtimeId"], first["totalSeats"], first["available"], first["held"]) == (showtime, 15, 15, 0)
    assert (await buyer.request("lock", showtimeId=showtime, seatIds=["A1", "A2"]))["type"] == "ack"
    held = await watcher.next_pushed("figures")
    assert (held["showtimeId"], held["held"], held["available"], held["seq"]) == (
        showtime,
        2,
        13,
        2,
    )  # a change per seat
    assert set(held["byCategory"]) == {"standard", "premium"}
    customer = {"name": "Ada", "email": "ada@example.com"}
    assert (await buyer.request("book", showtimeId=showtime, seatIds=["A1"], customer=customer))["type"] == "ack"
    while (booked := await watcher.next_pushed("figures"))["booked"] != 1:
        pass  # a reading that began before the booking committed
    assert (booked["held"], booked["revenueCents"]) == (1, 1500)
    # Another showtime's changes reach only its own followers.
    assert (await buyer.request("lock", showtimeId=other, seatIds=["A1"]))["type"] == "ack"
    await asyncio.sleep(0.3)
    assert [m for m in watcher.drain() if m["type"] == "figures" and m["showtimeId"] == other] == []
    for client in (watcher, buyer):
        await client.close()


async def test_a_burst_of_changes_brings_at_most_one_figures_per_interval(start_server: StartServer) -> None:
    interval = 0.5
    running = await start_server(admin_api_key=KEY, figures_interval_seconds=interval)
    showtime = await running.showtime(rows=4, seats_per_row=10)
    watchers = [await operator(running) for _ in range(2)]
    for watcher in watchers:
        await watcher.request("subscribe_figures", showtimeId=showtime)
    buyers = [await running.client() for _ in range(4)]
    loop = asyncio.get_running_loop()
    began = loop.time()

    async def churn(buyer: SeatClient, row: str) -> None:
        for _ in range(15):
            for seat in (f"{row}1", f"{row}2"):
                await buyer.request("lock", showtimeId=showtime, seatIds=[seat])
                await buyer.request("unlock", showtimeId=showtime, seatIds=[seat])

    await asyncio.gather(*(churn(buyer, row) for buyer, row in zip(buyers, "ABCD", strict=True)))
    await buyers[0].request("lock", showtimeId=showtime, seatIds=["D9"])  # the last change
    await asyncio.sleep(2 * interval)  # room for the reading that follows it
    ended = loop.time()
    # Readings begin an interval apart at least, the first after `began`; every frame had its reading begun.
    most = math.floor((ended - began) / interval) + 1
    for watcher in watchers:
        received = [m for m in watcher.drain() if m["type"] == "figures"]
        assert 1 <= len(received) <= most, (len(received), most)
        # None lost: the last reading is after the last change.
        assert (received[-1]["held"], received[-1]["seq"]) == (
            1,
            241,
        )  # four buyers x 15 rounds x 2 seats x lock and unlock, then D9
    for client in (*watchers, *buyers):
        await client.close()


async def test_another_instances_changes_bring_figures_too(postgres_url: str) -> None:
    """Two server processes on one PostgreSQL and Redis: the operator follows on one, buyers sell on the other."""
    redis_url, prefix = await redis_reachable(), unique_prefix()
    watched, selling = await asyncio.gather(
        start_instance(postgres_url, redis_url, prefix, ADMIN_API_KEY=KEY),
        start_instance(postgres_url, redis_url, prefix, ADMIN_API_KEY=KEY),
    )
    engine = create_engine(postgres_url)
    try:
        showtime = await seeded_showtime(engine)
        watcher, buyer = await watched.client(), await selling.client()
        assert (await watcher.request("authenticate", adminKey=KEY))["type"] == "authenticated"
        assert (await watcher.request("subscribe_figures", showtimeId=showtime))["held"] == 0
        assert (await buyer.request("lock", showtimeId=showtime, seatIds=["A1"]))["type"] == "ack"
        while (figures := await watcher.next_pushed("figures"))["held"] != 1:
            pass
        assert (figures["showtimeId"], figures["seq"]) == (showtime, 1)
        for client in (watcher, buyer):
            await client.close()
    finally:
        await asyncio.gather(watched.stop(), selling.stop())
        await engine.dispose()
