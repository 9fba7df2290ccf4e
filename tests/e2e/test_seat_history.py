"""Seat history end to end, on SQLite and PostgreSQL: after a random run of locks, unlocks, extends, books, pending
books, confirms, cancels, expiries of holds and payments, blocks and unblocks, over the socket and REST, the
history of every seat (read through the admin API, a page at a time) folds into the claims the database holds;
and the history endpoints refuse bad requests with the parameter named."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.history import HistoryEntry, fold
from server.core.origins import Channel, Origin
from server.core.seats import SeatStatus
from tests.client import SeatClient
from tests.conftest import Running, StartServer, eventually
from tests.e2e.test_checkout import call
from tests.fakes import ManualClock

KEY = "operator-key-for-history"
CUSTOMER = {"name": "Ada", "email": "ada@example.com"}
SEATS = [f"{row}{number}" for row in "ABCD" for number in range(1, 7)]
TTL_MS, PAYMENT_MS = 60_000, 120_000


async def start(start_server: StartServer, clock: ManualClock) -> tuple[Running, str]:
    running = await start_server(
        clock, admin_api_key=KEY, hold_ttl_seconds=TTL_MS / 1000, payment_timeout_seconds=PAYMENT_MS / 1000
    )
    return running, await running.showtime(rows=4, seats_per_row=6)


class Buyer:
    """A session that asks over the socket or over REST."""

    def __init__(self, running: Running, showtime: str, token: str, client: SeatClient | None) -> None:
        self.running, self.showtime, self.token, self.client = running, showtime, token, client

    @classmethod
    async def join(cls, running: Running, showtime: str, socket: bool) -> Buyer:
        if socket:
            client = await running.client()
            return cls(running, showtime, client.token, client)
        _, token = await running.session()
        return cls(running, showtime, token, None)

    async def seats(self, action: str, seats: list[str], **more: Any) -> dict[str, Any]:
        """lock, extend, unlock or book; the ack or the refusal, as a dict."""
        if self.client is not None:
            return await self.client.request(action, showtimeId=self.showtime, seatIds=seats, **more)
        method, path = {
            "lock": ("POST", "/api/seat-locks"),
            "extend": ("POST", "/api/seat-locks"),  # REST has no extend: locking again extends
            "unlock": ("DELETE", "/api/seat-locks"),
            "book": ("POST", "/api/bookings"),
        }[action]
        _, body = await call(
            self.running, method, path, self.token, json={"showtimeId": self.showtime, "seatIds": seats, **more}
        )
        return dict(body)

    async def book(self, seats: list[str], pending: bool) -> str | None:
        """The booking made, or None."""
        reply = await self.seats("book", seats, customer=CUSTOMER, **({"payment": "pending"} if pending else {}))
        booking = reply.get("booking", reply)  # the socket's ack carries it, REST answers with it
        return booking.get("bookingId") if isinstance(booking, dict) else None

    async def cancel(self, booking_id: str, token: str | None = None) -> None:
        await call(self.running, "POST", f"/api/bookings/{booking_id}/cancel", token or self.token, json={})

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


async def confirm(running: Running, booking_id: str) -> None:
    body = {"paymentReference": f"pi_{booking_id}", "provider": "stripe"}
    await call(running, "POST", f"/api/bookings/{booking_id}/confirm", KEY, json=body)


async def block(running: Running, showtime: str, seat: str, method: str = "POST") -> None:
    await call(running, method, f"/api/admin/showtimes/{showtime}/blocks", KEY, json={"seatIds": [seat], "reason": "x"})


async def every_origin(running: Running, showtime: str, clock: ManualClock) -> None:
    """One story per origin, so that the run surely logs each."""
    socket = await Buyer.join(running, showtime, socket=True)
    assert (await socket.seats("lock", ["A1"]))["type"] == "ack"
    clock.advance(1000)  # so that the extend moves the hold on, which it logs
    assert (await socket.seats("extend", ["A1"]))["type"] == "ack"
    assert (await socket.seats("unlock", ["A1"]))["type"] == "ack"
    rest = await Buyer.join(running, showtime, socket=False)
    for seats, pending in ((["B1"], False), (["B2"], True), (["B3"], True), (["B4"], True)):
        assert (await rest.seats("lock", seats))["seatIds"] == seats
        booked = await rest.book(seats, pending)
        assert booked is not None
        if seats == ["B2"]:
            await confirm(running, booked)
        elif seats == ["B3"]:
            await rest.cancel(booked)
    await rest.seats("lock", ["C1"])
    await block(running, showtime, "D1")
    await block(running, showtime, "D1", "DELETE")
    clock.advance(PAYMENT_MS)  # B4's payment and C1's hold run out
    await socket.close()


async def random_run(running: Running, showtime: str, clock: ManualClock, rng: random.Random) -> None:
    """Buyers over both channels lock, extend, unlock and book (pending or not), pay, cancel; the operator blocks
    and unblocks and refunds; the clock jumps now and then, so that holds and payments run out."""
    bookings: list[tuple[str, str]] = []  # (booking, its buyer's token)

    async def buyer(number: int) -> None:
        me = await Buyer.join(running, showtime, socket=number % 2 == 0)
        mine: list[str] = []
        for _ in range(15):
            draw = rng.random()
            if draw < 0.35 or not mine:
                wanted = rng.sample(SEATS, 2)
                if (await me.seats("lock", wanted)).get("seatIds") == wanted:
                    mine = sorted(set(mine) | set(wanted))
            elif draw < 0.45:
                await me.seats("extend", mine)
            elif draw < 0.55:
                await me.seats("unlock", [mine.pop()])
            elif draw < 0.75:
                if booked := await me.book(mine, pending=rng.random() < 0.6):
                    bookings.append((booked, me.token))
                mine = []
            elif bookings:
                booked, token = rng.choice(bookings)
                move = rng.random()
                await (confirm(running, booked) if move < 0.5 else me.cancel(booked, token if move < 0.8 else KEY))
            if rng.random() < 0.1:
                clock.advance(rng.choice([20_000, TTL_MS, PAYMENT_MS]))
        await me.close()

    async def operator() -> None:
        for _ in range(12):
            await block(running, showtime, rng.choice(SEATS), rng.choice(["POST", "DELETE"]))
            await asyncio.sleep(0)

    await asyncio.gather(*(buyer(number) for number in range(8)), operator())


async def quiet(engine: AsyncEngine, showtime: str, now: int) -> bool:
    """Nothing is left for the sweeper: no lapsed hold, no unpaid booking past its due time."""
    async with engine.connect() as conn:
        lapsed = "SELECT COUNT(*) FROM seat_hold WHERE showtime_id = :id AND expires_at <= :now"
        overdue = (
            "SELECT COUNT(*) FROM booking WHERE showtime_id = :id AND status = 'pending' AND payment_due_at <= :now"
        )
        counts = [
            (await conn.execute(text(sql), {"id": showtime, "now": now})).scalar_one() for sql in (lapsed, overdue)
        ]
    return counts == [0, 0]


async def claims_in_the_database(engine: AsyncEngine, showtime: str) -> dict[str, tuple[str, str]]:
    """Every claim on the showtime's seats, by raw SQL: seat -> (state, session)."""
    queries = (
        "SELECT seat_code, 'held', session_id FROM seat_hold WHERE showtime_id = :id",
        "SELECT s.seat_code, CASE b.status WHEN 'pending' THEN 'pending' ELSE 'booked' END, b.session_id "
        "FROM booking_seat s JOIN booking b ON b.id = s.booking_id WHERE s.showtime_id = :id",
        "SELECT seat_code, 'blocked', '' FROM seat_block WHERE showtime_id = :id",
    )
    claims: dict[str, tuple[str, str]] = {}
    async with engine.connect() as conn:
        for query in queries:
            for seat, state, session in await conn.execute(text(query), {"id": showtime}):
                assert seat not in claims, seat  # one claim per seat
                claims[seat] = (state, session)
    return claims


async def pages(running: Running, path: str, limit: int, **query: str) -> list[dict[str, Any]]:
    """Every entry of a history, read ``limit`` at a time by following ``nextCursor``."""
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": str(limit), **query, **({"cursor": cursor} if cursor else {})}
        status, page = await call(running, "GET", path, KEY, params=params)
        assert status == 200, page
        assert len(page["entries"]) <= limit
        entries += page["entries"]
        if (cursor := page.get("nextCursor")) is None:
            return entries


def entry(wire: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(
        wire["seq"], wire["seatId"], SeatStatus(wire["status"]), wire["sessionId"], Origin(wire["origin"]),
        wire["actor"], Channel(wire["channel"]), wire["at"],
    )  # fmt: skip


def folded(entries: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {seat: (state.value, session) for seat, (state, session) in fold(map(entry, entries)).items()}


async def test_the_history_of_every_seat_replays_to_its_current_state(start_server: StartServer) -> None:
    clock = ManualClock()
    running, showtime = await start(start_server, clock)
    engine = running.server.engine
    await every_origin(running, showtime, clock)
    await random_run(running, showtime, clock, random.Random(2026))
    await eventually(lambda: quiet(engine, showtime, clock.now()))
    # Whatever the run left, the end has a seat of each kind: sold, awaiting payment, held, blocked.
    late = await Buyer.join(running, showtime, socket=False)
    free = [seat for seat in SEATS if seat not in await claims_in_the_database(engine, showtime)]
    for pending, seat in ((False, free[0]), (True, free[1])):
        await late.seats("lock", [seat])
        assert await late.book([seat], pending) is not None
    await late.seats("lock", [free[2]])
    await block(running, showtime, free[3])

    history = await pages(running, f"/api/admin/showtimes/{showtime}/history", limit=7)
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))  # every change, once, in order
    claims = await claims_in_the_database(engine, showtime)
    assert {state for state, _ in claims.values()} == {"held", "pending", "booked", "blocked"}
    assert folded(history) == claims
    assert {e["origin"] for e in history} == set(Origin)
    extends = await pages(running, f"/api/admin/showtimes/{showtime}/history", limit=7, origin="extend")
    assert extends == [e for e in history if e["origin"] == "extend"]  # an extend re-announces its hold:
    assert all(e["status"] == "locked" and e["actor"] == e["sessionId"] for e in extends)  # locked, by the holder
    assert {e["channel"] for e in history} == {"socket", "rest", "system"}
    assert {e["actor"] for e in history if e["channel"] == "system"} == {"system"}
    assert {e["actor"] for e in history if e["origin"] in ("block", "unblock", "confirm")} == {"admin"}
    for seat in SEATS:  # each seat's own history replays to its claim
        own = await pages(running, f"/api/admin/showtimes/{showtime}/seats/{seat}/history", limit=50)
        assert own == [e for e in history if e["seatId"] == seat]
        assert folded(own) == ({seat: claims[seat]} if seat in claims else {})


async def test_the_history_endpoints_page_filter_and_refuse_bad_requests(start_server: StartServer) -> None:
    clock = ManualClock()
    running, showtime = await start(start_server, clock)
    socket = await Buyer.join(running, showtime, socket=True)
    assert socket.client is not None
    session = socket.client.session_id
    await socket.seats("lock", ["A1", "A2"])
    started = clock.now()
    clock.advance(1000)
    await socket.seats("unlock", ["A1"])
    await block(running, showtime, "C3")
    await socket.close()
    base = f"/api/admin/showtimes/{showtime}"

    status, page = await call(running, "GET", f"{base}/history", KEY, params={"limit": "2"})
    assert status == 200
    assert page == {
        "showtimeId": showtime,
        "entries": [
            {
                "seq": seq, "seatId": seat, "status": "locked", "origin": "lock", "sessionId": session,
                "actor": session, "channel": "socket", "at": started,
            }
            for seq, seat in ((1, "A1"), (2, "A2"))
        ],
        "nextCursor": "2",
    }  # fmt: skip
    status, rest = await call(running, "GET", f"{base}/history", KEY, params={"cursor": "2"})
    assert [(e["seq"], e["origin"], e["actor"], e["channel"]) for e in rest["entries"]] == [
        (3, "unlock", session, "socket"), (4, "block", "admin", "rest"),
    ]  # fmt: skip
    assert "nextCursor" not in rest
    picked = {"origin": "unlock,block", "since": str(started + 1), "until": str(clock.now() + 1)}
    _, filtered = await call(running, "GET", f"{base}/history", KEY, params=picked)
    assert [e["seq"] for e in filtered["entries"]] == [3, 4]
    _, early = await call(running, "GET", f"{base}/history", KEY, params={"until": str(started + 1)})
    assert [e["seq"] for e in early["entries"]] == [1, 2]
    _, seat = await call(running, "GET", f"{base}/seats/A1/history", KEY)
    assert [(e["seq"], e["status"]) for e in seat["entries"]] == [(1, "locked"), (3, "unlocked")]

    _, token = await running.session()
    for caller, code, expected in ((None, 401, "unauthorized"), (token, 403, "forbidden")):
        status, refused = await call(running, "GET", f"{base}/history", caller)
        assert (status, refused["code"]) == (code, expected)
    for path, expected in (
        ("/api/admin/showtimes/st_nope/history", "unknown_showtime"),
        ("/api/admin/showtimes/st_nope/seats/A1/history", "unknown_showtime"),
        (f"{base}/seats/Z99/history", "unknown_seat"),
    ):
        status, refused = await call(running, "GET", path, KEY)
        assert (status, refused["code"]) == (404, expected), refused
    for name, value in (
        ("limit", "0"), ("limit", "1001"), ("limit", "ten"), ("cursor", "-1"), ("cursor", "abc"),
        ("since", "yesterday"), ("until", "1e9"), ("origin", "teleport"), ("origin", ""), ("origin", "lock,,x"),
    ):  # fmt: skip
        status, refused = await call(running, "GET", f"{base}/history", KEY, params={name: value})
        assert (status, refused["code"]) == (422, "invalid_value"), (name, value, refused)
        assert [error["path"] for error in refused["errors"]] == [name]
