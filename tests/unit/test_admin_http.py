"""The admin API's handlers on a loopback port: the key, layout versions, showtime terms, blocked seats."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from server.admin_http import ADMIN_ENDPOINTS, AdminApi, read_layout
from server.core.deliveries import DeliveryStatus
from server.core.errors import Rejection
from server.core.venues import HallLayout
from server.http import Api, create_app
from server.idempotency import Idempotency
from server.layout_file import dump_layout
from server.metrics import Metrics
from server.rejections import Refusals
from server.seat_maps import SeatMaps
from server.service import SeatService
from server.sessions import Sessions
from server.settings import LimitSettings, SeatSettings, SessionSettings, TransportSettings
from server.storage.idempotency import IdempotencyKeys
from server.storage.seed import Category, grid_layout
from server.storage.store import SeatStore
from server.storage.tables import webhook_event
from server.storage.webhooks import Attempt, WebhookStore
from tests.fakes import ManualClock
from tests.unit.database import SHOWTIME, engine

__all__ = ["engine"]

Client = TestClient[web.Request, web.Application]
KEY = "the-operators-key"
ADMIN = {"Authorization": f"Bearer {KEY}"}
PRETIX_PLAN = Path(__file__).resolve().parents[2] / "examples" / "layouts" / "pretix-kleiner-saal.json"
HALL, _ = grid_layout(2, 3, (Category("Front", 900, range(0, 1)), Category("Back", 500)))


async def no_dependencies() -> dict[str, str]:
    return {}


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[Client]:
    clock, metrics, transport, limits, seats = (
        ManualClock(),
        Metrics(),
        TransportSettings(),
        LimitSettings(),
        SeatSettings(),
    )
    service = SeatService(SeatStore(engine), seats, lambda events: None, metrics, clock)
    sessions = Sessions(b"a-secret-of-sixteen-or-more", SessionSettings(), clock)
    api = Api(service, SeatMaps(service, limits, clock), sessions, transport, seats, 8080, no_dependencies, KEY)
    admin = AdminApi(service, sessions, KEY, transport, limits, WebhookStore(engine))
    idempotency = Idempotency(IdempotencyKeys(engine), clock, seats.idempotency_ttl_seconds)
    app = create_app(
        api,
        transport,
        Refusals(metrics),
        metrics,
        4096,
        (admin, ADMIN_ENDPOINTS),
        idempotency=idempotency,
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def call(client: Client, method: str, path: str, status: int, **request: Any) -> Any:
    response = await client.request(method, path, headers=request.pop("headers", ADMIN), **request)
    body = await response.json(content_type=None)
    assert response.status == status, body
    return body


async def buyer(client: Client) -> dict[str, str]:
    token = (await (await client.post("/api/sessions")).json())["token"]
    return {"Authorization": f"Bearer {token}"}


async def test_only_the_key_opens_the_admin_api(client: Client) -> None:
    for headers, status, challenge in [
        ({}, 401, "Bearer"),
        ({"Authorization": "Bearer wrong"}, 401, 'Bearer error="invalid_token"'),
        ({"Authorization": f"Basic {KEY}"}, 401, "Bearer"),  # the key under another scheme is no key
        (await buyer(client), 403, None),
    ]:
        response = await client.get("/api/admin/layouts", headers=headers)
        assert (response.status, response.headers.get("WWW-Authenticate")) == (status, challenge), headers
    assert (await client.get("/api/admin/layouts", headers={"Authorization": f"bearer  {KEY}"})).status == 200


async def test_importing_a_hall_again_makes_its_next_version(client: Client) -> None:
    query = {"venueId": "v1", "venueName": "Odeon", "hallId": "h1", "hallName": "Screen 1"}
    first = await call(client, "POST", "/api/admin/layouts", 201, json=dump_layout(HALL), params=query)
    assert (first["version"], first["seatCount"], first["venueName"], first["hallName"]) == (1, 6, "Odeon", "Screen 1")
    second = await call(client, "POST", "/api/admin/layouts", 201, json=dump_layout(HALL), params={"hallId": "h1"})
    assert (second["version"], second["venueId"]) == (2, "v1")  # the hall's venue, found by its id
    other = {"hallId": "h1", "venueId": "v2"}
    refused = await call(client, "POST", "/api/admin/layouts", 422, json=dump_layout(HALL), params=other)
    assert [error["path"] for error in refused["errors"]] == ["venueId"]
    listed = await call(client, "GET", "/api/admin/layouts", 200)
    assert [v["layoutId"] for v in listed if v["hallId"] == "h1"] == [first["layoutId"], second["layoutId"]]
    stored = await call(client, "GET", f"/api/admin/layouts/{first['layoutId']}", 200)
    assert stored == dump_layout(HALL)
    assert (await call(client, "GET", "/api/admin/layouts/a%01b", 404))["code"] == "unknown_layout"


async def test_a_pretix_plan_names_its_hall_unless_the_query_does(client: Client) -> None:
    plan = PRETIX_PLAN.read_bytes()
    named = await call(client, "POST", "/api/admin/layouts", 201, data=plan, params={"format": "pretix"})
    assert named["hallName"] == "Kleiner Saal"
    renamed = {"format": "pretix", "hallName": "Studio"}
    assert (await call(client, "POST", "/api/admin/layouts", 201, data=plan, params=renamed))["hallName"] == "Studio"
    bad = await call(client, "POST", "/api/admin/layouts", 422, data=plan, params={"venueName": "tab\there"})
    assert (bad["code"], bad["errors"][0]["path"]) == ("invalid_value", "venueName")


def test_a_layout_with_six_errors_lists_five_and_counts_the_rest() -> None:
    document = dump_layout(HALL)
    twins = [{"id": "A1", "label": str(n), "x": n, "y": 0, "category": "front"} for n in range(7)]
    document["sections"][0]["rows"][0]["seats"] = twins
    refused, name = read_layout(json.dumps(document).encode(), pretix=False, max_seats=100)
    assert isinstance(refused, Rejection)
    assert name is None
    assert (len(refused.errors), refused.message.count("duplicate seat id")) == (6, 5)
    assert refused.message.endswith("; and 1 more")
    loaded, _ = read_layout(json.dumps(dump_layout(HALL)).encode(), pretix=False, max_seats=100)
    assert isinstance(loaded, HallLayout)
    assert loaded.seats() == HALL.seats()


async def test_a_showtime_is_created_changed_and_deleted(client: Client) -> None:
    layout_id = (await call(client, "POST", "/api/admin/layouts", 201, json=dump_layout(HALL)))["layoutId"]
    new = {"layoutId": layout_id, "title": "Heat", "startsAt": 5000, "prices": {"front": 900, "back": 500}}
    created = await call(client, "POST", "/api/admin/showtimes", 201, json=new | {"id": "st_heat", "salesOpenAt": 10})
    assert (created["id"], created["currency"], created["salesOpenAt"]) == ("st_heat", "EUR", 10)
    await call(client, "POST", "/api/admin/showtimes", 409, json=new | {"id": "st_heat"})
    changes = {"prices": {"back": 700}, "salesOpenAt": None, "title": "Heat (4K)"}
    changed = await call(client, "PATCH", "/api/admin/showtimes/st_heat", 200, json=changes)
    assert (changed["prices"], changed["title"], changed["startsAt"]) == (
        {"front": 900, "back": 700},
        "Heat (4K)",
        5000,
    )
    assert "salesOpenAt" not in changed
    assert await call(client, "DELETE", "/api/admin/showtimes/st_heat", 200) == changed
    assert (await call(client, "DELETE", "/api/admin/showtimes/st_heat", 404))["code"] == "unknown_showtime"


async def test_blocked_seats_come_back_on_sale_once(client: Client) -> None:
    blocks = f"/api/admin/showtimes/{SHOWTIME}/blocks"
    blocked = await call(client, "POST", blocks, 200, json={"seatIds": ["A1", "A2"], "reason": "camera"})
    assert (blocked["action"], blocked["seatIds"]) == ("block", ["A1", "A2"])
    assert (await call(client, "POST", blocks, 200, json={"seatIds": ["A2"]}))["seatIds"] == ["A2"]  # as it was
    held = {"showtimeId": SHOWTIME, "seatIds": ["B1"]}
    await call(client, "POST", "/api/seat-locks", 200, json=held, headers=await buyer(client))
    assert (await call(client, "POST", blocks, 409, json={"seatIds": ["B1"]}))["code"] == "seat_unavailable"
    assert (await call(client, "DELETE", blocks, 200, json={"seatIds": ["A1"]}))["action"] == "unblock"
    assert (await call(client, "DELETE", blocks, 409, json={"seatIds": ["A1"]}))["code"] == "not_blocked"
    assert (await call(client, "POST", "/api/admin/showtimes/st_none/blocks", 404, json={}))[
        "code"
    ] == "unknown_showtime"


async def test_webhook_deliveries_are_listed_with_their_attempts_filtered_and_paged(
    client: Client, engine: AsyncEngine
) -> None:
    store = WebhookStore(engine)
    async with engine.begin() as conn:
        await conn.execute(
            insert(webhook_event),
            [
                {"id": f"evt_{n}", "position": n, "type": "booking.confirmed", "booking_id": "bk_1" if n else None,
                 "showtime_id": SHOWTIME, "body": "{}", "created_at": 1000 + n}
                for n in range(3)
            ],
        )  # fmt: skip
    await store.add_deliveries(["http://shop.example/hooks"], since=0)
    (due,) = await store.claim(["http://shop.example/hooks"], 2000, 3000, 1)  # the oldest: evt_0
    await store.record(due, Attempt(1, 2000, None, "refused", 7), DeliveryStatus.PENDING, 9000)
    path = "/api/admin/webhooks/deliveries"
    listed = await call(client, "GET", path, 200)
    assert [d["eventId"] for d in listed["deliveries"]] == ["evt_2", "evt_1", "evt_0"]
    assert "nextCursor" not in listed
    assert listed["deliveries"][2] == {
        "eventId": "evt_0", "type": "booking.confirmed", "showtimeId": SHOWTIME, "url": "http://shop.example/hooks",
        "status": "pending", "createdAt": 1000, "nextAttemptAt": 9000, "lastAttemptAt": 2000,
        "attempts": [{"attempt": 1, "at": 2000, "error": "refused", "durationMs": 7}],
    }  # fmt: skip
    first = await call(client, "GET", path, 200, params={"limit": "2"})
    rest = await call(client, "GET", path, 200, params={"limit": "2", "cursor": first["nextCursor"]})
    assert [d["eventId"] for d in first["deliveries"] + rest["deliveries"]] == ["evt_2", "evt_1", "evt_0"]
    assert "nextCursor" not in rest
    by_event = await call(client, "GET", path, 200, params={"eventId": "evt_1"})
    assert [d["bookingId"] for d in by_event["deliveries"]] == ["bk_1"]
    assert (await call(client, "GET", path, 200, params={"bookingId": "bk_1"}))["deliveries"][0]["eventId"] == "evt_2"
    assert (await call(client, "GET", path, 200, params={"status": "failed"}))["deliveries"] == []
    assert await call(client, "GET", path, 401, headers={})


@pytest.mark.parametrize(
    ("name", "value"),
    [("status", "lost"), ("limit", "0"), ("limit", "201"), ("limit", "ten"), ("limit", "\uff11"), ("cursor", "!!"),
     ("cursor", "WzEsMl0"), ("cursor", "WyJ4IiwiZSIsInUiXQ"), ("eventId", "tab\there")],
)  # fmt: skip
async def test_a_bad_deliveries_query_is_named_in_a_422(client: Client, name: str, value: str) -> None:
    refused = await call(client, "GET", "/api/admin/webhooks/deliveries", 422, params={name: value})
    assert (refused["code"], refused["errors"][0]["path"]) == ("invalid_value", name)
