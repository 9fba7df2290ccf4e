"""The REST adapter on a loopback port: JSON in and out, problems with their statuses, CORS, the generated document."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from sqlalchemy.ext.asyncio import AsyncEngine

from server.http import ENDPOINTS, Api, Keys, create_app
from server.idempotency import Idempotency
from server.metrics import Metrics
from server.openapi import openapi_document
from server.rejections import Refusals
from server.seat_maps import SeatMaps
from server.service import SeatService
from server.sessions import Sessions
from server.settings import LimitSettings, SeatSettings, SessionSettings, TransportSettings
from server.storage.idempotency import IdempotencyKeys
from server.storage.store import SeatStore
from tests.fakes import ManualClock
from tests.unit.database import SHOWTIME, engine

__all__ = ["engine"]

Client = TestClient[web.Request, web.Application]
MAX_BODY = 1024
SEATS = SeatSettings(seat_changes_per_second=1, seat_change_burst=2)


class Readiness:
    """What the app reports of its dependencies; a test sets it."""

    def __init__(self) -> None:
        self.checks = {"database": "ok"}

    async def __call__(self) -> dict[str, str]:
        if not self.checks:
            raise RuntimeError("the probe itself failed")
        return self.checks


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
async def client(engine: AsyncEngine, readiness: Readiness) -> AsyncIterator[Client]:
    clock, metrics = ManualClock(), Metrics()
    transport = TransportSettings(allowed_origins="https://shop.example")
    service = SeatService(SeatStore(engine), SEATS, lambda events: None, metrics, clock)
    sessions = Sessions(b"a-secret-of-sixteen-or-more", SessionSettings(), clock)
    api = Api(service, SeatMaps(service, LimitSettings(), clock), sessions, transport, SEATS, 8080, readiness)
    idempotency = Idempotency(IdempotencyKeys(engine), clock, SEATS.idempotency_ttl_seconds)
    app = create_app(api, transport, Refusals(metrics), metrics, MAX_BODY, idempotency=idempotency)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def bearer(client: Client) -> dict[str, str]:
    response = await client.post("/api/sessions")
    assert response.status == 201
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def test_lock_and_book_with_a_session_token(client: Client) -> None:
    auth = await bearer(client)
    locked = await client.post("/api/seat-locks", json={"showtimeId": SHOWTIME, "seatIds": ["A1"]}, headers=auth)
    assert (locked.status, (await locked.json())["action"]) == (200, "lock")
    body = {"showtimeId": SHOWTIME, "seatIds": ["A1"], "customer": {"name": "Ada", "email": "ada@example.com"}}
    booked = await client.post("/api/bookings", json=body, headers=auth)
    assert booked.status == 201
    booking_id = (await booked.json())["bookingId"]
    read_back = await client.get(f"/api/bookings/{booking_id}", headers=auth)
    assert (await read_back.json())["seatIds"] == ["A1"]
    layout = await (await client.get(f"/api/showtimes/{SHOWTIME}")).json()
    row = layout["sections"][0]["rows"][0]
    assert (row["label"], row["seats"][0]) == ("A", {
        "id": "A1", "label": "1", "x": 0, "y": 0,
        "categoryId": layout["categories"][0]["id"], "flags": [], "status": "booked",
    })  # fmt: skip


async def test_refusals_are_problems_with_the_codes_status(client: Client) -> None:
    auth, rival = await bearer(client), await bearer(client)
    seats = {"showtimeId": SHOWTIME, "seatIds": ["B1"]}
    await client.post("/api/seat-locks", json=seats, headers=auth)
    taken = await client.post("/api/seat-locks", json=seats, headers=rival)
    assert (taken.status, taken.content_type) == (409, "application/problem+json")
    problem = await taken.json(content_type=None)
    assert (problem["code"], problem["conflictingSeats"], problem["title"]) == ("seat_unavailable", ["B1"], "Conflict")
    cases = [
        (client.post("/api/seat-locks", json=seats), 401, "unauthorized"),
        (client.post("/api/seat-locks", data=b"{not json", headers=auth), 400, "invalid_message"),
        (client.post("/api/seat-locks", data=b" " * (MAX_BODY + 1), headers=auth), 413, "message_too_large"),
        (client.get("/api/showtimes/st_missing"), 404, "unknown_showtime"),
        (client.get("/api/showtimes/a%01b"), 404, "unknown_showtime"),
        (client.get("/nowhere"), 404, "not_found"),
        (client.put("/api/seat-locks"), 405, "method_not_allowed"),
    ]
    for request, status, code in cases:
        response = await request
        assert (response.status, (await response.json(content_type=None))["code"]) == (status, code)


async def test_a_rate_limited_request_says_when_to_retry_in_whole_seconds(client: Client) -> None:
    auth = await bearer(client)
    for seat in ("C1", "C2"):
        await client.post("/api/seat-locks", json={"showtimeId": SHOWTIME, "seatIds": [seat]}, headers=auth)
    limited = await client.post("/api/seat-locks", json={"showtimeId": SHOWTIME, "seatIds": ["C3"]}, headers=auth)
    assert (limited.status, limited.headers["Retry-After"]) == (429, "1")
    assert (await limited.json(content_type=None))["retryAfterMs"] == 1000


async def test_readiness_reports_each_failing_dependency(client: Client, readiness: Readiness) -> None:
    assert (await (await client.get("/readyz")).json())["checks"] == {"database": "ok"}
    readiness.checks = {"database": "ok", "redis": "no answer in 2s"}
    failing = await client.get("/readyz")
    assert failing.status == 503
    assert (await failing.json(content_type=None))["message"] == "not ready: redis: no answer in 2s"
    readiness.checks = {}
    broken = await client.get("/readyz")  # a bug in a handler is a counted 500, not a stack trace
    assert (broken.status, (await broken.json(content_type=None))["code"]) == (500, "internal_error")
    assert 'seat_errors_total{code="internal_error"} 1.0' in await (await client.get("/metrics")).text()


async def test_cors_preflights_for_the_allowed_origins_only(client: Client) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = await client.options("/api/seat-locks", headers={"Origin": "https://shop.example", **preflight})
    assert (allowed.status, allowed.headers["Access-Control-Allow-Origin"]) == (204, "https://shop.example")
    refused = await client.options("/api/seat-locks", headers={"Origin": "https://evil.example", **preflight})
    assert refused.status == 403
    assert "Access-Control-Allow-Origin" not in refused.headers


async def test_the_config_and_the_openapi_document_are_served(client: Client) -> None:
    config = await (await client.get("/api/config")).json()
    assert config["websocketUrl"] == "ws://127.0.0.1:8080/ws/seat-updates"
    assert (config["holdTtlSeconds"], config["maxSeatsPerRequest"]) == (600, 10)
    served = await (await client.get("/api/openapi.json")).json()
    assert served.pop("servers") == [{"url": str(client.make_url("")).rstrip("/")}]
    assert served == openapi_document(ENDPOINTS)


async def test_a_viewport_returns_only_the_seats_inside_it(client: Client) -> None:
    window = await (await client.get(f"/api/showtimes/{SHOWTIME}?viewport=0.5,0,1,1")).json()
    shown = [seat["id"] for section in window["sections"] for row in section["rows"] for seat in row["seats"]]
    assert shown == ["A2", "B2"]  # x 0.5..1.5 holds seat 2 only (at x 1); y 0..1 rows A and B
    whole = await (await client.get(f"/api/showtimes/{SHOWTIME}")).json()
    assert (window["prices"], window["categories"]) == (whole["prices"], whole["categories"])
    for bad in ("1,2,3", "a,b,c,d", "0,0,-1,4", "0,0,nan,1"):
        refused = await client.get(f"/api/showtimes/{SHOWTIME}", params={"viewport": bad})
        assert (refused.status, (await refused.json())["code"]) == (400, "invalid_message")


def keyed(auth: dict[str, str], key: str) -> dict[str, str]:
    return {**auth, "Idempotency-Key": key}


async def test_a_keyed_booking_is_made_once_and_its_answer_replayed_byte_for_byte(client: Client) -> None:
    auth = await bearer(client)
    await client.post("/api/seat-locks", json={"showtimeId": SHOWTIME, "seatIds": ["D1"]}, headers=auth)
    body = {"showtimeId": SHOWTIME, "seatIds": ["D1"], "customer": {"name": "Ada", "email": "ada@example.com"}}
    first = await client.post("/api/bookings", json=body, headers=keyed(auth, "k1"))
    # The session's seat changes are spent (a burst of 2): a request that ran again would be rate limited.
    again = await client.post("/api/bookings", json=body, headers=keyed(auth, "k1"))
    assert (first.status, again.status) == (201, 201)
    assert await again.read() == await first.read()
    assert again.content_type == first.content_type == "application/json"
    assert (first.headers.get("Idempotent-Replayed"), again.headers["Idempotent-Replayed"]) == (None, "true")
    other = {**body, "seatIds": ["D2"]}
    reused = await client.post("/api/bookings", json=other, headers=keyed(auth, "k1"))
    assert (reused.status, (await reused.json(content_type=None))["code"]) == (422, "idempotency_key_reused")


async def test_a_refusal_is_kept_but_a_rate_limit_is_not(client: Client) -> None:
    auth = await bearer(client)
    body = {"showtimeId": SHOWTIME, "seatIds": ["D3"], "customer": {"name": "Ada", "email": "ada@example.com"}}
    refused = await client.post("/api/bookings", json=body, headers=keyed(auth, "early"))
    assert refused.status == 403  # not_lock_owner: D3 is not held
    await client.post("/api/seat-locks", json={"showtimeId": SHOWTIME, "seatIds": ["D3"]}, headers=auth)
    replayed = await client.post("/api/bookings", json=body, headers=keyed(auth, "early"))
    assert (replayed.status, replayed.content_type) == (403, "application/problem+json")
    assert await replayed.read() == await refused.read()
    limited = await client.post("/api/bookings", json=body, headers=keyed(auth, "late"))
    assert (limited.status, limited.headers["Retry-After"]) == (429, "1")
    retried = await client.post("/api/bookings", json=body, headers=keyed(auth, "late"))
    assert (retried.status, "Idempotent-Replayed" in retried.headers) == (429, False)  # ran again


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
async def test_a_malformed_key_is_a_bad_request_and_changes_nothing(client: Client, key: str) -> None:
    auth = await bearer(client)
    seats = {"showtimeId": SHOWTIME, "seatIds": ["D4"]}
    malformed = await client.post("/api/seat-locks", json=seats, headers=keyed(auth, key))
    problem = await malformed.json(content_type=None)
    assert (malformed.status, problem["code"]) == (400, "invalid_message")
    assert "Idempotency-Key" in problem["message"]
    twice = await client.post(
        "/api/seat-locks", json=seats, headers=[*keyed(auth, "a").items(), ("Idempotency-Key", "b")]
    )
    assert twice.status == 400
    locked = await client.post("/api/seat-locks", json=seats, headers=keyed(auth, "x" * 255))
    assert locked.status == 200


async def test_a_request_refused_before_it_ran_leaves_its_key_unused(client: Client) -> None:
    auth = await bearer(client)
    seats = {"showtimeId": SHOWTIME, "seatIds": ["D5"]}
    anonymous = await client.post("/api/seat-locks", json=seats, headers={"Idempotency-Key": "k"})
    assert anonymous.status == 401
    broken = await client.post("/api/seat-locks", data=b"{not json", headers=keyed(auth, "k"))
    assert broken.status == 400
    locked = await client.post("/api/seat-locks", json=seats, headers=keyed(auth, "k"))
    assert (locked.status, "Idempotent-Replayed" in locked.headers) == (200, False)


async def test_keys_are_scoped_to_the_session_or_the_operators_key(engine: AsyncEngine) -> None:
    sessions = Sessions(b"a-secret-of-sixteen-or-more", SessionSettings(), ManualClock())
    keys = Keys(Idempotency(IdempotencyKeys(engine), ManualClock(), 60), sessions, "op-key", TransportSettings(),
                Refusals(Metrics()))  # fmt: skip
    session, _ = sessions.start()

    def scope(authorization: str) -> str | None:
        return keys.scope_of(make_mocked_request("POST", "/api/bookings", headers={"Authorization": authorization}))

    assert scope(f"Bearer {session.token}") == session.id
    assert scope("bearer op-key") == "admin"
    assert scope("Bearer op-key-not") is None
    assert scope("Basic op-key") is None
    assert scope("") is None
