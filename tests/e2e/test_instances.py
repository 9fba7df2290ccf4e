"""Several server processes on one PostgreSQL and one Redis: every client sees every change, in order."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect

from server.core.clock import SystemClock
from server.storage.database import create_engine
from server.storage.seed import create_showtime
from server.storage.tables import booking_seat, seat_event, seat_hold, showtime
from tests.audit import audit
from tests.cluster import Instance, RedisServer, View, redis_reachable, start_instance, unique_prefix

Start = Callable[..., Awaitable[Instance]]


@pytest.fixture
async def redis_url() -> str:
    return await redis_reachable()


@pytest.fixture
async def cluster(postgres_url: str, redis_url: str) -> AsyncIterator[Start]:
    """Start instances sharing one database and one Redis channel; all are stopped at the end."""
    prefix = unique_prefix()
    started: list[Instance] = []

    async def start(redis: str = redis_url, **settings: str) -> Instance:
        instance = await start_instance(postgres_url, redis, prefix, **settings)
        started.append(instance)
        return instance

    yield start
    await asyncio.gather(*(instance.stop() for instance in started))


@pytest.fixture
async def new_showtime(postgres_url: str) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    engine = create_engine(postgres_url)

    async def create(rows: int = 4, seats_per_row: int = 10) -> str:
        return await create_showtime(
            engine,
            rows=rows,
            seats_per_row=seats_per_row,
            title="T " + secrets.token_hex(3),
            starts_at=SystemClock().now(),
        )

    yield create
    await engine.dispose()


async def database_state(postgres_url: str, showtime_id: str) -> tuple[int, dict[str, str]]:
    """The showtime's seq and every claimed seat's status, as the database has them."""
    engine = create_engine(postgres_url)
    async with engine.connect() as conn:
        seq = (await conn.execute(select(showtime.c.seq).where(showtime.c.id == showtime_id))).scalar_one()
        held = await conn.execute(select(seat_hold.c.seat_code).where(seat_hold.c.showtime_id == showtime_id))
        sold = await conn.execute(select(booking_seat.c.seat_code).where(booking_seat.c.showtime_id == showtime_id))
        state = dict.fromkeys(held.scalars(), "locked") | dict.fromkeys(sold.scalars(), "booked")
    await engine.dispose()
    return int(seq), state


async def rest(instance: Instance, method: str, path: str, token: str | None = None, **body: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, instance.http_url + path, json=body or None, headers=headers) as response,
    ):
        result: dict[str, Any] = await response.json(content_type=None)
        return result


async def test_a_change_made_through_one_instance_reaches_subscribers_of_another(
    cluster: Start, new_showtime: Callable[..., Awaitable[str]]
) -> None:
    a, b = await cluster(), await cluster()
    showtime_id = await new_showtime()
    watcher = await View.open(await a.client(), showtime_id)

    socket_locker = await b.client()
    await socket_locker.request("lock", showtimeId=showtime_id, seatIds=["A1"])
    token = (await rest(b, "POST", "/api/sessions"))["token"]
    assert (await rest(b, "POST", "/api/seat-locks", token, showtimeId=showtime_id, seatIds=["A2"]))["action"] == "lock"

    await watcher.settle(2)
    assert watcher.seats == {"A1": ("locked", socket_locker.session_id), "A2": ("locked", token.split(".")[0])}


async def test_clients_spread_over_instances_race_and_every_view_matches_the_database(
    cluster: Start, new_showtime: Callable[..., Awaitable[str]], postgres_url: str
) -> None:
    instances = [await cluster(), await cluster()]
    showtime_id = await new_showtime(rows=2, seats_per_row=10)
    seats = [f"{row}{n}" for row in "AB" for n in range(1, 11)]
    clients = [await instances[i % 2].client() for i in range(120)]
    views = [await View.open(client, showtime_id) for client in clients[:20]]
    rng = random.Random(5)

    async def busy(client: Any) -> set[str]:
        """Lock and unlock at random; return the seats this client holds at the end."""
        mine: set[str] = set()
        for _ in range(4):
            pick = rng.sample(seats, rng.randint(1, 3))
            reply = await client.request("lock", showtimeId=showtime_id, seatIds=pick)
            if reply["type"] == "ack":
                mine |= set(pick)
            else:
                assert reply["code"] == "seat_unavailable", reply
            if mine and rng.random() < 0.5:
                release = sorted(mine)[:1]
                assert (await client.request("unlock", showtimeId=showtime_id, seatIds=release))["type"] == "ack"
                mine -= set(release)
        return mine

    held = await asyncio.gather(*(busy(client) for client in clients))

    owners: dict[str, int] = {}
    for index, seats_held in enumerate(held):
        for seat in seats_held:
            assert seat not in owners, f"{seat} held by clients {owners[seat]} and {index}"
            owners[seat] = index
    seq, state = await database_state(postgres_url, showtime_id)
    assert state == dict.fromkeys(owners, "locked")
    for view in views:
        await view.settle(seq)
        assert view.statuses() == state


async def test_each_lapsed_hold_is_released_once_whichever_instance_notices(
    cluster: Start, new_showtime: Callable[..., Awaitable[str]], postgres_url: str
) -> None:
    a, b = await cluster(HOLD_TTL_SECONDS="1"), await cluster(HOLD_TTL_SECONDS="1")
    showtime_id = await new_showtime()
    views = [await View.open(await a.client(), showtime_id), await View.open(await b.client(), showtime_id)]
    for instance, seats in ((a, ["A1", "A2"]), (b, ["B1"])):
        assert (await (await instance.client()).request("lock", showtimeId=showtime_id, seatIds=seats))["type"] == "ack"
    for view in views:
        await view.settle(6)  # three locked, then three unlocked
        assert view.seats == {}
    engine = create_engine(postgres_url)
    async with engine.connect() as conn:
        events = (await conn.execute(
            select(seat_event.c.seat_code, seat_event.c.status).where(seat_event.c.showtime_id == showtime_id)
        )).all()  # fmt: skip
    await engine.dispose()
    assert sorted(events) == sorted(
        [(s, "locked") for s in ("A1", "A2", "B1")] + [(s, "unlocked") for s in ("A1", "A2", "B1")]
    )


async def test_each_unpaid_booking_expires_once_whichever_instance_notices(
    cluster: Start, new_showtime: Callable[..., Awaitable[str]], postgres_url: str
) -> None:
    checkout = {"PAYMENT_TIMEOUT_SECONDS": "1", "WEBHOOK_URL": "http://127.0.0.1:9/hooks", "WEBHOOK_SECRET": "whsec"}
    a, b = await cluster(**checkout), await cluster(**checkout)
    showtime_id = await new_showtime()
    views = [await View.open(await a.client(), showtime_id), await View.open(await b.client(), showtime_id)]
    customer = {"name": "Ada", "email": "ada@example.com"}
    for instance, seats in ((a, ["A1", "A2"]), (b, ["B1"]), (b, ["C1"])):
        buyer = await instance.client()
        assert (await buyer.request("lock", showtimeId=showtime_id, seatIds=seats))["type"] == "ack"
        booked = await buyer.request(
            "book", showtimeId=showtime_id, seatIds=seats, customer=customer, payment="pending"
        )
        assert booked["status"] == "pending", booked
    for view in views:
        await view.settle(12)  # four seats held, then pending (locked again), then released once each
        assert view.seats == {}
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            events = (await conn.execute(
                select(seat_event.c.seat_code, seat_event.c.status).where(seat_event.c.showtime_id == showtime_id)
            )).all()  # fmt: skip
        audited = await audit(engine, showtime_id, webhooks=True)
    finally:
        await engine.dispose()
    assert sorted(events) == sorted((seat, status) for seat in ("A1", "A2", "B1", "C1") for status in TWICE_LOCKED)
    assert list(audited.histories.values()) == [["pending", "expired"]] * 3
    assert list(audited.events.values()) == [["booking.pending", "booking.expired"]] * 3


TWICE_LOCKED = ("locked", "locked", "unlocked")  # held, pending payment, expired


async def test_an_instance_killed_mid_load_loses_nothing_and_its_clients_resume_elsewhere(
    cluster: Start, new_showtime: Callable[..., Awaitable[str]], postgres_url: str
) -> None:
    doomed, survivor = await cluster(), await cluster()
    showtime_id = await new_showtime(rows=3, seats_per_row=10)
    holder = await doomed.client()
    assert (await holder.request("lock", showtimeId=showtime_id, seatIds=["C1", "C2"]))["type"] == "ack"
    doomed_views = [await View.open(await doomed.client(), showtime_id) for _ in range(10)]
    survivor_view = await View.open(await survivor.client(), showtime_id)

    lockers = [await survivor.client() for _ in range(10)]
    stop = asyncio.Event()

    async def load(client: Any, row: str) -> None:
        number = 0
        while not stop.is_set():
            number = number % 10 + 1
            seat = f"{row}{number}"
            if (await client.request("lock", showtimeId=showtime_id, seatIds=[seat]))["type"] == "ack":
                await client.request("unlock", showtimeId=showtime_id, seatIds=[seat])

    traffic = [asyncio.create_task(load(client, "AB"[i % 2])) for i, client in enumerate(lockers)]
    await asyncio.sleep(1.0)
    doomed.kill()
    await asyncio.sleep(1.0)  # changes keep flowing while the killed instance's clients are away
    for view in doomed_views:
        reply = await view.resume(survivor)
        assert reply["type"] == "subscribed"
    stop.set()
    await asyncio.gather(*traffic)

    resumed_holder = await survivor.client(token=holder.token)
    assert resumed_holder.session_id == holder.session_id
    await resumed_holder.request("subscribe", showtimeId=showtime_id)
    assert (await resumed_holder.next_pushed("current_seat_status"))["mySeats"] == ["C1", "C2"]

    seq, state = await database_state(postgres_url, showtime_id)
    for view in [*doomed_views, survivor_view]:
        await view.settle(seq)
        assert view.statuses() == state
    assert any(view.replayed for view in doomed_views), "the resumed clients should have caught up by replay"


async def test_redis_going_away_and_coming_back_loses_no_change(
    cluster: Start, new_showtime: Callable[..., Awaitable[str]], postgres_url: str
) -> None:
    own_redis = RedisServer()
    await own_redis.start()
    try:
        a, b = await cluster(redis=own_redis.url), await cluster(redis=own_redis.url)
        showtime_id = await new_showtime()
        view_a, view_b = await View.open(await a.client(), showtime_id), await View.open(await b.client(), showtime_id)
        locker_a, locker_b = await a.client(), await b.client()

        async def lock_some(row: str) -> None:
            for number in range(1, 6):
                for locker in (locker_a, locker_b):
                    await locker.request("lock", showtimeId=showtime_id, seatIds=[f"{row}{number}"])

        await lock_some("A")
        await own_redis.stop()
        await lock_some("B")  # each instance still serves its own clients while Redis is down
        seq, state = await database_state(postgres_url, showtime_id)
        for view in (view_a, view_b):
            await view.settle(seq)  # the reconcile reads the other instance's changes from the log
            assert view.statuses() == state

        await own_redis.start()
        await own_redis.wait_for_subscribers(f"{a.env['REDIS_CHANNEL_PREFIX']}:events", 2)  # both came back
        await lock_some("C")
        seq, state = await database_state(postgres_url, showtime_id)
        for view in (view_a, view_b):
            await view.settle(seq)
            assert view.statuses() == state
    finally:
        await own_redis.stop()


async def test_resubscribing_on_the_same_connection_never_repeats_or_reorders(
    cluster: Start, new_showtime: Callable[..., Awaitable[str]], postgres_url: str
) -> None:
    """Changes from another instance keep arriving while a client resubscribes with lastSeq, again and
    again, on one connection: it must see each seq once, in order (View.apply checks every one)."""
    a, b = await cluster(), await cluster()
    showtime_id = await new_showtime(rows=2, seats_per_row=10)
    view = await View.open(await a.client(), showtime_id)
    locker = await b.client()
    stop = asyncio.Event()

    async def churn() -> None:
        while not stop.is_set():
            for number in range(1, 11):
                await locker.request("lock", showtimeId=showtime_id, seatIds=[f"A{number}"])
                await locker.request("unlock", showtimeId=showtime_id, seatIds=[f"A{number}"])

    traffic = asyncio.create_task(churn())
    for attempt in range(40):
        view.apply_pushed()
        reply = await view.client.send_raw(
            f'{{"type":"subscribe","showtimeId":"{showtime_id}","lastSeq":{view.seq},"requestId":"re{attempt}"}}',
            f"re{attempt}",
        )
        assert reply["recovered"] is True
        await asyncio.sleep(0.02)
    stop.set()
    await traffic
    seq, state = await database_state(postgres_url, showtime_id)
    await view.settle(seq)
    assert view.statuses() == state


async def requests_in_order(instance: Instance, showtime_id: str, seats: list[str], rounds: int) -> list[Any]:
    """Subscribe, then lock and unlock ``seats`` ``rounds`` times, one request at a time.

    Returns the session id, every frame in the order it arrived, and each request's round trip in seconds.
    """
    loop = asyncio.get_running_loop()
    async with connect(instance.ws_url, open_timeout=10) as connection:
        session_id = orjson.loads(await connection.recv())["sessionId"]
        frames: list[dict[str, Any]] = []
        round_trips: list[float] = []

        async def ask(request_id: str, **message: Any) -> None:
            started = loop.time()
            await connection.send(
                orjson.dumps({"requestId": request_id, "showtimeId": showtime_id, **message}).decode()
            )
            while not frames or frames[-1].get("requestId") != request_id:
                frames.append(orjson.loads(await asyncio.wait_for(connection.recv(), 10)))
            round_trips.append(loop.time() - started)

        await ask("s", type="subscribe")
        for number in range(rounds):
            await ask(f"l{number}", type="lock", seatIds=seats)
            await ask(f"u{number}", type="unlock", seatIds=seats)
    return [session_id, frames, round_trips[1::2]]  # lock round trips


def acks_before_their_changes(session_id: str, frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Acks that arrived before the requester's own change of one of their seats."""
    last_seen: dict[str, tuple[str, str]] = {}  # seat -> (status, session) of its latest change
    early = []
    for frame in frames:
        if frame["type"] == "seat_status_change":
            last_seen[frame["seatId"]] = (frame["status"], frame["sessionId"])
        elif frame["type"] == "ack":
            expected = ("locked" if frame["action"] == "lock" else "unlocked", session_id)
            if any(last_seen.get(seat) != expected for seat in frame["seatIds"]):
                early.append(frame)
    return early


async def test_every_ack_comes_after_the_changes_it_caused_with_two_instances(
    cluster: Start, new_showtime: Callable[..., Awaitable[str]]
) -> None:
    """Each instance's changes interleave with the other's, so a local change often waits behind a gap the
    other instance left; its requester's ack must wait for it too (docs/protocol.md promises the order)."""
    instances = [await cluster(), await cluster()]
    showtime_id = await new_showtime(rows=2, seats_per_row=10)
    results = await asyncio.gather(
        *(
            requests_in_order(instances[number % 2], showtime_id, [f"{row}{number + 1}"], rounds=10)
            for row in "AB"
            for number in range(5)
        )
    )
    early = [ack for session_id, frames, _ in results for ack in acks_before_their_changes(session_id, frames)]
    acks = sum(1 for _, frames, _ in results for frame in frames if frame["type"] == "ack")
    assert acks == 200
    assert early == []
