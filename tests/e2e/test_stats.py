"""Sales figures end to end: after buyers on two instances lock, unlock and book at random while the operator
blocks and holds lapse, every instance's figures and /metrics totals equal a recount from raw SQL, on SQLite and
PostgreSQL, and on two server processes sharing PostgreSQL and Redis.

Bookings awaiting payment, cancelled or expired are written into the tables before the run (``tests.sales``):
the checkout that makes them is not built yet.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.clock import SystemClock
from server.demo import THEATRE_PRICES, example_layout
from server.storage import venues
from server.storage.database import create_engine
from tests.cluster import redis_reachable, start_instance, unique_prefix
from tests.conftest import StartServer, eventually
from tests.fakes import ManualClock
from tests.sales import COUNTS, insert_booking, recount

KEY = "operator-key-for-figures"
ADMIN = {"Authorization": f"Bearer {KEY}"}
HEADLINE = (*COUNTS, "showtimeId", "title", "startsAt", "currency", "seq", "bookings", "averageSeatsPerBooking")
THEATRE = example_layout("theatre")
CATEGORIES = ("premium", "stalls", "balcony")
# Per category: the seats buyers fight over, and three more for a pending, a cancelled and an expired booking.
BY_CATEGORY = {category: [s.id for s in THEATRE.seats() if s.category_id == category][:9] for category in CATEGORIES}
CONTESTED = [seat for seats in BY_CATEGORY.values() for seat in seats[:6]]
BOXES = ["box-1", "box-2"]  # sold whole: a lock names the table


async def theatre_showtime(engine: AsyncEngine) -> str:
    """A showtime on the theatre example (sections, categories, boxes, pillar seats blocked), with pending,
    cancelled and expired bookings of three seats each, as the checkout would leave them."""
    hall = secrets.token_hex(4)
    saved = await venues.save_layout(
        engine, THEATRE, venue_id="v_" + hall, venue_name="Old Vic", hall_id="h_" + hall, hall_name="Main", now=0
    )
    new = venues.NewShowtime(saved.id, "Hamlet", SystemClock().now(), "GBP", THEATRE_PRICES)
    showtime_id = await venues.create_showtime(engine, new)
    for index, status in enumerate(("pending", "cancelled", "expired"), 6):
        seats = {seats[index]: THEATRE_PRICES[category] for category, seats in BY_CATEGORY.items()}
        await insert_booking(engine, showtime_id, status, seats, "GBP")
    return showtime_id


async def call(http: aiohttp.ClientSession, method: str, url: str, token: str, **body: Any) -> tuple[int, Any]:
    async with http.request(method, url, json=body or None, headers=bearer(token)) as answer:
        assert answer.status < 500, await answer.text()
        return answer.status, await answer.json(content_type=None)


async def random_sales(
    http: aiohttp.ClientSession, urls: Sequence[str], showtime_id: str, rng: random.Random, tick: Callable[[], None]
) -> None:
    """Buyers spread over ``urls`` lock, unlock and book at random, the operator blocks and unblocks, and
    ``tick`` is called now and then (to let holds lapse)."""

    async def buyer(number: int) -> None:
        url = urls[number % len(urls)]
        _, session = await call(http, "POST", url + "/api/sessions", "")
        token, mine = session["token"], set[str]()
        for _ in range(12):
            draw = rng.random()
            if draw < 0.5 or not mine:
                wanted = {"tableIds": [rng.choice(BOXES)]} if draw < 0.05 else {"seatIds": rng.sample(CONTESTED, 2)}
                status, reply = await call(
                    http, "POST", url + "/api/seat-locks", token, showtimeId=showtime_id, **wanted
                )
                mine |= set(reply["seatIds"]) if status == 200 else set()
            elif draw < 0.7:
                released = rng.choice(sorted(mine))
                await call(http, "DELETE", url + "/api/seat-locks", token, showtimeId=showtime_id, seatIds=[released])
                mine.discard(released)
            else:
                customer = {"name": "Ada", "email": "ada@example.com"}
                await call(
                    http, "POST", url + "/api/bookings", token,
                    showtimeId=showtime_id, seatIds=sorted(mine), customer=customer,
                )  # fmt: skip
                mine = set()  # booked, or some had lapsed: start again
            if rng.random() < 0.1:
                tick()

    async def operator() -> None:
        for number in range(10):
            path = f"{urls[number % len(urls)]}/api/admin/showtimes/{showtime_id}/blocks"
            await call(http, rng.choice(["POST", "DELETE"]), path, KEY, seatIds=rng.sample(CONTESTED, 1))
            await asyncio.sleep(0)

    await asyncio.gather(*(buyer(number) for number in range(12)), operator())


async def assert_figures_match_the_database(
    http: aiohttp.ClientSession, urls: Sequence[str], engine: AsyncEngine, showtime_id: str, now: int
) -> None:
    """Every instance's figures are the recount's; the list agrees; /metrics totals are the booking table's."""
    counted = await recount(engine, showtime_id, now)
    money = await grouped(
        engine, "SELECT status, SUM(total_cents) FROM booking WHERE showtime_id = :id GROUP BY status", id=showtime_id
    )
    bookings = await grouped(engine, "SELECT status, COUNT(*) FROM booking GROUP BY status")
    revenue = await grouped(
        engine, "SELECT currency, SUM(total_cents) FROM booking WHERE status = 'confirmed' GROUP BY currency"
    )
    assert counted["booked"] > 0  # the run sold something
    for url in urls:
        status, figures = await call(http, "GET", f"{url}/api/admin/showtimes/{showtime_id}/stats", KEY)
        assert status == 200, figures
        assert {name: figures[name] for name in counted} == counted
        assert (figures["revenueCents"], figures["pendingRevenueCents"]) == (money["confirmed"], money["pending"])
        _, listed = await call(http, "GET", f"{url}/api/admin/stats", KEY)
        (headline,) = [entry for entry in listed if entry["showtimeId"] == showtime_id]
        assert headline == {name: figures[name] for name in HEADLINE}

        async with http.get(url + "/metrics") as answer:
            exposed = await answer.text()
        assert scraped(exposed, "seat_bookings_total", "status") == {
            status: bookings.get(status, 0) for status in ("pending", "confirmed", "cancelled", "expired")
        }
        assert {
            currency: cents
            for currency, cents in scraped(exposed, "seat_revenue_cents_total", "currency").items()
            if cents
        } == revenue


async def grouped(engine: AsyncEngine, sql: str, **parameters: str) -> dict[str, int]:
    async with engine.connect() as conn:
        return {key: int(value) for key, value in await conn.execute(text(sql), parameters)}


async def holds_lapsing(engine: AsyncEngine, showtime_id: str, before: int) -> int:
    """How many holds on the showtime lapse before ``before``, released or not."""
    async with engine.connect() as conn:
        lapsing = text("SELECT COUNT(*) FROM seat_hold WHERE showtime_id = :id AND expires_at < :before")
        return int((await conn.execute(lapsing, {"id": showtime_id, "before": before})).scalar_one())


async def hold_a_box(http: aiohttp.ClientSession, url: str, showtime_id: str) -> None:
    """A hold nobody contests, so that some seats are held when the figures are compared."""
    _, session = await call(http, "POST", url + "/api/sessions", "")
    status, reply = await call(
        http, "POST", url + "/api/seat-locks", session["token"], showtimeId=showtime_id, tableIds=["box-4"]
    )
    assert status == 200, reply


def scraped(exposition: str, name: str, label: str) -> dict[str, int]:
    """The samples of one metric family, by the value of its one label."""
    pattern = rf'^{name}{{{label}="([^"]*)"}} (\S+)$'
    return {value: int(float(number)) for value, number in re.findall(pattern, exposition, re.MULTILINE)}


async def test_figures_equal_a_recount_after_a_random_run_on_two_instances(start_server: StartServer) -> None:
    clock = ManualClock()
    first = await start_server(clock, admin_api_key=KEY, hold_ttl_seconds=60)
    second = await start_server(clock, admin_api_key=KEY, hold_ttl_seconds=60)
    engine = first.server.engine
    showtime_id = await theatre_showtime(engine)

    await random_sales(
        first.http, [first.http_url, second.http_url], showtime_id, random.Random(7), lambda: clock.advance(20_000)
    )

    async def swept() -> bool:  # lapsed holds released: nothing changes the showtime any more
        return await holds_lapsing(engine, showtime_id, clock.now() + 1) == 0

    clock.advance(30_000)  # some holds lapse and wait for the sweeper
    await eventually(swept)
    await hold_a_box(first.http, second.http_url, showtime_id)
    await assert_figures_match_the_database(
        first.http, [first.http_url, second.http_url], engine, showtime_id, clock.now()
    )


async def test_figures_equal_a_recount_after_a_random_run_on_two_server_processes(postgres_url: str) -> None:
    """Holds taken through ``brief`` lapse within a second and are swept; those through ``lasting`` stay."""
    redis_url, prefix = await redis_reachable(), unique_prefix()
    lasting = await start_instance(postgres_url, redis_url, prefix, ADMIN_API_KEY=KEY)
    brief = await start_instance(postgres_url, redis_url, prefix, ADMIN_API_KEY=KEY, HOLD_TTL_SECONDS="1")
    engine = create_engine(postgres_url)
    urls = [lasting.http_url, brief.http_url]
    try:
        showtime_id = await theatre_showtime(engine)
        async with aiohttp.ClientSession() as http:
            await random_sales(http, urls, showtime_id, random.Random(11), lambda: None)

            async def swept() -> bool:  # only holds of ten minutes are left: nothing changes the showtime now
                return await holds_lapsing(engine, showtime_id, SystemClock().now() + 300_000) == 0

            await eventually(swept)
            await hold_a_box(http, lasting.http_url, showtime_id)
            await assert_figures_match_the_database(http, urls, engine, showtime_id, SystemClock().now())
    finally:
        await asyncio.gather(lasting.stop(), brief.stop())
        await engine.dispose()


async def test_the_figures_are_for_the_operators_key_alone(start_server: StartServer) -> None:
    running = await start_server(admin_api_key=KEY)
    showtime_id = await running.showtime()
    _, buyer = await running.session()
    for path in ("/api/admin/stats", f"/api/admin/showtimes/{showtime_id}/stats"):
        for headers, status in (({}, 401), ({"Authorization": "Bearer wrong"}, 401), (bearer(buyer), 403)):
            async with running.http.get(running.http_url + path, headers=headers) as answer:
                problem = await answer.json(content_type=None)
            assert (answer.status, problem["status"]) == (status, status), path
            assert problem["code"] == ("forbidden" if status == 403 else "unauthorized")
        async with running.http.get(running.http_url + path, headers=ADMIN) as answer:
            assert answer.status == 200, await answer.text()
    status, figures = await call(
        running.http, "GET", f"{running.http_url}/api/admin/showtimes/{showtime_id}/stats", KEY
    )
    assert (status, figures["totalSeats"], figures["available"], figures["seq"]) == (200, 15, 15, 0)
    assert (set(figures["byCategory"]), set(figures["bySection"])) == ({"standard", "premium"}, {"main"})
    status, missing = await call(running.http, "GET", f"{running.http_url}/api/admin/showtimes/st_none/stats", KEY)
    assert (status, missing["code"]) == (404, "unknown_showtime")


async def test_without_an_operators_key_there_are_no_figures(start_server: StartServer) -> None:
    running = await start_server()
    for token in ("", KEY):
        status, problem = await call(running.http, "GET", running.http_url + "/api/admin/stats", token)
        assert (status, problem["code"]) == (401, "unauthorized")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
