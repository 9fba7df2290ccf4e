"""GET /api/showtimes/{id} over HTTP: validators and 304, gzip, a read limit per address, statuses kept current."""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from typing import Any

import orjson

from tests.conftest import Running, StartServer


async def get(running: Running, showtime: str, **headers: str) -> tuple[int, Mapping[str, str], bytes]:
    """Status, headers and the body as sent (never decompressed)."""
    url = f"{running.http_url}/api/showtimes/{showtime}"
    async with running.http.get(url, headers=headers, auto_decompress=False) as response:
        return response.status, response.headers.copy(), await response.read()  # any case, as HTTP has it


def statuses(body: bytes) -> dict[str, str]:
    sections = orjson.loads(body)["sections"]
    return {seat["id"]: seat["status"] for section in sections for row in section["rows"] for seat in row["seats"]}


async def lock(running: Running, showtime: str, seats: list[str]) -> None:
    _, token = await running.session()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"showtimeId": showtime, "seatIds": seats}
    async with running.http.post(f"{running.http_url}/api/seat-locks", json=body, headers=headers) as response:
        assert response.status == 200


async def test_a_client_with_the_current_map_gets_304_until_a_seat_changes(running: Running) -> None:
    showtime = await running.showtime()
    status, headers, body = await get(running, showtime, **{"Accept-Encoding": "identity"})
    assert (status, headers["Cache-Control"], headers["Content-Type"]) == (
        200,
        "no-cache",
        "application/json; charset=utf-8",
    )
    etag = headers["ETag"]
    assert statuses(body)["B2"] == "available"

    status, headers, body = await get(running, showtime, **{"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert (status, headers["ETag"], body) == (304, etag, b"")

    await lock(running, showtime, ["B2"])
    status, headers, body = await get(running, showtime, **{"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert status == 200
    assert headers["ETag"] != etag
    assert (statuses(body)["B2"], orjson.loads(body)["seq"]) == ("held", 1)


async def test_the_map_is_gzipped_for_clients_that_accept_it(running: Running) -> None:
    showtime = await running.showtime(rows=20, seats_per_row=20)
    await lock(running, showtime, ["C7"])
    _, plain_headers, plain = await get(running, showtime, **{"Accept-Encoding": "identity"})
    status, headers, packed = await get(running, showtime, **{"Accept-Encoding": "gzip, deflate", "Origin": "http://x"})
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    assert "Content-Encoding" not in plain_headers
    assert gzip.decompress(packed) == plain
    assert len(packed) < len(plain) / 4
    assert headers["ETag"] != plain_headers["ETag"]  # one representation each
    assert {part.strip() for part in headers["Vary"].split(",")} == {"Accept-Encoding", "Origin"}
    assert statuses(plain)["C7"] == "held"


async def test_each_showtime_gets_its_own_map(running: Running) -> None:
    small, large = await running.showtime(rows=2, seats_per_row=3), await running.showtime(rows=4, seats_per_row=6)
    for showtime, seats in [(small, 6), (large, 24), (small, 6), (large, 24)]:
        status, _, body = await get(running, showtime, **{"Accept-Encoding": "identity"})
        document: dict[str, Any] = orjson.loads(body)
        assert (status, document["id"], document["seatCount"], len(statuses(body))) == (200, showtime, seats, seats)


async def test_reads_are_limited_per_client_address(start_server: StartServer) -> None:
    running = await start_server(showtime_reads_per_minute_per_ip=2, trusted_proxies="127.0.0.1")
    showtime = await running.showtime()
    buyer = {"X-Forwarded-For": "198.51.100.7"}
    assert [(await get(running, showtime, **buyer))[0] for _ in range(2)] == [200, 200]
    status, headers, body = await get(running, showtime, **buyer)
    assert (status, orjson.loads(body)["code"]) == (429, "rate_limited")
    assert 1 <= int(headers["Retry-After"]) <= 30
    assert (await get(running, showtime, **{"X-Forwarded-For": "198.51.100.8"}))[0] == 200  # someone else
