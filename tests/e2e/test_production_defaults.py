"""What the defaults give an operator and a client: no demo showtimes in production, refusals that say why."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from server.app import SeatServer
from tests import conftest
from tests.conftest import Running, StartServer
from tests.services import create_database, drop_database

DEMO_SHOWTIMES = {"demo-matinee", "demo-evening", "demo-theatre"}


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of this test's own: demo showtimes another test created must not count."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'seats.db'}"
        return
    url = await create_database("seats_defaults")
    yield url
    await drop_database(url)


@pytest.mark.parametrize("demo_data", [None, True, False])
async def test_demo_showtimes_are_created_on_sqlite_unless_asked_otherwise_and_on_postgresql_only_when_asked(
    empty_database: str, demo_data: bool | None
) -> None:
    server = SeatServer(conftest.test_settings(empty_database, demo_data=demo_data))
    await server.start()
    try:
        showtimes = {showtime.id for showtime in await server.service.showtimes()}
    finally:
        await server.stop()
    expected = demo_data if demo_data is not None else empty_database.startswith("sqlite")
    assert showtimes == (DEMO_SHOWTIMES if expected else set())


@pytest.mark.parametrize(
    ("path", "origin", "settings", "code", "status"),
    [
        ("/elsewhere?token=secret", None, {}, "not_found", 404),
        ("/ws/seat-updates", "https://evil.example", {}, "origin_not_allowed", 403),
        ("/ws/seat-updates", None, {"max_connections_per_ip": 1}, "too_many_connections", 429),
        ("/ws/seat-updates", None, {"new_sessions_per_minute_per_ip": 1}, "rate_limited", 429),
    ],
)
async def test_a_refused_handshake_is_logged_with_its_reason_and_client(
    start_server: StartServer,
    caplog: pytest.LogCaptureFixture,
    path: str,
    origin: str | None,
    settings: dict[str, object],
    code: str,
    status: int,
) -> None:
    running = await start_server(**settings)
    first = await running.client()  # uses up the address's one connection or one new session
    caplog.set_level(logging.INFO, logger="server.websocket")
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"ws://127.0.0.1:{running.server.websocket_port}{path}", origin=origin)  # type: ignore[arg-type]
    assert refused.value.response.status_code == status
    logged = [record for record in caplog.records if getattr(record, "code", None) == code]
    assert len(logged) == 1, caplog.text
    line = logged[0]
    assert (line.levelno, line.ip, line.status, line.path) == (logging.INFO, "127.0.0.1", status, path.split("?")[0])  # type: ignore[attr-defined]
    assert f"{status} {code}" in line.getMessage()
    assert "secret" not in caplog.text  # the token in a query is never logged
    await first.close()


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, "Bearer"),
        ("Basic dXNlcjpwYXNz", "Bearer"),
        ("Bearer not-a-token", 'Bearer error="invalid_token"'),
    ],
)
async def test_unauthorized_answers_carry_a_bearer_challenge(
    running: Running, authorization: str | None, challenge: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    body = {"showtimeId": "demo-evening", "seatIds": ["A1"]}
    async with running.http.post(f"{running.http_url}/api/seat-locks", json=body, headers=headers) as response:
        problem = await response.json(content_type=None)
        assert (response.status, problem["code"]) == (401, "unauthorized")
        assert response.headers.getall("WWW-Authenticate") == [challenge]


async def test_an_expired_token_is_an_invalid_token(start_server: StartServer) -> None:
    running = await start_server(session_ttl_seconds=60)
    _, token = await running.session()
    session_id, _, signed = token.partition(".")
    _, _, signature = signed.partition(".")
    stale = f"{session_id}.1.{signature}"  # expired long ago (and no longer matching its signature)
    headers = {"Authorization": f"Bearer {stale}"}
    async with running.http.get(f"{running.http_url}/api/bookings/bk_x", headers=headers) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/seat-locks", {"DELETE", "POST"}),
        ("DELETE", "/api/showtimes", {"GET"}),
        ("GET", "/api/sessions", {"POST"}),
    ],
)
async def test_a_wrong_method_is_method_not_allowed_naming_the_allowed_ones(
    running: Running, method: str, path: str, allowed: set[str]
) -> None:
    async with running.http.request(method, f"{running.http_url}{path}") as response:
        problem = await response.json(content_type=None)
        assert (response.status, problem["code"], problem["status"]) == (405, "method_not_allowed", 405)
        assert {name.strip() for name in response.headers["Allow"].split(",")} == allowed
