"""Property-based tests: arbitrary and hostile WebSocket frames against a live server.

Whatever a client sends, the server answers each frame with exactly one answer that is a valid frame of
the wire schema (``server.messages``), carrying the frame's requestId by the rule of docs/protocol.md
(echoed when it is valid and the frame is JSON, null when either is not, none when it has none): the reply
its type calls for, or an ``error`` with a code that fits (``invalid_message`` for what the schema
refuses, ``message_too_large`` past ``MAX_MESSAGE_BYTES``, never ``internal_error``); it logs no failure;
anything but an ``ack`` leaves the showtime exactly as it was in the database, and an ``ack`` changes only
the seats it names, the way it says; pushed messages concern subscribed showtimes only; ``ping`` still
gets ``pong`` on the same connection after every frame. A frame past the hard ceiling (16 x
``MAX_MESSAGE_BYTES``) is not read: closing with 1009 is then the documented answer.

Three families of frames: (a) arbitrary text and binary frames, (b) arbitrary JSON values, (c) messages
of a real type made hostile: fields of the right type with hostile content (NULs, RTL marks, lone
surrogates written as JSON escapes, lengths at the limits, near-miss ids), fields of any value (huge ints,
NaN and Infinity, nesting thousands deep), fields dropped or added, the type changed, seat id lists with
duplicates, unknown ids or thousands of entries, requestIds of every JSON type, and text-level damage
(truncation, a BOM, a duplicate key). (a) and (b) exercise parsing, the same on both backends, so they run
on SQLite; (c) reaches the database and runs on SQLite and PostgreSQL.

The frames are described in ``frames`` and drawn by ``strategies``; ``oracle`` says what the server must
answer; ``live`` runs the server for these synchronous tests. Run with ``--hypothesis-show-statistics``
to see which answers the fuzzing reached, and whether their requestId was echoed, null or none.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.e2e.fuzz.frames import CUSTOMER, Deep, Frame, Json, NearShowtime, Repeat
from tests.e2e.fuzz.live import Live
from tests.e2e.fuzz.strategies import hostile_frames, json_frames, raw_frames

IN_CI = os.environ.get("CI") == "true"
ROOT = Path(__file__).resolve().parents[3]

settings.register_profile(
    "websocket-fuzz",
    max_examples=40,
    deadline=None,
    derandomize=IN_CI,
    database=None if IN_CI else DirectoryBasedExampleDatabase(ROOT / ".pytest_cache" / "hypothesis"),
    # One live server serves every example of a test, on purpose; examples are slow-ish and sometimes large.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
FUZZ = settings.get_profile("websocket-fuzz")


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    server = Live(database_url)
    try:
        yield server
    finally:
        server.close()


SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE
@FUZZ
@given(frames=st.lists(raw_frames, min_size=1, max_size=3))
def test_arbitrary_text_and_binary_frames(live: Live, frames: list[Frame]) -> None:
    live.check(frames)


@SQLITE
@FUZZ
@given(frames=st.lists(json_frames, min_size=1, max_size=3))
def test_arbitrary_json_values(live: Live, frames: list[Frame]) -> None:
    live.check(frames)


@settings(FUZZ, max_examples=FUZZ.max_examples * 2)
@given(frames=st.lists(hostile_frames, min_size=1, max_size=5))
def test_hostile_messages_of_every_type(live: Live, frames: list[Frame]) -> None:
    live.check(frames)


# Frames that found bugs, kept as plain cases so that they run on every run and on both backends, while
# the property tests keep exploring (explicit @example failures would stop hypothesis before it generates).
FOUND: list[tuple[str, list[Frame]]] = [
    ("requestId of an invalid message nested past 1024", [Json({"type": "ping", "requestId": "r", "x": Deep(1024, "list")})]),
    ("requestId 2**64 of an invalid message", [Json({"type": "lock", "requestId": 2**64})]),
    ("requestId -(2**63)-1 of an invalid message", [Json({"type": "lock", "requestId": -(2**63) - 1})]),
    ("over MAX_MESSAGE_BYTES in bytes, not in characters", [Json({"type": "ping", "requestId": "r", "pad": Repeat("\u20ac", 22_000)})]),
    ("NUL in a subscribed showtime id", [Json({"type": "subscribe", "showtimeId": "\x00", "requestId": "r"})]),
    ("NUL in a locked showtime id", [Json({"type": "lock", "showtimeId": "a\x00", "seatIds": ["A3"], "requestId": "r"})]),
    ("NUL near the real showtime id", [Json({"type": "book", "showtimeId": NearShowtime("", "\x00", False), "seatIds": ["A2"], "customer": CUSTOMER})]),
]  # fmt: skip


@pytest.mark.parametrize("frames", [case[1] for case in FOUND], ids=[case[0] for case in FOUND])
def test_frames_that_found_bugs(live: Live, frames: list[Frame]) -> None:
    live.check(frames, events=False)
