"""The demo page's stand-in payment provider on a loopback port: a session pays for its own pending booking."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from server.demo_http import DEMO_ENDPOINTS, DemoPayments
from server.http import Api, create_app
from server.idempotency import Idempotency
from server.metrics import Metrics
from server.rejections import Refusals
from server.seat_maps import SeatMaps
from server.service import SeatService
from server.sessions import Sessions
from server.settings import LimitSettings, SessionSettings, TransportSettings
from server.storage.idempotency import IdempotencyKeys
from server.storage.store import SeatStore
from tests.fakes import ManualClock
from tests.unit.database import SHOWTIME, engine
from tests.unit.test_http import MAX_BODY, SEATS, Client, Readiness, bearer

__all__ = ["engine"]


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[Client]:
    clock, metrics, transport = ManualClock(), Metrics(), TransportSettings()
    service = SeatService(SeatStore(engine), SEATS, lambda events: None, metrics, clock)
    sessions = Sessions(b"a-secret-of-sixteen-or-more", SessionSettings(), clock)
    api = Api(service, SeatMaps(service, LimitSettings(), clock), sessions, transport, SEATS, 8080, Readiness())
    idempotency = Idempotency(IdempotencyKeys(engine), clock, SEATS.idempotency_ttl_seconds)
    app: web.Application = create_app(
        api, transport, Refusals(metrics), metrics, MAX_BODY, (DemoPayments(api), DEMO_ENDPOINTS),
        idempotency=idempotency,
    )  # fmt: skip
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def pending_booking(client: Client, auth: dict[str, str]) -> str:
    assert (await client.post("/api/seat-locks", json={"showtimeId": SHOWTIME, "seatIds": ["A1"]}, headers=auth)).ok
    body = {"showtimeId": SHOWTIME, "seatIds": ["A1"], "customer": {"name": "Ada", "email": "ada@example.com"}}
    booked = await client.post("/api/bookings", json={**body, "payment": "pending"}, headers=auth)
    assert booked.status == 201
    return str((await booked.json())["bookingId"])


async def test_a_session_pays_for_its_own_pending_booking_once(client: Client) -> None:
    auth = await bearer(client)
    booking_id = await pending_booking(client, auth)
    paid = await client.post(f"/api/demo/bookings/{booking_id}/pay", headers=auth)
    view = await paid.json()
    assert (paid.status, view["status"], view["provider"]) == (200, "confirmed", "demo")
    assert view["paymentReference"].startswith("demo_")
    again = await client.post(f"/api/demo/bookings/{booking_id}/pay", headers=auth)  # another made-up payment
    assert (again.status, (await again.json())["code"]) == (409, "booking_confirmed")


async def test_another_sessions_booking_is_not_found_and_none_is_unauthorized(client: Client) -> None:
    booking_id = await pending_booking(client, await bearer(client))
    foreign = await client.post(f"/api/demo/bookings/{booking_id}/pay", headers=await bearer(client))
    assert (foreign.status, (await foreign.json())["code"]) == (404, "not_found")
    assert (await client.post(f"/api/demo/bookings/{booking_id}/pay")).status == 401
