"""Sales figures end to end: after buyers on two instances lock, unlock, book (paying at once or later) and cancel
at random while the shop confirms payments, the operator blocks and refunds, and holds and unpaid bookings lapse,
every instance's figures and /metrics totals equal a recount from raw SQL, on SQLite and PostgreSQL, and on two
server processes sharing PostgreSQL and Redis.
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
from tests.sales import COUNTS, recount

KEY = "operator-key-for-figures"
ADMIN = {"Authorization": f"Bearer {KEY}"}
HEADLINE = (*COUNTS, "showtimeId", "title", "startsAt", "currency", "seq", "bookings", "averageSeatsPerBooking")
THEATRE = example_layout("theatre")
STATUSES = ("pending", "confirmed", "cancelled", "expired")
CATEGORIES = ("premium", "stalls", "balcony")
# Per category, the seats buyers fight over.
CONTESTED = [
    seat for category in CATEGORIES for seat in [s.id for s in THEATRE.seats() if s.category_id == category][:20]
]
BOXES = ["box-1", "box-2"]  # sold whole: a lock names the table
CUSTOMER = {"name": "Ada", "email": "ada@example.com"}


async def theatre_showtime(engine: AsyncEngine) -> str:
    """A showtime on the theatre example (sections, categories, boxes, pillar seats blocked)."""
    hall = secrets.token_hex(4)
    saved = await venues.save_layout(
        engine, THEATRE, venue_id="v_" + hall, venue_name="Old Vic", hall_id="h_" + hall, hall_name="Main", now=0
    )
    new = venues.NewShowtime(saved.id, "Hamlet", SystemClock().now(), "GBP", THEATRE_PRICES)
    return await venues.create_showtime(engine, new)


async def call(http: aiohttp.ClientSession, method: str, url: str, token: str, **body: Any) -> tuple[int, Any]:
    async with http.request(method, url, json=body or None, headers=bearer(token)) as answer:
        assert answer.status < 500, await answer.text()
        return answer.status, await answer.json(content_type=None)


async def random_sales(
    http: aiohttp.ClientSession, urls: Sequence[str], showtime_id: str, rng: random.Random, tick: Callable[[], None]
) -> None:
    """Buyers spread over ``urls`` lock, unlock and book (paying at once, or later) at random, and see to their
    bookings awaiting payment (see ``settle``); the operator blocks and unblocks; ``tick`` is called now and then
    (to let holds and payments lapse)."""

    async def settle(url: str, token: str, booking_id: str) -> None:
        """The buyer cancels a booking awaiting payment, or the shop is paid for it, the operator refunds it (paid
        or not), or nobody does anything and it lapses. What acts on one that lapsed meanwhile is refused."""
        fate, path = rng.random(), f"{url}/api/bookings/{booking_id}"
        if fate < 0.2:
            await call(http, "POST", path + "/cancel", token, reason="changed my mind")
            return
        if fate < 0.5:
            await call(http, "POST", path + "/confirm", KEY, paymentReference="pi_" + booking_id, provider="stripe")
        if 0.4 < fate < 0.65:
            await call(http, "POST", path + "/cancel", KEY, reason="refund")

    async def buyer(number: int) -> None:
        url = urls[number % len(urls)]
        _, session = await call(http, "POST", url + "/api/sessions", "")
        token, awaiting = session["token"], list[str]()
        held: dict[str, set[str]] = {"seatIds": set(), "tableIds": set()}  # boxes are held, and sold, by table
        for _ in range(24):
            draw = rng.random()
            if draw < 0.2 and awaiting:
                await settle(url, token, awaiting.pop(rng.randrange(len(awaiting))))
            elif draw < 0.5 or not any(held.values()):
                kind, wanted = (
                    ("tableIds", [rng.choice(BOXES)]) if draw < 0.05 else ("seatIds", rng.sample(CONTESTED, 2))
                )
                status, _ = await call(
                    http, "POST", url + "/api/seat-locks", token, showtimeId=showtime_id, **{kind: wanted}
                )
                held[kind] |= set(wanted) if status == 200 else set()  # all or none
            elif draw < 0.65:
                kind = rng.choice([kind for kind, ids in held.items() if ids])
                released = rng.choice(sorted(held[kind]))
                await call(http, "DELETE", url + "/api/seat-locks", token, showtimeId=showtime_id, **{kind: [released]})
                held[kind].discard(released)
            else:
                later = {"payment": "pending"} if rng.random() < 0.75 else {}
                status, booked = await call(
                    http, "POST", url + "/api/bookings", token, showtimeId=showtime_id, customer=CUSTOMER,
                    **{kind: sorted(ids) for kind, ids in held.items()}, **later,
                )  # fmt: skip
                if status == 201 and later:
                    awaiting.append(booked["bookingId"])
                held = {kind: set() for kind in held}  # booked, or some had lapsed: start again
            if rng.random() < 0.05:
                tick()

    async def operator() -> None:
        for number in range(10):
            path = f"{urls[number % len(urls)]}/api/admin/showtimes/{showtime_id}/blocks"
            await call(http, rng.choice(["POST", "DELETE"]), path, KEY, seatIds=rng.sample(CONTESTED, 1))
            await asyncio.sleep(0)

    await asyncio.gather(*(buyer(number) for number in range(16)), operator())


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
    made = await grouped(
        engine, "SELECT status, COUNT(*) FROM booking WHERE showtime_id = :id GROUP BY status", id=showtime_id
    )
    assert set(made) == set(STATUSES)  # the run made bookings of every kind
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
            status: bookings.get(status, 0) for status in STATUSES
        }
        assert {
            currency: cents
            for currency, cents in scraped(exposed, "seat_revenue_cents_total", "currency").items()
            if cents
        } == revenue


async def grouped(engine: AsyncEngine, sql: str, **parameters: str) -> dict[str, int]:
    async with engine.connect() as conn:
        return {key: int(value) for key, value in await conn.execute(text(sql), parameters)}


async def lapsing(engine: AsyncEngine, showtime_id: str, before: int) -> int:
    """How many holds and unpaid bookings on the showtime lapse before ``before``, released or not."""
    async with engine.connect() as conn:
        found = text(
            "SELECT (SELECT COUNT(*) FROM seat_hold WHERE showtime_id = :id AND expires_at < :before)"
            " + (SELECT COUNT(*) FROM booking WHERE showtime_id = :id AND status = 'pending'"
            " AND payment_due_at < :before)"
        )
        return int((await conn.execute(found, {"id": showtime_id, "before": before})).scalar_one())


async def hold_and_await_payment(http: aiohttp.ClientSession, url: str, showtime_id: str) -> None:
    """A hold and a booking awaiting payment nobody contests, so that some seats are held and some pending when
    the figures are compared."""
    _, session = await call(http, "POST", url + "/api/sessions", "")
    token = session["token"]
    for box in ("box-3", "box-4"):
        status, reply = await call(http, "POST", url + "/api/seat-locks", token, showtimeId=showtime_id, tableIds=[box])
        assert status == 200, reply
    status, reply = await call(
        http, "POST", url + "/api/bookings", token,
        showtimeId=showtime_id, tableIds=["box-3"], customer=CUSTOMER, payment="pending",
    )  # fmt: skip
    assert status == 201, reply


def scraped(exposition: str, name: str, label: str) -> dict[str, int]:
    """The samples of one metric family, by the value of its one label."""
    pattern = rf'^{name}{{{label}="([^"]*)"}} (\S+)$'
    return {value: int(float(number)) for value, number in re.findall(pattern, exposition, re.MULTILINE)}


async def test_figures_equal_a_recount_after_a_random_run_on_two_instances(start_server: StartServer) -> None:
    clock = ManualClock()
    settings = {"admin_api_key": KEY, "hold_ttl_seconds": 60, "payment_timeout_seconds": 100}
    first, second = await start_server(clock, **settings), await start_server(clock, **settings)
    engine = first.server.engine
    showtime_id = await theatre_showtime(engine)

    # A hold lapses three ticks after it is taken, a booking awaiting payment five ticks after it is made.
    await random_sales(
        first.http, [first.http_url, second.http_url], showtime_id, random.Random(7), lambda: clock.advance(20_000)
    )

    async def swept() -> bool:  # lapsed holds and payments released: nothing changes the showtime any more
        return await lapsing(engine, showtime_id, clock.now() + 1) == 0

    clock.advance(30_000)  # some holds and payments lapse and wait for the sweeper
    await eventually(swept)
    await hold_and_await_payment(first.http, second.http_url, showtime_id)
    await assert_figures_match_the_database(
        first.http, [first.http_url, second.http_url], engine, showtime_id, clock.now()
    )


async def test_figures_equal_a_recount_after_a_random_run_on_two_server_processes(postgres_url: str) -> None:
    """Holds taken and bookings awaiting payment made through ``brief`` lapse within a second and are swept;
    those through ``lasting`` stay."""
    redis_url, prefix = await redis_reachable(), unique_prefix()
    lasting = await start_instance(postgres_url, redis_url, prefix, ADMIN_API_KEY=KEY)
    brief = await start_instance(
        postgres_url, redis_url, prefix, ADMIN_API_KEY=KEY, HOLD_TTL_SECONDS="1", PAYMENT_TIMEOUT_SECONDS="0.2"
    )
    engine = create_engine(postgres_url)
    urls = [lasting.http_url, brief.http_url]
    try:
        showtime_id = await theatre_showtime(engine)
        async with aiohttp.ClientSession() as http:
            await random_sales(http, urls, showtime_id, random.Random(11), lambda: None)

            async def swept() -> bool:  # only holds and payments of ten minutes or more are left: nothing
                # changes the showtime now
                return await lapsing(engine, showtime_id, SystemClock().now() + 300_000) == 0

            await eventually(swept)
            await hold_and_await_payment(http, lasting.http_url, showtime_id)
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
