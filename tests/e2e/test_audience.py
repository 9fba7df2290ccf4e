"""Audience counts on real servers: one instance on each database, three on PostgreSQL and Redis, and a kill -9.

Every wait is bounded and waits for a condition; none asserts how long anything took.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
import redis.asyncio as redis

from server.bus import RedisBus
from tests.client import SeatClient
from tests.cluster import Instance, redis_reachable, start_instance, unique_prefix
from tests.conftest import Running, StartServer, eventually
from tests.e2e.test_instances import new_showtime

__all__ = ["new_showtime"]

INTERVAL = "0.2"  # seconds: short, so that the waits for a condition end soon

NewShowtime = Callable[..., Awaitable[str]]


@pytest.fixture
async def quick(start_server: StartServer) -> Running:
    return await start_server(audience_interval_seconds=float(INTERVAL))


async def subscribed(client: SeatClient, showtime_id: str, **fields: object) -> None:
    reply = await client.request("subscribe", showtimeId=showtime_id, **fields)
    assert reply["type"] == "subscribed", reply


async def told_nothing(client: SeatClient) -> None:
    """Assert that no audience message reached the client before its answer to a ping sent now.

    Call it once another subscriber was told a count that this one would have been told in the same round:
    the server wrote that round before it read the ping, and a connection keeps its order.
    """
    assert (await client.request("ping"))["type"] == "pong"
    assert client.audience.empty(), client.audience.get_nowait()


async def audience_metric(http_url: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{http_url}/metrics") as response:
        text = await response.text()
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith("seat_audience ")))


async def test_subscribers_count_themselves_and_are_told_each_change(quick: Running) -> None:
    showtime_id = await quick.showtime()
    first, second, quiet = await quick.client(), await quick.client(), await quick.client()
    await subscribed(first, showtime_id)
    await first.viewers(showtime_id, 1)  # the greeting: itself
    await subscribed(second, showtime_id)
    await second.viewers(showtime_id, 2)
    await first.viewers(showtime_id, 2)

    await subscribed(quiet, showtime_id, audience=False)  # opted out, but looking: counted
    await first.viewers(showtime_id, 3)
    await second.viewers(showtime_id, 3)
    await told_nothing(quiet)
    assert await audience_metric(quick.http_url) == 3

    await second.request("unsubscribe", showtimeId=showtime_id)
    await first.viewers(showtime_id, 2)
    await quiet.close()
    await first.viewers(showtime_id, 1)
    assert second.audience.empty()  # unsubscribed: told no more
    await eventually(lambda: _metric_is(quick.http_url, 1))


async def test_subscribing_again_switches_the_audience_on_and_off(quick: Running) -> None:
    showtime_id = await quick.showtime()
    switcher, watcher = await quick.client(), await quick.client()
    await subscribed(switcher, showtime_id, audience=False)
    await subscribed(watcher, showtime_id)
    await watcher.viewers(showtime_id, 2)
    await subscribed(switcher, showtime_id)  # on: greeted at once, still counted once
    await switcher.viewers(showtime_id, 2)
    await subscribed(switcher, showtime_id, audience=False)  # off again
    late = await quick.client()
    await subscribed(late, showtime_id)
    await watcher.viewers(showtime_id, 3)
    await told_nothing(switcher)


async def _metric_is(http_url: str, expected: float) -> bool:
    return await audience_metric(http_url) == expected


# --- Several instances ----------------------------------------------------------------------------------------


@pytest.fixture
async def instances(postgres_url: str) -> AsyncIterator[Callable[[], Awaitable[Instance]]]:
    redis_url, prefix = await redis_reachable(), unique_prefix()
    started: list[Instance] = []

    async def start() -> Instance:
        instance = await start_instance(postgres_url, redis_url, prefix, AUDIENCE_INTERVAL_SECONDS=INTERVAL)
        started.append(instance)
        return instance

    yield start
    await asyncio.gather(*(instance.stop() for instance in started))


async def test_three_instances_converge_to_the_true_total_and_forget_one_killed(
    instances: Callable[[], Awaitable[Instance]], new_showtime: NewShowtime
) -> None:
    a, b, c = await instances(), await instances(), await instances()
    showtime_id = await new_showtime()
    on_a = [await a.client() for _ in range(3)]
    on_b = [await b.client() for _ in range(2)]
    on_c = [await c.client() for _ in range(3)]
    quiet = await c.client()
    for client in on_a + on_b + on_c:
        await subscribed(client, showtime_id)
    await subscribed(quiet, showtime_id, audience=False)

    # 9 subscribers on three instances: every subscriber that wants the audience is told 9 in the end.
    await asyncio.gather(*(client.viewers(showtime_id, 9) for client in on_a + on_b + on_c))
    await told_nothing(quiet)
    for instance in (a, b, c):
        await eventually(lambda instance=instance: _metric_is(instance.http_url, 9))  # type: ignore[misc]

    c.kill()  # no goodbye: the others forget it once it has been silent for an interval
    await asyncio.gather(*(client.viewers(showtime_id, 5) for client in on_a + on_b))
    for instance in (a, b):
        await eventually(lambda instance=instance: _metric_is(instance.http_url, 5))  # type: ignore[misc]

    # Counting goes on among the survivors.
    await on_b[0].close()
    await asyncio.gather(*(client.viewers(showtime_id, 4) for client in on_a + on_b[1:]))


async def test_an_instance_that_stops_says_so_and_one_that_returns_counts_again(
    instances: Callable[[], Awaitable[Instance]], new_showtime: NewShowtime
) -> None:
    a, b = await instances(), await instances()
    showtime_id = await new_showtime()
    watcher, leaving = await a.client(), await b.client()
    await subscribed(watcher, showtime_id)
    await subscribed(leaving, showtime_id)
    await watcher.viewers(showtime_id, 2)
    await b.stop()
    await watcher.viewers(showtime_id, 1)
    again = await (await instances()).client()
    await subscribed(again, showtime_id)
    await asyncio.gather(watcher.viewers(showtime_id, 2), again.viewers(showtime_id, 2))


# --- The bus --------------------------------------------------------------------------------------------------


async def test_the_bus_carries_announcements_to_the_others_and_a_goodbye_on_stop() -> None:
    url, prefix = await redis_reachable(), unique_prefix()
    heard: asyncio.Queue[tuple[str, dict[str, int]]] = asyncio.Queue()

    def nothing(events: object) -> None:
        raise AssertionError(f"no change is published here: {events}")

    async def connected() -> None:
        pass

    def bus(hear: Callable[[str, dict[str, int]], None]) -> RedisBus:
        return RedisBus(url, prefix, nothing, connected, hear)

    speaker = bus(lambda origin, counts: pytest.fail(f"heard itself: {origin} {counts}"))
    listener = bus(lambda origin, counts: heard.put_nowait((origin, counts)))
    await speaker.start()
    await listener.start()
    client = redis.Redis.from_url(url)
    try:
        await _wait_for_listeners(client, f"{prefix}:audience", 2)
        await client.publish(f"{prefix}:audience", b'["intruder", {"st": -3}]')  # malformed: ignored
        speaker.announce({"st": 1})
        speaker.announce({"st": 2})  # the latest wins; the first may or may not have gone out already
        origin, counts = await asyncio.wait_for(heard.get(), 10)
        while counts != {"st": 2}:
            assert counts == {"st": 1}, counts
            origin, counts = await asyncio.wait_for(heard.get(), 10)
        await speaker.stop()
        assert await asyncio.wait_for(heard.get(), 10) == (origin, {})
    finally:
        await listener.stop()
        await client.aclose()


async def _wait_for_listeners(client: redis.Redis, channel: str, count: int) -> None:
    async def listening() -> bool:
        return bool(dict(await client.pubsub_numsub(channel)).get(channel.encode(), 0) >= count)

    await eventually(listening)
