"""What operators rely on: metrics, readiness, structured logs, and a shutdown that loses nothing."""

from __future__ import annotations

import asyncio
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.storage.tables import booking, booking_seat, seat_event, seat_hold, showtime
from tests.client import SeatClient
from tests.conftest import Running, StartServer
from tests.e2e.test_command_line import environment
from tests.services import free_port


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample, or 0 when it has not been reported yet."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([0-9.e+-]+)"
    found = re.search("^" + pattern + "$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def scrape(running: Running) -> str:
    async with running.http.get(f"{running.http_url}/metrics") as response:
        assert response.status == 200
        return await response.text()


async def test_metrics_follow_what_happens(running: Running) -> None:
    showtime_id = await running.showtime()
    buyer, rival, watcher = await running.client(), await running.client(), await running.client()
    await watcher.request("subscribe", showtimeId=showtime_id)
    await buyer.request("lock", showtimeId=showtime_id, seatIds=["A1", "A2"])
    await rival.request("lock", showtimeId=showtime_id, seatIds=["A1"])
    await buyer.request("book", showtimeId=showtime_id, seatIds=["A1"], customer={"name": "A", "email": "a@b.co"})
    await watcher.changes(3)

    metrics = await scrape(running)
    assert sample(metrics, "seat_connections") == 3
    assert sample(metrics, "seat_subscriptions") == 1
    assert sample(metrics, "seat_requests_total", action="lock", outcome="ok") == 1
    assert sample(metrics, "seat_requests_total", action="lock", outcome="seat_unavailable") == 1
    assert sample(metrics, "seat_requests_total", action="book", outcome="ok") == 1
    assert sample(metrics, "seat_changes_total", status="locked") == 2
    assert sample(metrics, "seat_changes_total", status="booked") == 1
    assert sample(metrics, "seat_errors_total", code="seat_unavailable") == 1
    assert sample(metrics, "seat_messages_received_total", type="lock") == 2
    assert sample(metrics, "seat_messages_sent_total", kind="broadcast") >= 3
    assert sample(metrics, "seat_change_delivery_seconds_count") == 3
    assert sample(metrics, "seat_database_seconds_count", operation="change") == 3  # one transaction each, in turn

    async with running.http.get(f"{running.http_url}/api/showtimes/nope") as response:
        assert response.status == 404
    assert sample(await scrape(running), "seat_errors_total", code="unknown_showtime") == 1


async def test_expiries_are_counted(start_server: StartServer) -> None:
    running = await start_server(hold_ttl_seconds=0.2)
    showtime_id = await running.showtime()
    client = await running.client()
    await client.request("subscribe", showtimeId=showtime_id)
    await client.request("lock", showtimeId=showtime_id, seatIds=["A1", "A2"])
    await client.changes(4)
    assert sample(await scrape(running), "seat_hold_expiries_total") == 2


async def test_ready_when_the_database_answers(running: Running) -> None:
    async with running.http.get(f"{running.http_url}/readyz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_not_ready_while_redis_is_unreachable(start_server: StartServer) -> None:
    running = await start_server(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with running.http.get(f"{running.http_url}/readyz") as response:
        problem = await response.json(content_type=None)
        assert response.status == 503
    assert problem["code"] == "not_ready"
    assert "redis" in problem["message"]
    # Liveness is another matter: the process answers, and its own clients are served.
    async with running.http.get(f"{running.http_url}/healthz") as response:
        assert response.status == 200
    showtime_id = await running.showtime()
    assert (await (await running.client()).request("lock", showtimeId=showtime_id, seatIds=["A1"]))["type"] == "ack"


async def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    ws_port, http_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", cwd=tmp_path, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        env=environment(tmp_path, LOG_FORMAT="json", LOG_LEVEL="DEBUG", WEBSOCKET_SERVER_PORT=str(ws_port), HTTP_PORT=str(http_port)),
    )  # fmt: skip
    assert process.stderr is not None
    lines: list[dict[str, Any]] = []
    while not any(line["message"].startswith("serving") for line in lines):
        lines.append(json.loads(await asyncio.wait_for(process.stderr.readline(), 60)))
    client = await SeatClient.connect(f"ws://127.0.0.1:{ws_port}/ws/seat-updates")
    opened = json.loads(await asyncio.wait_for(process.stderr.readline(), 30))
    while opened["message"] != "connection opened":
        opened = json.loads(await asyncio.wait_for(process.stderr.readline(), 30))
    process.terminate()
    rest = (await asyncio.wait_for(process.stderr.read(), 30)).decode().splitlines()
    await process.wait()
    await client.close()

    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert (opened["message"], opened["session"], opened["level"]) == ("connection opened", client.session_id, "debug")
    assert all(json.loads(line) for line in rest if line.strip())  # every line, to the last, is JSON


async def test_shutdown_under_load_loses_nothing(running: Running) -> None:
    """Stop the server while clients lock, unlock and book; every acknowledged change is durable, every
    transaction is whole, and replaying the event log gives exactly the holds and bookings in the tables."""
    showtime_id = await running.showtime(rows=4, seats_per_row=10)
    clients = [await running.client() for _ in range(30)]
    seats = [f"{row}{n}" for row in "ABCD" for n in range(1, 11)]
    acknowledged: list[dict[str, Any]] = []

    async def shop(client: SeatClient, rng: random.Random) -> None:
        try:
            while True:
                pick = rng.sample(seats, rng.randint(1, 3))
                reply = await client.request("lock", showtimeId=showtime_id, seatIds=pick)
                if reply["type"] != "ack":
                    continue
                acknowledged.append(reply)
                action = rng.choice(["unlock", "book"])
                extra = {"customer": {"name": "A", "email": "a@b.co"}} if action == "book" else {}
                reply = await client.request(action, showtimeId=showtime_id, seatIds=pick, **extra)
                if reply["type"] == "ack":
                    acknowledged.append(reply)
        except Exception:  # the connection went away under the client: that is the point of the test
            return

    shoppers = [asyncio.create_task(shop(client, random.Random(i))) for i, client in enumerate(clients)]
    await asyncio.sleep(1.0)
    engine = running.server.engine
    database_url = running.server.settings.database_url
    await running.server.stop()
    await asyncio.wait_for(asyncio.gather(*shoppers), 30)
    assert {client.connection.close_code for client in clients} == {1001}
    assert acknowledged, "the load did not get going"

    from server.storage.database import create_engine

    engine = create_engine(database_url)
    async with engine.connect() as conn:
        seq = (await conn.execute(select(showtime.c.seq).where(showtime.c.id == showtime_id))).scalar_one()
        events = (
            await conn.execute(
                select(seat_event).where(seat_event.c.showtime_id == showtime_id).order_by(seat_event.c.seq)
            )
        ).all()
        holds = {
            row.seat_code for row in await conn.execute(select(seat_hold).where(seat_hold.c.showtime_id == showtime_id))
        }
        sold = {
            row.seat_code: row.booking_id
            for row in await conn.execute(select(booking_seat).where(booking_seat.c.showtime_id == showtime_id))
        }
        bookings = {row.id for row in await conn.execute(select(booking).where(booking.c.showtime_id == showtime_id))}
    await engine.dispose()

    assert [event.seq for event in events] == list(range(1, seq + 1))  # no transaction half-written
    replayed: dict[str, str] = {}
    for event in events:
        if event.status == "unlocked":
            del replayed[event.seat_code]
        else:
            replayed[event.seat_code] = event.status
    assert holds == {seat for seat, status in replayed.items() if status == "locked"}
    assert set(sold) == {seat for seat, status in replayed.items() if status == "booked"}
    assert set(sold.values()) == bookings  # every booking has its seats, every sold seat its booking
    for ack in acknowledged:
        if ack["action"] == "book":
            assert all(sold.get(seat) == ack["bookingId"] for seat in ack["seatIds"])
