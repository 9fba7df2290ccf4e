"""Many real clients race for the same seats: exactly one wins each, and the database agrees."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
import sqlalchemy.exc
from sqlalchemy import event, func, insert, select

from server.storage.tables import booking, booking_seat, seat_event, seat_hold
from tests.audit import audit
from tests.client import SeatClient
from tests.conftest import Running, StartServer, eventually
from tests.e2e.test_checkout import PAYMENT_SECONDS, SHOP, book_pending, call, cancel, confirm
from tests.e2e.test_checkout import start as start_checkout
from tests.fakes import ManualClock

T = TypeVar("T")

RACERS = 200


async def holds_in_db(running: Running, showtime: str) -> dict[str, str]:
    async with running.server.engine.connect() as conn:
        rows = await conn.execute(
            select(seat_hold.c.seat_code, seat_hold.c.session_id).where(seat_hold.c.showtime_id == showtime)
        )
        return {code: session for code, session in rows}


async def connect_all(running: Running, count: int) -> list[SeatClient]:
    clients: list[SeatClient] = []
    for start in range(0, count, 50):  # in waves, so the handshakes themselves do not time out
        clients += await asyncio.gather(*(running.client() for _ in range(start, min(count, start + 50))))
    return clients


def granted_once(clients: list[SeatClient], replies: list[dict[str, Any]]) -> dict[str, str]:
    """Each seat the acks granted and to whom; no seat granted twice."""
    granted: dict[str, str] = {}
    for client, reply in zip(clients, replies, strict=True):
        for seat in reply["seatIds"] if reply["type"] == "ack" else []:
            assert seat not in granted, f"{seat} granted twice"
            granted[seat] = client.session_id
    return granted


async def test_200_clients_lock_the_same_seats_and_exactly_one_wins_each(running: Running) -> None:
    showtime = await running.showtime(rows=2, seats_per_row=5)
    clients = await connect_all(running, RACERS)
    rng = random.Random(7)
    # Everyone wants A1; the rest pick overlapping pairs, so wins and conflicts interleave.
    wanted = [["A1", *rng.sample(["A2", "A3", "A4", "A5", "B1", "B2"], 2)] if i % 2 else ["A1"] for i in range(RACERS)]

    replies = await asyncio.gather(
        *(
            client.request("lock", showtimeId=showtime, seatIds=seats)
            for client, seats in zip(clients, wanted, strict=True)
        )
    )

    winners = [(client, reply) for client, reply in zip(clients, replies, strict=True) if reply["type"] == "ack"]
    losers = [reply for reply in replies if reply["type"] != "ack"]
    assert len(winners) == 1  # A1 was in every request, all or nothing
    assert {reply["code"] for reply in losers} == {"seat_unavailable"}
    assert all("A1" in reply["conflictingSeats"] for reply in losers)
    winner, ack = winners[0]
    assert await holds_in_db(running, showtime) == dict.fromkeys(ack["seatIds"], winner.session_id)
    for client in clients:
        await client.close()


async def test_disjoint_and_overlapping_requests_never_share_a_seat(running: Running) -> None:
    showtime = await running.showtime(rows=4, seats_per_row=10)
    clients = await connect_all(running, RACERS)
    watcher = await running.client()
    await watcher.request("subscribe", showtimeId=showtime)
    await watcher.next_pushed("current_seat_status")
    seats = [f"{row}{n}" for row in "ABCD" for n in range(1, 11)]
    rng = random.Random(11)
    wanted = [rng.sample(seats, rng.randint(1, 4)) for _ in range(RACERS)]

    replies = await asyncio.gather(
        *(
            client.request("lock", showtimeId=showtime, seatIds=pick)
            for client, pick in zip(clients, wanted, strict=True)
        )
    )

    granted = granted_once(clients, replies)
    for pick, reply in zip(wanted, replies, strict=True):
        if reply["type"] != "ack":
            assert reply["code"] == "seat_unavailable"
            # Refused for seats it asked for that another client holds (holds never lapse here; this
            # request holds none of its seats: all or nothing).
            assert reply["conflictingSeats"], reply
            assert set(reply["conflictingSeats"]) <= set(pick) & set(granted), (pick, reply)
    assert await holds_in_db(running, showtime) == granted
    # Every grant was announced once, in seq order with no gap.
    changes = await watcher.changes(len(granted))
    assert [c["seq"] for c in changes] == list(range(1, len(granted) + 1))
    assert {c["seatId"]: c["sessionId"] for c in changes} == granted


async def test_rest_and_socket_callers_race_on_equal_terms(running: Running) -> None:
    showtime = await running.showtime(rows=1, seats_per_row=3)
    sockets = await connect_all(running, RACERS // 2)
    tokens = [(await running.session())[1] for _ in range(RACERS // 2)]

    async def rest_lock(token: str) -> dict[str, Any]:
        async with running.http.post(
            f"{running.http_url}/api/seat-locks",
            json={"showtimeId": showtime, "seatIds": ["A2"]},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            body: dict[str, Any] = await response.json(content_type=None)
            return body

    results = await asyncio.gather(
        *(client.request("lock", showtimeId=showtime, seatIds=["A2"]) for client in sockets),
        *(rest_lock(token) for token in tokens),
    )
    outcomes = Counter("won" if r.get("action") == "lock" else r["code"] for r in results)
    assert outcomes == {"won": 1, "seat_unavailable": RACERS - 1}
    assert len(await holds_in_db(running, showtime)) == 1


async def test_racing_bookings_sell_each_seat_once(running: Running) -> None:
    showtime = await running.showtime(rows=1, seats_per_row=4)
    holder = await running.client()
    await holder.request("lock", showtimeId=showtime, seatIds=["A1", "A2"])
    # The same session books the same seats from many connections at once: one booking, never two.
    connections = [await running.client(token=holder.token) for _ in range(20)]
    customer = {"name": "Ada", "email": "ada@example.com"}
    replies = await asyncio.gather(
        *(c.request("book", showtimeId=showtime, seatIds=["A1", "A2"], customer=customer) for c in connections)
    )
    assert Counter(r["type"] for r in replies) == {"ack": 1, "error": 19}
    assert {r["code"] for r in replies if r["type"] == "error"} == {"not_lock_owner"}
    async with running.server.engine.connect() as conn:
        sold = (
            await conn.execute(
                select(func.count()).select_from(booking_seat).where(booking_seat.c.showtime_id == showtime)
            )
        ).scalar()
        bookings = (
            await conn.execute(select(func.count()).select_from(booking).where(booking.c.showtime_id == showtime))
        ).scalar()
        events = (
            await conn.execute(select(func.count()).select_from(seat_event).where(seat_event.c.showtime_id == showtime))
        ).scalar()
    assert (sold, bookings, events) == (2, 1, 4)


@pytest.mark.parametrize("table", [seat_hold, booking_seat])
async def test_the_database_itself_refuses_a_second_claim_on_a_seat(running: Running, table: Any) -> None:
    showtime = await running.showtime()
    holder = await running.client()
    customer = {"name": "Ada", "email": "ada@example.com"}
    await holder.request("lock", showtimeId=showtime, seatIds=["A1"])
    if table is booking_seat:
        await holder.request("book", showtimeId=showtime, seatIds=["A1"], customer=customer)
    async with running.server.engine.connect() as conn:
        existing = (await conn.execute(select(table).where(table.c.showtime_id == showtime))).mappings().one()
        duplicate = (
            {**existing, "session_id": "s_intruder"} if table is seat_hold else {**existing, "booking_id": "bk_x"}
        )
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            await conn.execute(insert(table).values(**duplicate))
        await conn.rollback()


async def test_two_instances_on_one_database_never_grant_a_seat_twice(start_server: Any) -> None:
    """Two servers share only the database, so its row lock alone must serialize them."""
    first, second = await start_server(), await start_server()
    showtime = await first.showtime(rows=2, seats_per_row=5)
    clients = await connect_all(first, RACERS // 2) + await connect_all(second, RACERS // 2)
    seats = [f"{row}{n}" for row in "AB" for n in range(1, 6)]
    rng = random.Random(3)
    wanted = [rng.sample(seats, rng.randint(1, 3)) for _ in clients]

    replies = await asyncio.gather(
        *(
            client.request("lock", showtimeId=showtime, seatIds=pick)
            for client, pick in zip(clients, wanted, strict=True)
        )
    )

    granted: dict[str, str] = {}
    for client, reply in zip(clients, replies, strict=True):
        assert reply["type"] == "ack" or reply["code"] == "seat_unavailable", reply
        for seat in reply.get("seatIds", []) if reply["type"] == "ack" else []:
            assert seat not in granted, f"{seat} granted twice"
            granted[seat] = client.session_id
    assert granted
    assert await holds_in_db(first, showtime) == granted
    async with first.server.engine.connect() as conn:
        seqs = (
            (await conn.execute(select(seat_event.c.seq).where(seat_event.c.showtime_id == showtime))).scalars().all()
        )
    assert sorted(seqs) == list(range(1, len(granted) + 1))


async def test_a_burst_on_a_cold_showtime_reads_its_layout_once(running: Running) -> None:
    showtime = await running.showtime(rows=10, seats_per_row=10)
    engine = running.server.engine
    layout_reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "layout_seat" in statement and "table_id" in statement:  # the layout the rules need
            layout_reads.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        clients = await connect_all(running, 50)
        replies = await asyncio.gather(
            *(c.request("lock", showtimeId=showtime, seatIds=[f"A{i % 10 + 1}"]) for i, c in enumerate(clients))
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert Counter(r["type"] for r in replies) == {"ack": 10, "error": 40}
    assert len(layout_reads) == 1


# --- checkout: moves of bookings racing each other, the sweeper and new locks ---------------------------------


async def lock_over_rest(running: Running, token: str, showtime: str, seats: list[str]) -> bool:
    status, _ = await call(running, "POST", "/api/seat-locks", token, json={"showtimeId": showtime, "seatIds": seats})
    return status == 200


async def lock_persistently(running: Running, token: str, showtime: str, seats: list[str], tries: int = 10) -> bool:
    """A rival who keeps trying for a moment: whether it got the seats."""
    for _ in range(tries):
        if await lock_over_rest(running, token, showtime, seats):
            return True
        await asyncio.sleep(0.005)
    return False


async def jittered(rng: random.Random, call: Awaitable[T], spread: float = 0.03) -> T:
    """``call`` after up to ``spread`` seconds: racers that start apart, in any order."""
    await asyncio.sleep(rng.random() * spread)
    return await call


async def test_expiry_racing_confirm_one_of_them_wins_and_the_webhook_tells_which(start_server: StartServer) -> None:
    """Every payment falls due at once; the sweeper, the shop's confirms and rivals wanting the seats race."""
    clock, rng = ManualClock(), random.Random(12)
    running = await start_checkout(start_server, clock, hold_sweep_interval_seconds=0.01)
    showtime = await running.showtime(rows=3, seats_per_row=5)
    seats = [f"{row}{n}" for row in "ABC" for n in range(1, 6)]
    booked = {seat: (await book_pending(running, showtime, [seat]))[1]["bookingId"] for seat in seats}
    rivals = {seat: (await running.session())[1] for seat in seats}
    clock.advance(PAYMENT_SECONDS * 1000)

    confirms, rival_won = await asyncio.gather(
        asyncio.gather(*(jittered(rng, confirm(running, booked[seat])) for seat in seats)),
        asyncio.gather(*(jittered(rng, lock_persistently(running, rivals[seat], showtime, [seat])) for seat in seats)),
    )

    await eventually(lambda: no_pending(running, showtime))
    audited = await audit(running.server.engine, showtime, webhooks=True)
    outcomes: Counter[str] = Counter()
    for seat, (status, body), won in zip(seats, confirms, rival_won, strict=True):
        booking_id = booked[seat]
        history = audited.histories[booking_id]
        if status == 200:  # confirmed: before the sweeper, or after it with the seat still free
            assert body["status"] == audited.statuses[booking_id] == "confirmed"
            assert history in (["pending", "confirmed"], ["pending", "expired", "confirmed"]), history
            assert not won
            outcomes["confirmed first" if len(history) == 2 else "honoured late"] += 1
        else:  # the sweeper first, then the rival: the payment is late and must be refunded
            assert (status, body["code"]) == (409, "booking_expired"), body
            assert history == ["pending", "expired", "expired"]
            assert audited.events[booking_id][-1] == "booking.late_payment"
            assert won
            outcomes["refunded"] += 1
        assert (audited.held.get(seat) is not None) == won
    assert sum(outcomes.values()) == len(seats)


async def no_pending(running: Running, showtime: str) -> bool:
    return all(
        b["status"] != "pending"
        for b in (await call(running, "GET", f"/api/admin/showtimes/{showtime}/bookings", SHOP))[1]
    )


async def test_confirm_racing_cancel_and_a_rival_each_is_told_the_truth(start_server: StartServer) -> None:
    rng = random.Random(21)
    running = await start_checkout(start_server)
    showtime = await running.showtime(rows=3, seats_per_row=5)
    pairs = [["A1", "A2"], ["A3", "A4"], ["B1", "B2"], ["B3", "B4"], ["C1", "C2"], ["C3", "C4"], ["A5", "B5"]]
    made = [await book_pending(running, showtime, pair) for pair in pairs]
    rivals = [(await running.session())[1] for _ in pairs]

    answers = await asyncio.gather(
        *(
            asyncio.gather(
                jittered(rng, confirm(running, ack["bookingId"]), spread=0.1),  # the payment takes its time
                jittered(rng, cancel(running, ack["bookingId"], token)),
                jittered(rng, lock_persistently(running, rival, showtime, pair)),
            )
            for (token, ack), rival, pair in zip(made, rivals, pairs, strict=True)
        )
    )

    audited = await audit(running.server.engine, showtime, webhooks=True)
    for (_, ack), pair, ((confirmed, paid), (cancelled, _), won) in zip(made, pairs, answers, strict=True):
        history, status = audited.histories[ack["bookingId"]], audited.statuses[ack["bookingId"]]
        assert (confirmed == 200) == (status == "confirmed"), (history, paid)
        assert (cancelled == 200) == ("cancelled" in history), history
        if confirmed != 200:
            assert paid["code"] == "booking_cancelled"  # cancelled, then the rival took the seats
            assert history == ["pending", "cancelled", "cancelled"]
        if cancelled != 200:
            assert history[:2] == ["pending", "confirmed"]  # paid first: only the shop cancels it now
        assert won == (set(pair) <= audited.held.keys())  # the rival holds what it was told it got
        assert not (won and status == "confirmed")


async def test_cancel_racing_new_locks_the_freed_seats_go_to_one_buyer_each(start_server: StartServer) -> None:
    running = await start_checkout(start_server)
    showtime = await running.showtime(rows=2, seats_per_row=5)
    token, ack = await book_pending(running, showtime, ["A1", "A2", "A3"])
    clients = await connect_all(running, 60)
    rng = random.Random(4)
    wanted = [rng.sample(["A1", "A2", "A3", "A4"], rng.randint(1, 2)) for _ in clients]
    cancelled = asyncio.Event()

    async def keep_trying(client: SeatClient, seats: list[str]) -> dict[str, Any]:
        """Lock until it works or the seats were free for a while and still refused."""
        for attempt in range(40):
            reply = await client.request("lock", showtimeId=showtime, seatIds=seats)
            if reply["type"] == "ack" or (cancelled.is_set() and attempt > 20):
                return reply
            await asyncio.sleep(0.005)
        return reply

    async def cancel_soon() -> tuple[int, Any]:
        await asyncio.sleep(0.02)
        answer = await cancel(running, ack["bookingId"], token)
        cancelled.set()
        return answer

    answer, *replies = await asyncio.gather(
        cancel_soon(), *(keep_trying(c, s) for c, s in zip(clients, wanted, strict=True))
    )

    assert answer[0] == 200
    granted = granted_once(clients, replies)
    assert {reply["code"] for reply in replies if reply["type"] != "ack"} <= {"seat_unavailable"}
    audited = await audit(running.server.engine, showtime, webhooks=True)
    assert audited.held == granted
    assert {"A1", "A2", "A3"} & granted.keys()  # the freed seats found buyers
    assert audited.sold == {}
    for client in clients:
        await client.close()


async def test_many_buyers_pay_cancel_and_expire_at_once_and_the_database_stays_whole(
    start_server: StartServer,
) -> None:
    clock, rng = ManualClock(), random.Random(9)
    running = await start_checkout(start_server, clock, hold_sweep_interval_seconds=0.01)
    showtime = await running.showtime(rows=4, seats_per_row=10)
    seats = [f"{row}{n}" for row in "ABCD" for n in range(1, 11)]
    made = [await book_pending(running, showtime, [seat]) for seat in seats[:30]]
    rivals = [(await running.session())[1] for _ in range(10)]

    async def act(token: str, booking_id: str) -> int:
        match rng.randrange(4):
            case 0:
                return (await confirm(running, booking_id, f"pi_{rng.randrange(2)}"))[0]
            case 1:
                return (await cancel(running, booking_id, token))[0]
            case 2:
                return (await cancel(running, booking_id, SHOP))[0]
            case _:
                return (await call(running, "GET", f"/api/bookings/{booking_id}", token))[0]

    async def rival(token: str) -> None:
        for _ in range(5):
            await lock_over_rest(running, token, showtime, rng.sample(seats, 2))

    async def due_halfway() -> None:
        await asyncio.sleep(0.05)
        clock.advance(PAYMENT_SECONDS * 1000)

    statuses = await asyncio.gather(
        *(jittered(rng, act(token, ack["bookingId"])) for token, ack in made for _ in range(3)),
        *(rival(token) for token in rivals),
        due_halfway(),
    )
    assert set(statuses) <= {200, 409, None}, statuses  # never a 5xx
    await eventually(lambda: no_pending(running, showtime))
    audited = await audit(running.server.engine, showtime, webhooks=True)
    assert set(audited.statuses.values()) <= {"confirmed", "cancelled", "expired"}
    assert len(audited.statuses) == 30
