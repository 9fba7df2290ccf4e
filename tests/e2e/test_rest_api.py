"""The REST API end to end, and its bridge to the socket subscribers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Running


async def call(running: Running, method: str, path: str, token: str | None = None, **kwargs: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with running.http.request(method, running.http_url + path, headers=headers, **kwargs) as response:
        body = await response.json(content_type=None)
        return response.status, body


async def test_sessions_are_created_with_a_token(running: Running) -> None:
    status, body = await call(running, "POST", "/api/sessions")
    assert status == 201
    assert body["sessionId"].startswith("s_")
    assert body["token"].startswith(body["sessionId"] + ".")
    assert body["expiresAt"] > 0


async def test_locks_unlocks_and_bookings_over_rest(running: Running) -> None:
    showtime = await running.showtime()
    _, token = await running.session()
    seats = {"showtimeId": showtime, "seatIds": ["B1", "B2"]}

    status, locked = await call(running, "POST", "/api/seat-locks", token, json=seats)
    assert status == 200
    assert (locked["action"], locked["seatIds"]) == ("lock", ["B1", "B2"])
    status, unlocked = await call(running, "DELETE", "/api/seat-locks", token, json={**seats, "seatIds": ["B2"]})
    assert (status, unlocked["action"]) == (200, "unlock")

    customer = {"name": "Grace", "email": "grace@example.com"}
    status, booked = await call(
        running, "POST", "/api/bookings", token, json={**seats, "seatIds": ["B1"], "customer": customer}
    )
    assert status == 201
    assert (booked["totalCents"], booked["currency"]) == (1000, "EUR")

    status, booking = await call(running, "GET", f"/api/bookings/{booked['bookingId']}", token)
    assert status == 200
    assert booking["seatIds"] == ["B1"]
    assert booking["customer"] == customer
    assert booking["totalCents"] == 1000


async def test_a_conflict_is_a_409_naming_the_seats(running: Running) -> None:
    showtime = await running.showtime()
    (_, first), (_, second) = await running.session(), await running.session()
    await call(running, "POST", "/api/seat-locks", first, json={"showtimeId": showtime, "seatIds": ["A1"]})
    status, problem = await call(
        running, "POST", "/api/seat-locks", second, json={"showtimeId": showtime, "seatIds": ["A1", "A2"]}
    )
    assert status == 409
    assert problem["code"] == "seat_unavailable"
    assert problem["conflictingSeats"] == ["A1"]
    assert problem["status"] == 409
    assert problem["message"]


async def test_rest_and_socket_changes_reach_socket_subscribers_alike(running: Running) -> None:
    showtime = await running.showtime()
    watcher, socket_buyer = await running.client(), await running.client()
    await watcher.request("subscribe", showtimeId=showtime)
    await watcher.next_pushed("current_seat_status")
    rest_session, token = await running.session()

    await call(running, "POST", "/api/seat-locks", token, json={"showtimeId": showtime, "seatIds": ["C1"]})
    await socket_buyer.request("lock", showtimeId=showtime, seatIds=["C2"])
    await call(running, "DELETE", "/api/seat-locks", token, json={"showtimeId": showtime, "seatIds": ["C1"]})

    changes = await watcher.changes(3)
    assert [(c["seatId"], c["status"], c["sessionId"], c["seq"]) for c in changes] == [
        ("C1", "locked", rest_session, 1),
        ("C2", "locked", socket_buyer.session_id, 2),
        ("C1", "unlocked", rest_session, 3),
    ]


async def test_a_socket_session_token_works_over_rest(running: Running) -> None:
    showtime = await running.showtime()
    client = await running.client()
    await client.request("lock", showtimeId=showtime, seatIds=["A3"])
    status, _ = await call(
        running, "DELETE", "/api/seat-locks", client.token, json={"showtimeId": showtime, "seatIds": ["A3"]}
    )
    assert status == 200


async def test_showtimes_list_and_layout(running: Running) -> None:
    showtime = await running.showtime(rows=2, seats_per_row=4, aisles_after=(2,))
    _, token = await running.session()
    await call(running, "POST", "/api/seat-locks", token, json={"showtimeId": showtime, "seatIds": ["A1"]})

    status, listed = await call(running, "GET", "/api/showtimes")
    assert status == 200
    summary = next(item for item in listed if item["id"] == showtime)
    assert summary["seatCount"] == 8

    status, layout = await call(running, "GET", f"/api/showtimes/{showtime}")
    assert status == 200
    assert layout["seq"] == 1
    [section] = layout["sections"]
    assert [row["label"] for row in section["rows"]] == ["A", "B"]
    first_row = section["rows"][0]["seats"]
    assert [(s["id"], s["x"], s["status"]) for s in first_row] == [
        ("A1", 0, "held"),
        ("A2", 1, "available"),
        ("A3", 3, "available"),  # the aisle after seat 2 leaves column 2 empty
        ("A4", 4, "available"),
    ]
    prices = {c["id"]: c["priceCents"] for c in layout["categories"]}
    assert sorted(prices.values()) == [1000, 1500]
    assert prices == layout["prices"]
    assert all(seat["categoryId"] in prices for row in section["rows"] for seat in row["seats"])
    bounds = layout["bounds"]
    assert (bounds["x"], bounds["x"] + bounds["width"]) == (0, 4)  # seats A1..A4 and the screen above them
    assert layout["focus"]["y"] < 0 < len(layout["shapes"])


async def test_config_tells_the_page_where_the_socket_is(running: Running) -> None:
    status, config = await call(running, "GET", "/api/config")
    assert status == 200
    assert config["websocketUrl"] == running.ws_url
    assert config["maxSeatsPerRequest"] == 10


async def test_health_and_demo_page(running: Running) -> None:
    assert await call(running, "GET", "/healthz") == (200, {"status": "ok"})
    async with running.http.get(running.http_url + "/") as response:
        assert response.status == 200
        assert "text/html" in response.headers["Content-Type"]


@pytest.mark.parametrize(
    ("method", "path", "auth", "body", "status", "code"),
    [
        ("POST", "/api/seat-locks", False, {"showtimeId": "x", "seatIds": ["A1"]}, 401, "unauthorized"),
        ("POST", "/api/seat-locks", True, "not json", 400, "invalid_message"),
        ("POST", "/api/seat-locks", True, {"showtimeId": "{showtime}"}, 400, "invalid_message"),  # no seat, no table
        ("POST", "/api/seat-locks", True, {"showtimeId": 5, "seatIds": ["A1"]}, 400, "invalid_message"),
        ("POST", "/api/seat-locks", True, {"showtime_id": "x", "seat_ids": ["A1"]}, 400, "invalid_message"),
        ("GET", "/api/showtimes/a%00b", False, None, 404, "unknown_showtime"),
        ("POST", "/api/seat-locks", True, {"showtimeId": "nope", "seatIds": ["A1"]}, 404, "unknown_showtime"),
        ("POST", "/api/seat-locks", True, {"showtimeId": "{showtime}", "seatIds": ["Z99"]}, 422, "unknown_seat"),
        ("POST", "/api/seat-locks", True, {"showtimeId": "{showtime}", "seatIds": [f"A{n}" for n in range(1, 6)] + [f"B{n}" for n in range(1, 7)]}, 422, "too_many_seats"),
        ("DELETE", "/api/seat-locks", True, {"showtimeId": "{showtime}", "seatIds": ["A1"]}, 403, "not_lock_owner"),
        ("POST", "/api/bookings", True, {"showtimeId": "{showtime}", "seatIds": ["A1"], "customer": {"name": "A", "email": "a@b.c"}}, 403, "not_lock_owner"),
        ("POST", "/api/bookings", True, {"showtimeId": "{showtime}", "seatIds": ["A1"], "customer": {"name": "A", "email": "nope"}}, 400, "invalid_message"),
        ("POST", "/api/bookings", True, {"showtimeId": "{showtime}", "seatIds": ["A1"], "customer": {"name": "A", "email": "a@b.c"}, "payment": "later"}, 400, "invalid_message"),
        ("POST", "/api/bookings", True, {"showtimeId": "{showtime}", "seatIds": ["A1"], "customer": {"name": "A", "email": "a@b.c"}, "payment": True}, 400, "invalid_message"),
        ("POST", "/api/bookings", True, {"showtimeId": "{showtime}", "seatIds": ["A1"], "customer": {"name": "A", "email": "a@b.c", "phone": "1" * 41}}, 400, "invalid_message"),
        ("POST", "/api/bookings", True, {"showtimeId": "{showtime}", "seatIds": ["A1"], "customer": {"name": "A", "email": "a@b.c"}, "notes": "x" * 2001}, 400, "invalid_message"),
        ("POST", "/api/bookings", True, {"showtimeId": "{showtime}", "seatIds": ["A1"], "customer": {"name": "A", "email": "a@b.c"}, "orderReference": ""}, 400, "invalid_message"),
        ("POST", "/api/bookings", True, {"showtimeId": "{showtime}", "seatIds": ["A1"], "customer": {"name": "A", "email": "a@b.c"}, "payment": "pending"}, 403, "not_lock_owner"),
        ("POST", "/api/bookings/bk_nope/cancel", True, {}, 404, "not_found"),
        ("POST", "/api/bookings/bk_nope/cancel", False, {}, 401, "unauthorized"),
        ("POST", "/api/bookings/bk_nope/confirm", True, {"paymentReference": "p", "provider": "x"}, 403, "forbidden"),
        ("GET", "/api/admin/bookings?email=a@b.c", True, None, 403, "forbidden"),
        ("GET", "/api/showtimes/nope", False, None, 404, "unknown_showtime"),
        ("GET", "/api/bookings/bk_nope", True, None, 404, "not_found"),
        ("GET", "/api/nothing-here", False, None, 404, "not_found"),
        ("PUT", "/api/seat-locks", True, None, 405, "method_not_allowed"),
        ("POST", "/api/seat-locks", True, {"showtimeId": "x", "seatIds": ["A" * 200_000]}, 413, "message_too_large"),
    ],
)  # fmt: skip
async def test_bad_requests_get_a_problem_body_and_change_nothing(
    running: Running, method: str, path: str, auth: bool, body: Any, status: int, code: str
) -> None:
    showtime = await running.showtime()
    _, token = await running.session()
    payload = body.replace("{showtime}", showtime) if isinstance(body, str) else body
    if isinstance(payload, dict) and payload.get("showtimeId") == "{showtime}":
        payload = {**payload, "showtimeId": showtime}
    options: dict[str, Any] = {"data": payload} if isinstance(payload, str) else {"json": payload}
    before = await call(running, "GET", f"/api/showtimes/{showtime}")

    got_status, problem = await call(running, method, path, token if auth else None, **options)

    assert got_status == status, problem
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["message"]
    assert await call(running, "GET", f"/api/showtimes/{showtime}") == before


async def test_someone_elses_booking_is_not_found(running: Running) -> None:
    showtime = await running.showtime()
    _, owner = await running.session()
    _, stranger = await running.session()
    seats = {"showtimeId": showtime, "seatIds": ["A2"]}
    await call(running, "POST", "/api/seat-locks", owner, json=seats)
    _, booked = await call(
        running, "POST", "/api/bookings", owner, json={**seats, "customer": {"name": "O", "email": "o@example.com"}}
    )
    status, problem = await call(running, "GET", f"/api/bookings/{booked['bookingId']}", stranger)
    assert (status, problem["code"]) == (404, "not_found")


async def test_openapi_describes_every_endpoint_from_the_same_models(running: Running) -> None:
    status, document = await call(running, "GET", "/api/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.1")
    assert {
        "/api/sessions",
        "/api/seat-locks",
        "/api/bookings",
        "/api/showtimes",
        "/api/showtimes/{showtime_id}",
    } <= set(document["paths"])
    lock = document["paths"]["/api/seat-locks"]["post"]
    assert lock["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/SeatsRequest")
    assert "409" in lock["responses"]
    schemas = document["components"]["schemas"]
    assert set(schemas["SeatsRequest"]["required"]) == {"showtimeId"}  # seatIds, tableIds or both
    assert {"seatIds", "tableIds"} <= set(schemas["SeatsRequest"]["properties"])
    assert "conflictingSeats" in schemas["Problem"]["properties"]
