"""A client generated from the served OpenAPI document by a standard generator works against a live server.

``openapi-python-client`` (a dev dependency) writes the client into a temporary folder; the test imports it
and holds seats, meets a conflict and books through it, every answer parsed into the generated models.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Running


@pytest.fixture
def generated_package(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """Where to generate, and a package name of its own, forgotten again afterwards."""
    name = f"seat_client_{secrets.token_hex(4)}"
    sys.path.insert(0, str(tmp_path))
    yield tmp_path, name
    sys.path.remove(str(tmp_path))
    for module in [module for module in sys.modules if module.split(".")[0] == name]:
        del sys.modules[module]


async def generate_client(running: Running, folder: Path, package: str) -> tuple[str, Any]:
    """The document's server URL and the generated package, imported."""
    async with running.http.get(f"{running.http_url}/api/openapi.json") as response:
        document = await response.json()
    (folder / "openapi.json").write_text(json.dumps(document))
    (folder / "config.json").write_text(json.dumps({"package_name_override": package, "post_hooks": []}))
    generator = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openapi_python_client", "generate", "--meta", "none",
        "--path", str(folder / "openapi.json"), "--output-path", str(folder / package),
        "--config", str(folder / "config.json"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = (await asyncio.wait_for(generator.communicate(), 120))[0].decode()
    assert generator.returncode == 0, output
    assert "Warning" not in output, output  # every part of the document was understood
    return document["servers"][0]["url"], importlib.import_module(package)


def module(package: Any, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


async def test_a_generated_client_holds_meets_a_conflict_and_books(
    running: Running, generated_package: tuple[Path, str]
) -> None:
    showtime = await running.showtime()
    server_url, client = await generate_client(running, *generated_package)
    assert server_url == running.http_url
    sessions, seats = module(client, "api.sessions.create_session"), module(client, "api.seats.lock_seats")
    bookings, models = module(client, "api.bookings"), module(client, "models")
    book, get_booking = module(bookings, "create_booking"), module(bookings, "get_booking")

    async with client.Client(base_url=server_url) as anonymous:
        ours, theirs = [await sessions.asyncio(client=anonymous) for _ in range(2)]
    assert isinstance(ours, models.SessionCreated)
    async with (
        client.AuthenticatedClient(base_url=server_url, token=ours.token) as buyer,
        client.AuthenticatedClient(base_url=server_url, token=theirs.token) as rival,
    ):
        held = await seats.asyncio_detailed(
            client=buyer, body=models.SeatsRequest(showtime_id=showtime, seat_ids=["A1", "A2"])
        )
        assert held.status_code == 200
        assert isinstance(held.parsed, models.Ack)
        assert (held.parsed.action, held.parsed.seat_ids) == (models.AckAction.LOCK, ["A1", "A2"])

        conflict = await seats.asyncio_detailed(
            client=rival, body=models.SeatsRequest(showtime_id=showtime, seat_ids=["A2", "A3"])
        )
        assert conflict.status_code == 409
        assert isinstance(conflict.parsed, models.Problem)
        assert (conflict.parsed.code, conflict.parsed.conflicting_seats) == (models.ErrorCode.SEAT_UNAVAILABLE, ["A2"])

        customer = models.Customer(name="Ada Lovelace", email="ada@example.com")
        booked = await book.asyncio_detailed(
            client=buyer, body=models.BookingRequest(showtime_id=showtime, seat_ids=["A1"], customer=customer)
        )
        assert booked.status_code == 201
        assert isinstance(booked.parsed, models.Ack)
        assert isinstance(booked.parsed.booking_id, str)
        booking = await get_booking.asyncio(booked.parsed.booking_id, client=buyer)
        assert isinstance(booking, models.BookingView)
        assert (booking.showtime_id, booking.seat_ids, booking.customer.email) == (showtime, ["A1"], customer.email)

    async with client.AuthenticatedClient(base_url=server_url, token=ours.token + "x") as forger:
        refused = await seats.asyncio_detailed(
            client=forger, body=models.SeatsRequest(showtime_id=showtime, seat_ids=["A4"])
        )
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.Problem)
    assert refused.parsed.code == models.ErrorCode.UNAUTHORIZED
