"""Upgrading a database from before the venues migration: showtimes, holds, bookings, seat ids and prices made
the old way (seat grids and categories per hall) survive the migrations since, and seats lock and book on the
upgraded database."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from server.app import SeatServer
from server.core.seats import SeatState
from server.storage.database import create_engine
from server.storage.migrations import apply_migrations, prisma_dir
from server.storage.store import SeatStore
from tests import conftest
from tests.conftest import Running
from tests.e2e.test_rest_api import call
from tests.services import create_database, drop_database

VENUES = "20261130061644_venues"
CHECKOUT = "20261130082208_checkout"  # moves each booking's seat prices to its items and confirms it
SEAT_HISTORY = "20261130093543_seat_history"  # gives each logged change an origin, an actor and a channel
FAR = 4_000_000_000_000  # a hold that has not lapsed yet

OLD_DATA = [
    "INSERT INTO venue (id, name) VALUES ('v1', 'Old Cinema')",
    "INSERT INTO auditorium (id, venue_id, name) VALUES ('a1', 'v1', 'Screen 1')",
    "INSERT INTO seat_category (id, auditorium_id, name, price_cents) VALUES ('a1-std', 'a1', 'Standard', 1100)",
    "INSERT INTO seat_category (id, auditorium_id, name, price_cents) VALUES ('a1-vip', 'a1', 'VIP', 1900)",
    *(
        f"INSERT INTO seat (auditorium_id, code, row_label, number, x, y, category_id) "
        f"VALUES ('a1', '{row}{number}', '{row}', {number}, {number - 1}, {y}, '{category}')"
        for y, (row, category) in enumerate((("A", "a1-std"), ("B", "a1-vip")))
        for number in (1, 2, 3)
    ),
    "INSERT INTO showtime (id, auditorium_id, title, starts_at, currency, seq) "
    "VALUES ('old-show', 'a1', 'Old Film', 1000, 'EUR', 2)",
    "INSERT INTO seat_hold (showtime_id, seat_code, session_id, expires_at, created_at) "
    f"VALUES ('old-show', 'A1', 's_holder', {FAR}, 1)",
    "INSERT INTO booking (id, showtime_id, session_id, customer_name, customer_email, total_cents, currency, "
    "created_at) VALUES ('bk_old', 'old-show', 's_buyer', 'Ada', 'ada@example.com', 1900, 'EUR', 2)",
    "INSERT INTO booking_seat (showtime_id, seat_code, booking_id, price_cents) VALUES ('old-show', 'B2', 'bk_old', 1900)",
    "INSERT INTO seat_event (showtime_id, seq, seat_code, status, session_id, created_at) "
    "VALUES ('old-show', 1, 'A1', 'locked', 's_holder', 1)",
    "INSERT INTO seat_event (showtime_id, seq, seat_code, status, session_id, created_at) "
    "VALUES ('old-show', 2, 'B2', 'booked', 's_buyer', 2)",
]


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    url = await create_database("seats_upgrade")
    yield url
    await drop_database(url)


def history_before(tmp_path: Path, migration: str) -> Path:
    """A copy of prisma/ whose histories stop before ``migration``."""
    copy = tmp_path / f"prisma-before-{migration}"
    shutil.copytree(
        prisma_dir(),
        copy,
        ignore=lambda folder, names: [name for name in names if name[:8].isdigit() and name >= migration],
    )
    assert not list(copy.rglob(migration))
    return copy


async def test_showtimes_holds_and_bookings_survive_the_venues_migration(empty_database: str, tmp_path: Path) -> None:
    engine = create_engine(empty_database)
    old = history_before(tmp_path, VENUES)
    folder = old / ("migrations" if empty_database.startswith("sqlite") else "postgresql/migrations")
    assert VENUES not in await apply_migrations(engine, folder)
    async with engine.begin() as conn:
        for statement in OLD_DATA:
            await conn.execute(text(statement))
    assert await apply_migrations(engine) == [VENUES, CHECKOUT, SEAT_HISTORY]

    store = SeatStore(engine)
    details = await store.showtime("old-show")
    assert details is not None
    assert (details.showtime.title, details.showtime.venue, details.showtime.auditorium) == (
        "Old Film", "Old Cinema", "Screen 1",
    )  # fmt: skip
    assert details.prices == {"a1-std": 1100, "a1-vip": 1900}
    seats = {seat.id: seat.category_id for seat in details.hall.seats()}
    assert seats == {f"{row}{n}": category for row, category in (("A", "a1-std"), ("B", "a1-vip")) for n in (1, 2, 3)}
    snapshot = await store.snapshot("old-show")
    assert snapshot.seq == 2
    assert {seat: (claim.state, claim.session_id) for seat, claim in snapshot.claims.items()} == {
        "A1": (SeatState.HELD, "s_holder"),
        "B2": (SeatState.BOOKED, "s_buyer"),
    }
    booking = await store.booking("bk_old")
    assert booking is not None
    assert (booking.seat_ids, booking.total_cents) == (["B2"], 1900)
    async with engine.connect() as conn:
        items = (await conn.execute(text("SELECT seat_code, price_cents FROM booking_item"))).all()
        logged = (await conn.execute(text("SELECT booking_id, status, at FROM booking_transition"))).all()
        confirmed = (await conn.execute(text("SELECT status, confirmed_at FROM booking"))).all()
    assert [tuple(row) for row in items] == [("B2", 1900)]
    assert [tuple(row) for row in logged] == [("bk_old", "confirmed", 2)]
    assert [tuple(row) for row in confirmed] == [("confirmed", 2)]
    await engine.dispose()

    server = SeatServer(conftest.test_settings(empty_database))
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            running = Running(server, http)
            _, token = await running.session()
            request: dict[str, Any] = {"showtimeId": "old-show", "seatIds": ["B3"]}
            status, refused = await call(running, "POST", "/api/seat-locks", token, json={**request, "seatIds": ["A1"]})
            assert (status, refused["code"]) == (409, "seat_unavailable")
            status, _ = await call(running, "POST", "/api/seat-locks", token, json=request)
            assert status == 200
            customer = {"name": "Grace", "email": "grace@example.com"}
            status, booked = await call(running, "POST", "/api/bookings", token, json={**request, "customer": customer})
            assert (status, booked["totalCents"]) == (201, 1900)
    finally:
        await server.stop()
