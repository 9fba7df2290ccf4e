"""schemathesis against the live server's ``/api/openapi.json``: no 5xx, and every response as documented.

The server runs as a real process (``python -m server`` with the demo data, on SQLite and on a
PostgreSQL database of its own), because schemathesis calls the API synchronously: a server on the
test's own event loop would never get to answer. The document is loaded from the running server; each
operation of the endpoint table is one test, whose hypothesis examples (a bounded number, positive and
negative data alike) go through four checks: no server error, the body matches the documented schema,
the status code is documented, and so is the content type. Every call carries
``Authorization: Bearer <token>`` of one session from ``POST /api/sessions``.

schemathesis's own pytest integration (``schemathesis.pytest.from_fixture``) is not used: with pytest
9.2 it fails on ``Function._nodeid``. The Python API (``operation.as_strategy()``) is public and enough.

Random ids would only ever meet 404s, so hooks mix the demo showtime, its seats and a booking of the
session into what schemathesis generates: the layout, ack and booking bodies get checked too. Requests
that random generation reaches rarely are in ``EDGE_CASES``, checked the same way on every run.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from server.http import ENDPOINTS
from tests.hypothesis_output import restore_hypothesis_reports
from tests.services import create_database, drop_database

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI") == "true"
SHOWTIME = "demo-evening"  # demo data: rows A..J, seats 1..14
# Seats that meet every rule: held by another session (A1, A2), booked by ours (J14), unknown (Z99), free.
SEATS = ["A1", "A2", "J14", "Z99", "B1", "B2", "C3"]
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
MAX_MESSAGE_BYTES = 64 * 1024  # the server's default

settings.register_profile(
    "openapi-conformance",
    max_examples=20,  # per operation and backend
    deadline=None,
    derandomize=IN_CI,
    database=None if IN_CI else DirectoryBasedExampleDatabase(ROOT / ".pytest_cache" / "hypothesis"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end on a loop of its own, leaving the test session's loop alone."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


class Api:
    def __init__(self, base_url: str, token: str, booking_id: str) -> None:
        self.base_url = base_url
        self.token = token
        self.booking_id = booking_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """``python -m server`` on an empty database with the demo data, and a session with one booking."""
    folder = tmp_path_factory.mktemp("openapi")
    if request.param == "sqlite":
        database_url = f"sqlite:///{folder / 'seats.db'}"
    else:
        database_url = run_async(create_database("seats_openapi"))
    try:
        yield from _serve(folder, database_url)
    finally:
        if request.param == "postgresql":
            run_async(drop_database(database_url))


def _serve(folder: Path, database_url: str) -> Iterator[Api]:
    http_port, ws_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "SECRET_KEY"}}
    env |= {
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "HTTP_PORT": str(http_port),
        "WEBSOCKET_SERVER_PORT": str(ws_port),
        "DEMO_DATA": "true",
        "SECRET_KEY": secrets.token_hex(16),
        "MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES),
        "LOG_LEVEL": "WARNING",
        # One session makes every call: rate limits would turn most of them into 429s.
        "SEAT_CHANGES_PER_SECOND": "100000",
        "SEAT_CHANGE_BURST": "100000",
        "NEW_SESSIONS_PER_MINUTE_PER_IP": "100000",  # schemathesis calls POST /api/sessions many times
        "SHOWTIME_READS_PER_MINUTE_PER_IP": "100000",
    }
    log_path = folder / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{http_port}"
    try:
        _wait_until_healthy(base_url, process)
        yield _prepare(base_url)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # A traceback in the server's log is a failure even when the client saw a tidy answer.
    output = log_path.read_text()
    assert "Traceback" not in output, output


def _wait_until_healthy(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}")
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail("the server did not become healthy")


def _prepare(base_url: str) -> Api:
    """Our session books J14; another holds A1 and A2, so that conflicts can happen."""

    def session() -> dict[str, str]:
        token = requests.post(f"{base_url}/api/sessions", timeout=10).json()["token"]
        return {"Authorization": f"Bearer {token}"}

    def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        response = requests.post(f"{base_url}{path}", json=body, headers=headers, timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    ours, theirs = session(), session()
    post("/api/seat-locks", {"showtimeId": SHOWTIME, "seatIds": ["A1", "A2"]}, theirs)
    seats = {"showtimeId": SHOWTIME, "seatIds": ["J14"]}
    post("/api/seat-locks", seats, ours)
    booked = post("/api/bookings", {**seats, "customer": {"name": "Ada", "email": "ada@example.com"}}, ours)
    return Api(base_url, ours["Authorization"].removeprefix("Bearer "), booked["bookingId"])


@pytest.fixture(scope="module")
def api_schema(api: Api) -> Any:
    loaded = schemathesis.openapi.from_url(f"{api.base_url}/api/openapi.json", timeout=10)
    loaded.config.update(base_url=api.base_url)

    @loaded.hook
    def flatmap_path_parameters(
        context: Any, parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        if not parameters:
            return st.just(parameters)
        real = dict(parameters)
        if "showtime_id" in real:
            real["showtime_id"] = SHOWTIME
        if "booking_id" in real:
            real["booking_id"] = api.booking_id
        return st.sampled_from([real, parameters])

    @loaded.hook
    def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
        if not isinstance(body, dict) or "seatIds" not in body:
            return st.just(body)
        seats = st.lists(st.sampled_from(SEATS), min_size=1, max_size=4) | st.just([f"C{n}" for n in range(1, 13)])
        return st.one_of(seats.map(lambda seats: {**body, "showtimeId": SHOWTIME, "seatIds": seats}), st.just(body))

    return loaded


OPERATIONS = [(endpoint.method, endpoint.path) for endpoint in ENDPOINTS]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_response_is_documented_and_no_server_error(api: Api, api_schema: Any, method: str, path: str) -> None:
    operation = api_schema[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(settings.get_profile("openapi-conformance"))
    def conforms(case: Any) -> None:
        restore_hypothesis_reports()
        case.call_and_validate(headers=api.headers, checks=CHECKS, timeout=10)

    conforms()


OVERSIZED = {"showtimeId": SHOWTIME, "seatIds": ["B5"], "pad": "x" * MAX_MESSAGE_BYTES}
# (name, method, path, what schemathesis's Case gets): requests random generation rarely makes.
EDGE_CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("NUL in a showtime id", "GET", "/api/showtimes/{showtime_id}", {"path_parameters": {"showtime_id": "a\x00"}}),
    ("NUL in a booking id", "GET", "/api/bookings/{booking_id}", {"path_parameters": {"booking_id": "a\x00"}}),
    ("NUL in a locked showtime", "POST", "/api/seat-locks", {"body": {"showtimeId": "a\x00", "seatIds": ["A1"]}}),
    ("NUL in a seat id", "POST", "/api/seat-locks", {"body": {"showtimeId": SHOWTIME, "seatIds": ["A\x00"]}}),
    ("a body over MAX_MESSAGE_BYTES, locking", "POST", "/api/seat-locks", {"body": OVERSIZED}),
    ("a body over MAX_MESSAGE_BYTES, unlocking", "DELETE", "/api/seat-locks", {"body": OVERSIZED}),
    ("a body over MAX_MESSAGE_BYTES, booking", "POST", "/api/bookings", {"body": OVERSIZED}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "case"), [c[1:] for c in EDGE_CASES], ids=[c[0] for c in EDGE_CASES])
def test_edge_cases_are_documented_answers(
    api: Api, api_schema: Any, method: str, path: str, case: dict[str, Any]
) -> None:
    api_schema[path][method].Case(**case).call_and_validate(headers=api.headers, checks=CHECKS, timeout=10)
