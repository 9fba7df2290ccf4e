"""The admin API and the command line end to end, on both databases: layouts in, showtimes set up, seats blocked,
prices changed under running instances, and every bad request refused with a 4xx that names what is wrong."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from server.demo import EXAMPLES, example_layout
from tests.conftest import Running, StartServer

KEY = "operator-key-for-tests"
LAYOUTS = EXAMPLES / "layouts"
NATIVE = ["banquet-hall", "coach", "demo-cinema", "theatre"]
ROOT = Path(__file__).resolve().parents[2]
HOUR = 3_600_000
THEATRE_PRICES = {"premium": 5000, "stalls": 3500, "balcony": 2000, "box": 9000}


async def call(
    running: Running, method: str, path: str, token: str | None = KEY, **kwargs: Any
) -> tuple[int, Any, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with running.http.request(method, running.http_url + path, headers=headers, **kwargs) as response:
        return response.status, await response.json(content_type=None), dict(response.headers)


@pytest.fixture
async def admin(start_server: StartServer) -> Running:
    return await start_server(admin_api_key=KEY)


async def import_layout(running: Running, name: str, **query: str) -> dict[str, Any]:
    pretix = name.startswith("pretix")
    params = query | ({"format": "pretix"} if pretix else {})
    status, body, _ = await call(
        running, "POST", "/api/admin/layouts", data=(LAYOUTS / f"{name}.json").read_bytes(), params=params
    )
    assert status == 201, body
    return dict(body)


async def theatre_showtime(running: Running, **terms: Any) -> str:
    layout = await import_layout(running, "theatre")
    body = {"layoutId": layout["layoutId"], "title": "Hamlet", "startsAt": HOUR, "prices": THEATRE_PRICES} | terms
    status, created, _ = await call(running, "POST", "/api/admin/showtimes", json=body)
    assert status == 201, created
    return str(created["id"])


async def book(running: Running, showtime: str, seats: list[str]) -> tuple[int, Any]:
    _, token = await running.session()
    selection = {"showtimeId": showtime, "seatIds": seats}
    status, locked, _ = await call(running, "POST", "/api/seat-locks", token, json=selection)
    assert status == 200, locked
    customer = {"name": "Ada", "email": "ada@example.com"}
    status, booked, _ = await call(running, "POST", "/api/bookings", token, json=selection | {"customer": customer})
    return status, booked


# --- layouts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*NATIVE, "pretix-kleiner-saal"])
async def test_each_example_imports_through_the_api_and_reads_back(admin: Running, name: str) -> None:
    imported = await import_layout(admin, name, hallName="Hall of " + name)
    assert imported["version"] == 1
    assert imported["seatCount"] > 0
    assert imported["categories"]
    assert all(set(c) == {"id", "name"} for c in imported["categories"])
    if not name.startswith("pretix"):
        assert imported["seatCount"] == len(example_layout(name).seats())
    else:  # a pretix category's id is its name
        assert all(c["id"] == c["name"] for c in imported["categories"])

    status, document, _ = await call(admin, "GET", f"/api/admin/layouts/{imported['layoutId']}")
    assert status == 200
    assert {"sections", "categories"} <= set(document)
    seats = [seat for section in document["sections"] for row in section["rows"] for seat in row["seats"]]
    assert len(seats) == imported["seatCount"]
    # What comes back imports again, as the hall's next version, with the same seats.
    status, again, _ = await call(
        admin, "POST", "/api/admin/layouts", json=document, params={"hallId": imported["hallId"]}
    )
    assert status == 201, again
    assert (again["hallId"], again["venueId"], again["version"]) == (imported["hallId"], imported["venueId"], 2)
    assert again["seatCount"] == imported["seatCount"]

    status, listed, _ = await call(admin, "GET", "/api/admin/layouts")
    mine = [layout for layout in listed if layout["hallId"] == imported["hallId"]]
    assert [(layout["version"], layout["hallName"]) for layout in mine] == [
        (1, "Hall of " + name),
        (2, "Hall of " + name),
    ]


async def test_the_layout_schema_is_public(admin: Running) -> None:
    status, schema, _ = await call(admin, "GET", "/api/layout.schema.json", token=None)
    assert status == 200
    assert schema["title"] == "Hall layout"
    assert {"sections", "categories"} <= set(schema["properties"])


async def run_cli(tmp_path: Path, database_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", *args, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, stdout.decode().strip(), stderr.decode()


async def test_each_example_imports_through_the_command_line(admin: Running, database_url: str, tmp_path: Path) -> None:
    for name in [*NATIVE, "pretix-kleiner-saal"]:
        pretix = ["--format", "pretix"] if name.startswith("pretix") else []
        code, layout_id, stderr = await run_cli(
            tmp_path, database_url, "layout", "import", str(LAYOUTS / f"{name}.json"), *pretix, "--hall", f"cli-{name}"
        )
        assert code == 0, stderr
        status, document, _ = await call(admin, "GET", f"/api/admin/layouts/{layout_id}")
        assert status == 200, document

    code, showtime_id, stderr = await run_cli(
        tmp_path, database_url, "showtime", "create", "--hall", "cli-theatre", "--title", "Hamlet",
        "--starts-at", "2030-05-01T19:30:00+02:00", "--price", "stalls=3000", "--price", "box=8000", "--currency", "GBP",
    )  # fmt: skip
    assert code == 0, stderr
    status, shown, _ = await call(admin, "GET", f"/api/showtimes/{showtime_id}", token=None)
    assert status == 200
    assert (shown["startsAt"], shown["currency"], shown["prices"]) == (
        datetime(2030, 5, 1, 17, 30, tzinfo=UTC).timestamp() * 1000, "GBP", {"stalls": 3000, "box": 8000},
    )  # fmt: skip


async def test_the_command_line_refuses_bad_files_and_prices_with_their_paths(
    database_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    rows = [
        {
            "label": "A",
            "seats": [{"id": "A1", "label": "1", "x": 0, "y": 0}, {"id": "A1", "label": "2", "x": 1, "y": 0}],
        }
    ]
    bad.write_text(
        json.dumps(
            {
                "categories": [{"id": "a", "name": "A"}],
                "sections": [{"id": "s", "name": "S", "category": "a", "rows": rows}],
            }
        )
    )
    code, _, stderr = await run_cli(tmp_path, database_url, "layout", "import", str(bad))
    assert code == 2
    assert "sections[0].rows[0].seats[1]: duplicate seat id A1" in stderr

    code, layout_id, _ = await run_cli(tmp_path, database_url, "layout", "import", str(LAYOUTS / "coach.json"))
    assert code == 0
    code, _, stderr = await run_cli(
        tmp_path, database_url, "showtime", "create", "--layout", layout_id, "--title", "Trip",
        "--starts-at", "2030-01-01", "--price", "gold=100",
    )  # fmt: skip
    assert code == 2
    assert "prices.gold: no category gold" in stderr


# --- showtimes ----------------------------------------------------------------------------------------------


async def test_a_showtime_created_is_listed_and_drawn_with_its_prices(admin: Running) -> None:
    layout = await import_layout(admin, "theatre", venueName="The Old Vic", hallName="Main house")
    body = {
        "layoutId": layout["layoutId"], "title": "Hamlet", "startsAt": 2 * HOUR, "currency": "GBP",
        "prices": THEATRE_PRICES, "salesOpenAt": 0, "salesCloseAt": 2 * HOUR, "id": "hamlet-1",
    }  # fmt: skip
    status, created, _ = await call(admin, "POST", "/api/admin/showtimes", json=body)
    assert status == 201, created
    assert created == body | {"venue": "The Old Vic", "hall": "Main house"}

    status, listed, _ = await call(admin, "GET", "/api/showtimes", token=None)
    assert ("hamlet-1", "The Old Vic", 420) in [(s["id"], s["venue"], s["seatCount"]) for s in listed]
    status, drawn, _ = await call(admin, "GET", "/api/showtimes/hamlet-1", token=None)
    assert drawn["prices"] == THEATRE_PRICES
    statuses = {seat["id"]: seat["status"] for s in drawn["sections"] for r in s["rows"] for seat in r["seats"]}
    assert (statuses["L1"], statuses["L24"], statuses["A1"]) == ("blocked", "blocked", "available")  # the pillars

    status, again, _ = await call(admin, "POST", "/api/admin/showtimes", json=body)
    assert (status, again["code"]) == (409, "showtime_exists")


async def test_blocks_are_broadcast_and_refuse_locks(admin: Running) -> None:
    showtime = await theatre_showtime(admin)
    watcher, buyer = await admin.client(), await admin.client()
    await watcher.request("subscribe", showtimeId=showtime)
    await watcher.next_pushed("current_seat_status")

    blocks = f"/api/admin/showtimes/{showtime}/blocks"
    status, blocked, _ = await call(admin, "POST", blocks, json={"seatIds": ["C5", "C6"], "reason": "camera"})
    assert (status, blocked["action"], blocked["seatIds"]) == (200, "block", ["C5", "C6"])
    changes = await watcher.changes(2)
    assert [(c["seatId"], c["status"]) for c in changes] == [("C5", "blocked"), ("C6", "blocked")]

    refused = await buyer.request("lock", showtimeId=showtime, seatIds=["C6"])
    assert (refused["code"], refused["conflictingSeats"]) == ("seat_blocked", ["C6"])

    status, unblocked, _ = await call(admin, "DELETE", blocks, json={"seatIds": ["C6"]})
    assert (status, unblocked["action"]) == (200, "unblock")
    [change] = await watcher.changes(1)
    assert (change["seatId"], change["status"]) == ("C6", "unlocked")
    assert (await buyer.request("lock", showtimeId=showtime, seatIds=["C6"]))["type"] == "ack"


async def test_a_table_is_locked_whole_over_the_socket_and_rest_and_never_seat_by_seat(admin: Running) -> None:
    showtime = await theatre_showtime(admin)
    buyer = await admin.client()
    locked = await buyer.request("lock", showtimeId=showtime, tableIds=["box-1"])
    assert (locked["type"], locked["seatIds"]) == ("ack", ["BOX1-1", "BOX1-2", "BOX1-3", "BOX1-4"])

    _, token = await admin.session()
    status, rest, _ = await call(
        admin, "POST", "/api/seat-locks", token, json={"showtimeId": showtime, "tableIds": ["box-2"]}
    )
    assert (status, len(rest["seatIds"])) == (200, 4)

    alone = await buyer.request("lock", showtimeId=showtime, seatIds=["BOX3-1"])
    assert (alone["code"], alone["conflictingSeats"]) == ("table_only", ["BOX3-1"])
    status, problem, _ = await call(
        admin, "POST", "/api/seat-locks", token, json={"showtimeId": showtime, "seatIds": ["BOX3-2"]}
    )
    assert (status, problem["code"]) == (422, "table_only")


async def test_the_sales_window_opens_and_closes_locking(admin: Running) -> None:
    showtime = await theatre_showtime(admin, salesOpenAt=10**13)  # opens in a few centuries
    buyer = await admin.client()
    assert (await buyer.request("lock", showtimeId=showtime, seatIds=["A1"]))["code"] == "sales_closed"
    status, patched, _ = await call(admin, "PATCH", f"/api/admin/showtimes/{showtime}", json={"salesOpenAt": None})
    assert status == 200
    assert "salesOpenAt" not in patched
    assert (await buyer.request("lock", showtimeId=showtime, seatIds=["A1"]))["type"] == "ack"
    await call(admin, "PATCH", f"/api/admin/showtimes/{showtime}", json={"salesCloseAt": 1})
    assert (await buyer.request("lock", showtimeId=showtime, seatIds=["A2"]))["code"] == "sales_closed"


async def test_a_new_price_is_charged_at_once_on_every_instance(start_server: StartServer) -> None:
    first = await start_server(admin_api_key=KEY)
    second = await start_server(admin_api_key=KEY)
    showtime = await theatre_showtime(first)
    status, booked = await book(second, showtime, ["A1"])  # row A is in the stalls
    assert (status, booked["totalCents"]) == (201, THEATRE_PRICES["stalls"])

    status, patched, _ = await call(
        first, "PATCH", f"/api/admin/showtimes/{showtime}", json={"prices": {"stalls": 6100}}
    )
    assert status == 200
    assert patched["prices"] == THEATRE_PRICES | {"stalls": 6100}
    for instance, seat in ((second, "A2"), (first, "A3")):
        status, booked = await book(instance, showtime, [seat])
        assert (status, booked["totalCents"]) == (201, 6100)


async def test_only_a_showtime_nobody_booked_can_be_deleted(admin: Running) -> None:
    empty, sold = await theatre_showtime(admin), await theatre_showtime(admin)
    _, token = await admin.session()
    await call(
        admin, "POST", "/api/seat-locks", token, json={"showtimeId": empty, "seatIds": ["B1"]}
    )  # a hold is no sale
    await book(admin, sold, ["B2"])

    status, deleted, _ = await call(admin, "DELETE", f"/api/admin/showtimes/{empty}")
    assert (status, deleted["id"]) == (200, empty)
    status, gone, _ = await call(admin, "GET", f"/api/showtimes/{empty}", token=None)
    assert (status, gone["code"]) == (404, "unknown_showtime")
    status, problem, _ = await call(admin, "DELETE", f"/api/admin/showtimes/{sold}")
    assert (status, problem["code"]) == (409, "has_bookings")
    status, _, _ = await call(admin, "GET", f"/api/showtimes/{sold}", token=None)
    assert status == 200


# --- who may ------------------------------------------------------------------------------------------------

ADMIN_CALLS = [
    ("POST", "/api/admin/layouts"),
    ("GET", "/api/admin/layouts"),
    ("GET", "/api/admin/layouts/lay_x"),
    ("POST", "/api/admin/showtimes"),
    ("PATCH", "/api/admin/showtimes/st_x"),
    ("DELETE", "/api/admin/showtimes/st_x"),
    ("POST", "/api/admin/showtimes/st_x/blocks"),
    ("DELETE", "/api/admin/showtimes/st_x/blocks"),
]


@pytest.mark.parametrize("configured_key", [KEY, ""])
async def test_admin_calls_need_the_key_and_refuse_buyers(start_server: StartServer, configured_key: str) -> None:
    running = await start_server(admin_api_key=configured_key)
    _, buyer_token = await running.session()
    for method, path in ADMIN_CALLS:
        status, problem, headers = await call(running, method, path, token=None, json={})
        assert (status, problem["code"], headers["WWW-Authenticate"]) == (401, "unauthorized", "Bearer"), path
        status, problem, headers = await call(running, method, path, token="not-the-key", json={})
        assert (status, headers["WWW-Authenticate"]) == (401, 'Bearer error="invalid_token"'), path
        status, problem, _ = await call(running, method, path, token=buyer_token, json={})
        assert (status, problem["code"]) == (403, "forbidden"), path
        status, problem, _ = await call(running, method, path, token="", json={})  # an empty key opens nothing
        assert status == 401, path
        if configured_key:
            status, _, _ = await call(running, method, path, json={})
            assert status not in (401, 403), path


# --- refusals -----------------------------------------------------------------------------------------------


def hundred_thousand_seats() -> dict[str, Any]:
    row = {"label": "A", "from": 1, "to": 100_000, "start": {"x": 0, "y": 0}, "spacing": 1}
    return {
        "categories": [{"id": "a", "name": "A"}],
        "sections": [{"id": "s", "name": "S", "category": "a", "rows": [row]}],
    }


def pretix_seats_outside_rows() -> dict[str, Any]:
    plan = json.loads((LAYOUTS / "pretix-kleiner-saal.json").read_text())
    plan["zones"][0]["seats"] = [
        {"seat_guid": "X1", "seat_number": "1", "position": {"x": 0, "y": 0}, "category": "Loge"}
    ]
    return dict(plan)


async def test_bad_requests_are_4xx_problems_naming_what_is_wrong(admin: Running) -> None:
    showtime = await theatre_showtime(admin)
    layout_id = (await import_layout(admin, "theatre"))["layoutId"]
    other_hall = next(
        s.id for s in example_layout("coach").seats() if s.id not in {t.id for t in example_layout("theatre").seats()}
    )
    blocks = f"/api/admin/showtimes/{showtime}/blocks"
    new = {"layoutId": layout_id, "title": "Hamlet", "startsAt": HOUR}
    _, buyer = await admin.session()
    # method, path, token, request, status, code, what the message or an error's path names
    cases: list[tuple[str, str, str, dict[str, Any], int, str, str]] = [
        ("POST", blocks, KEY, {"json": {"tableIds": ["nope"]}}, 422, "unknown_table", "nope"),
        ("POST", blocks, KEY, {"json": {"seatIds": ["BOX1-1"], "tableIds": ["box-1"]}}, 400, "invalid_message", "BOX1-1"),
        ("POST", blocks, KEY, {"json": {"seatIds": [other_hall]}}, 422, "unknown_seat", other_hall),
        ("POST", "/api/seat-locks", buyer, {"json": {"showtimeId": showtime, "seatIds": ["L1"]}}, 409, "seat_blocked", "L1"),
        ("POST", "/api/admin/layouts", KEY, {"json": hundred_thousand_seats()}, 422, "invalid_layout", "100000 seats, more than the limit of 50000"),
        ("POST", "/api/admin/layouts", KEY, {"data": io.BytesIO(b" " * (10 * 1024 * 1024))}, 413, "message_too_large", ""),
        ("POST", "/api/admin/layouts?format=pretix", KEY, {"json": pretix_seats_outside_rows()}, 422, "invalid_layout", "zones[0].seats"),
        ("POST", "/api/admin/layouts?format=svg", KEY, {"json": {}}, 422, "invalid_value", "format"),
        ("POST", "/api/admin/layouts", KEY, {"data": b"{not json"}, 422, "invalid_layout", "not a JSON document"),
        ("POST", "/api/admin/showtimes", KEY, {"json": new | {"prices": {"gold": 100}}}, 422, "invalid_value", "prices.gold"),
        ("POST", "/api/admin/showtimes", KEY, {"json": new | {"prices": {"stalls": -1}}}, 422, "invalid_value", "prices.stalls"),
        ("POST", "/api/admin/showtimes", KEY, {"json": new | {"prices": {}, "salesOpenAt": 5, "salesCloseAt": 4}}, 422, "invalid_value", "salesCloseAt"),
        ("POST", "/api/admin/showtimes", KEY, {"json": new | {"prices": {}, "layoutId": "lay_none"}}, 404, "unknown_layout", "lay_none"),
        ("POST", "/api/admin/showtimes", KEY, {"json": new | {"prices": {}, "currency": "euro"}}, 400, "invalid_message", "currency"),
        ("POST", "/api/admin/showtimes", KEY, {"json": new}, 400, "invalid_message", "prices"),
        ("PATCH", f"/api/admin/showtimes/{showtime}", KEY, {"json": {"prices": {"box": -5}}}, 422, "invalid_value", "prices.box"),
        ("PATCH", "/api/admin/showtimes/st_none", KEY, {"json": {"title": "X"}}, 404, "unknown_showtime", "st_none"),
        ("DELETE", f"{blocks}", KEY, {"json": {"seatIds": ["A1"]}}, 409, "not_blocked", "A1"),
        ("GET", "/api/admin/layouts/lay_none", KEY, {}, 404, "unknown_layout", "lay_none"),
    ]  # fmt: skip
    for method, path, token, request, expected_status, code, named in cases:
        status, problem, _ = await call(admin, method, path, token, **request)
        assert (status, problem["code"], problem["status"]) == (expected_status, code, expected_status), (path, problem)
        paths = [error["path"] for error in problem.get("errors", [])]
        assert named in problem["message"] or named in paths, (path, problem)
    # Nothing refused changed anything: the theatre's seats are as created.
    status, drawn, _ = await call(admin, "GET", f"/api/showtimes/{showtime}", token=None)
    assert drawn["seq"] == 0


async def test_layout_errors_are_listed_with_their_paths(admin: Running) -> None:
    rows = [
        {
            "label": "B",
            "seats": [{"id": "B-12", "label": "12", "x": 0, "y": 0}, {"id": "B-12", "label": "13", "x": 1, "y": 0}],
        }
    ]
    document = {
        "categories": [{"id": "a", "name": "A"}],
        "sections": [{"id": "s", "name": "S", "category": "gold", "rows": rows}],
    }
    status, problem, _ = await call(admin, "POST", "/api/admin/layouts", json=document)
    assert (status, problem["code"]) == (422, "invalid_layout")
    errors = {(error["path"], error["message"]) for error in problem["errors"]}
    assert ("sections[0].rows[0].seats[1]", "duplicate seat id B-12 (first at sections[0].rows[0].seats[0])") in errors
    assert "sections[0].rows[0].seats[1]: duplicate seat id B-12" in problem["message"]
