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

How hypothesis meets asyncio here: the tests are plain synchronous ``@given`` tests, so hypothesis drives
them as usual (shrinking, its example database, ``derandomize`` in CI) and pytest-asyncio leaves them
alone. The ``live`` fixture starts one server per test on an event loop of its own in a background
thread; each example hands a coroutine to that loop with ``asyncio.run_coroutine_threadsafe`` and waits
for it with a time bound, so a hang fails the example instead of the run. The session loop of the async
tests cannot host the server: it does not run while a synchronous test does. Each example gets a fresh
showtime (A1 and B1 taken by another session, B1 booked, A2 held by the fuzzing session) and a fresh
connection, so examples do not depend on each other, which shrinking needs. The showtime's id is not known
when hypothesis draws, so strategies place the ``SHOWTIME`` marker, replaced when the frame is rendered.
Run with ``--hypothesis-show-statistics`` to see which answers the fuzzing reached.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import aiohttp
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from pydantic import Field, TypeAdapter, ValidationError
from websockets.asyncio.client import ClientConnection, connect

from server.app import SeatServer
from server.core.errors import ErrorCode
from server.core.seats import SeatState
from server.messages import (
    Ack,
    ClientMessage,
    ConnectionEstablished,
    CurrentSeatStatus,
    ErrorMessage,
    SeatsRequest,
    SeatStatusChange,
    ServerMessage,
    Subscribe,
    Unsubscribe,
    client_message,
)
from server.storage.store import Snapshot
from tests import conftest
from tests.conftest import Running
from tests.hypothesis_output import restore_hypothesis_reports

T = TypeVar("T")

IN_CI = os.environ.get("CI") == "true"
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0
MAX_MESSAGE_BYTES = 64 * 1024
SEATS = [f"{row}{number}" for row in "ABC" for number in range(1, 6)]
CUSTOMER = {"name": "Ada", "email": "ada@example.com"}
# Limits high enough that the fuzzing is never slowed down into rate_limited answers.
LIMITS: dict[str, Any] = {
    "max_message_bytes": MAX_MESSAGE_BYTES,
    "messages_per_second": 100_000,
    "message_burst": 100_000,
    "seat_changes_per_second": 100_000,
    "seat_change_burst": 100_000,
    "max_connections_per_ip": 100_000,
    # Keepalive pings draw from the global random module, which hypothesis forbids while it generates data.
    "ping_interval_seconds": 3600,
}

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

server_message: TypeAdapter[ServerMessage] = TypeAdapter(Annotated[ServerMessage, Field(discriminator="type")])


# --- What a frame is made of ---------------------------------------------------------------------------------


class Showtime:
    """Stands for the example's showtime id."""

    def __repr__(self) -> str:
        return "SHOWTIME"


SHOWTIME = Showtime()


@dataclass(frozen=True, slots=True)
class NearShowtime:
    """The showtime's id, almost: something around it, or in upper case."""

    prefix: str
    suffix: str
    upper: bool


@dataclass(frozen=True, slots=True)
class Deep:
    """A value nested ``depth`` levels deep, rendered without recursion."""

    depth: int
    kind: Literal["list", "object"]


@dataclass(frozen=True, slots=True)
class Bulk:
    """A long list of seat ids, described rather than drawn element by element."""

    count: int
    pattern: Literal["same known", "distinct unknown", "cycle known", "long ids"]

    def items(self) -> list[str]:
        match self.pattern:
            case "same known":
                return ["A3"] * self.count
            case "distinct unknown":
                return [f"Z{index}" for index in range(self.count)]
            case "cycle known":
                return [SEATS[index % len(SEATS)] for index in range(self.count)]
            case "long ids":
                return [f"{index:016d}" for index in range(self.count)]


@dataclass(frozen=True, slots=True)
class Repeat:
    """A long string, kept short in hypothesis's reports."""

    text: str
    count: int

    def __str__(self) -> str:
        return self.text * self.count


@dataclass(frozen=True, slots=True)
class Token:
    """Raw JSON text where a value goes: odd number spellings, and things that are not JSON at all."""

    text: str


@dataclass(frozen=True, slots=True)
class Json:
    """A text frame: a JSON value, optionally mangled as text after rendering."""

    value: Any
    mangle: tuple[str, str] | None = None  # (how, argument)


@dataclass(frozen=True, slots=True)
class Text:
    text: str | Repeat


@dataclass(frozen=True, slots=True)
class Binary:
    data: bytes | Repeat

    @property
    def payload(self) -> bytes:
        return str(self.data).encode() if isinstance(self.data, Repeat) else self.data


Frame = Json | Text | Binary


def resolve(value: Any, showtime: str) -> Any:
    """The value with markers replaced: SHOWTIME by the id, Bulk by its list; Deep and Token stay."""
    if isinstance(value, Showtime):
        return showtime
    if isinstance(value, NearShowtime):
        return value.prefix + (showtime.upper() if value.upper else showtime) + value.suffix
    if isinstance(value, Bulk):
        return value.items()
    if isinstance(value, Repeat):
        return str(value)
    if isinstance(value, list):
        return [resolve(item, showtime) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, showtime) for key, item in value.items()}
    return value


def render(value: Any) -> str:
    """JSON text of a resolved value. NaN and infinities come out as NaN/Infinity, as Python writes them."""
    if isinstance(value, Deep):
        return (
            "[" * value.depth + "]" * value.depth
            if value.kind == "list"
            else '{"a":' * value.depth + "0" + "}" * value.depth
        )
    if isinstance(value, Token):
        return value.text
    if isinstance(value, list):
        return "[" + ",".join(render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{render(key)}:{render(item)}" for key, item in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def text_frame(text: str) -> str:
    """Lone surrogates cannot travel raw in a text frame; write them as JSON escapes (\\ud800)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def mangle(text: str, how: str, argument: str) -> str:
    match how:
        case "truncate":
            return text[: len(text) * len(argument) // 10]
        case "append":
            return text + argument
        case "prefix":
            return argument + text
        case "duplicate key":  # the same key again, first: which one wins?
            return "{" + argument + "," + text[1:] if text.startswith("{") and text != "{}" else text
        case _:
            raise AssertionError(how)


# --- What the reply must be ----------------------------------------------------------------------------------


class NoRequestId:
    """The answer carries no requestId at all (None stands for ``"requestId": null``)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = NoRequestId()
CarriedId = str | int | NoRequestId | None  # what an answer carries as requestId: a value, null, or nothing
MAX_DEPTH = 200  # arrays and objects around a value that the server parses (docs/protocol.md)


def read_json(payload: str | bytes) -> Any:
    """The payload as the server reads JSON: RFC 8259, NaN and Infinity as numbers, the last of duplicate keys,
    no value inside more than MAX_DEPTH arrays and objects. ValueError when it is not JSON to the server."""
    try:
        value = json.loads(payload.decode() if isinstance(payload, bytes) else payload)
    except RecursionError:  # far deeper than MAX_DEPTH
        raise ValueError("nested too deeply") from None
    pending = [(value, 0)]  # no recursion: depth is fuzzed
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ValueError("nested too deeply")
        if isinstance(item, str):
            item.encode()  # json reads "\ud800" as a lone surrogate, which is no Unicode: UnicodeEncodeError
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            pending.extend((child, depth + 1) for child in [*item, *item.values()])
    return value


def valid_request_id(value: Any) -> bool:
    return not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, str) and len(value) <= 128))


def expected_request_id(payload: str | bytes) -> CarriedId:
    """The requestId the answer must carry: the frame's, read from its JSON, when it is valid; null when the
    frame is not JSON or its requestId is not valid; none when it has none (or null)."""
    try:
        value = read_json(payload)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("requestId") is None:
        return ABSENT
    return value["requestId"] if valid_request_id(value["requestId"]) else None


HARD_CEILING = MAX_MESSAGE_BYTES * 16  # past it the server closes with 1009 instead of reading the frame
ANSWERS = {"subscribe": "subscribed", "unsubscribe": "unsubscribed", "lock": "ack", "unlock": "ack", "book": "ack"}
ANSWERS |= {"ping": "pong"}
SEAT_ERRORS = {ErrorCode.INVALID_MESSAGE, ErrorCode.UNKNOWN_SHOWTIME, ErrorCode.UNKNOWN_SEAT, ErrorCode.TOO_MANY_SEATS}
# The errors each valid message may get; rate limits are set too high to be met.
ERRORS = {
    "subscribe": {ErrorCode.UNKNOWN_SHOWTIME, ErrorCode.TOO_MANY_SUBSCRIPTIONS},
    "unsubscribe": set(),
    "ping": set(),
    "lock": SEAT_ERRORS | {ErrorCode.SEAT_UNAVAILABLE, ErrorCode.HOLD_LIMIT_REACHED},
    "unlock": SEAT_ERRORS | {ErrorCode.NOT_LOCK_OWNER},
    "book": SEAT_ERRORS | {ErrorCode.NOT_LOCK_OWNER},
}
NAMING_SEATS = {ErrorCode.UNKNOWN_SEAT, ErrorCode.SEAT_UNAVAILABLE, ErrorCode.NOT_LOCK_OWNER}
PUSHED = (CurrentSeatStatus, SeatStatusChange)


@dataclass(frozen=True, slots=True)
class Sent:
    """What went over the wire, and what the schema says of it."""

    payload: str | bytes
    request_id: CarriedId  # what the answer must carry
    size: int  # in bytes
    message: ClientMessage | None  # as the schema reads it; None when it is invalid
    binary: bool = False

    @property
    def too_large(self) -> bool:
        return self.size > MAX_MESSAGE_BYTES

    @classmethod
    def of(cls, frame: Frame, showtime: str) -> Sent:
        if isinstance(frame, Binary):
            return cls(frame.payload, expected_request_id(frame.payload), len(frame.payload), None, binary=True)
        if isinstance(frame, Text):
            text = text_frame(str(frame.text))
        else:
            text = text_frame(render(resolve(frame.value, showtime)))
            if frame.mangle is not None:
                text = mangle(text, *frame.mangle)
        try:
            message: ClientMessage | None = client_message.validate_json(text)
        except ValidationError:
            message = None
        return cls(text, expected_request_id(text), len(text.encode()), message)


# --- The live server -----------------------------------------------------------------------------------------


class FailureLog(logging.Handler):
    """Every record at ERROR or above, from the server, websockets, aiohttp or asyncio."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        taken, self.records = self.records, []
        return [self.format(record) for record in taken]


class Live:
    """One server on its own event loop in a background thread, driven from synchronous tests."""

    def __init__(self, database_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzzed-server", daemon=True)
        self.thread.start()
        self.failures = FailureLog()
        logging.getLogger().addHandler(self.failures)
        try:
            self.running = self.run(self._start(database_url))
        except BaseException:
            self._stop_loop()
            raise

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run on the server's loop; a hang past ``timeout`` fails the caller."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise AssertionError(f"no answer within {timeout}s: the server hangs") from None

    async def _start(self, database_url: str) -> Running:
        server = SeatServer(conftest.test_settings(database_url, **LIMITS))
        await server.start()
        return Running(server, aiohttp.ClientSession())

    async def _stop(self) -> None:
        await self.running.server.stop()
        await self.running.http.close()

    def close(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        logging.getLogger().removeHandler(self.failures)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()

    def check(self, frames: list[Frame], *, events: bool = True) -> None:
        """Send the frames on a fresh connection, checking each answer and the state after it."""
        restore_hypothesis_reports()
        self.failures.take()  # what an earlier example left, when it failed before reading the log
        answers: list[str] = []
        try:
            self.run(self._check(frames, answers))
        except BaseException as error:
            error.add_note("the server logged:\n" + "\n".join(self.failures.take()))
            raise
        assert not (failures := self.failures.take()), "the server logged failures:\n" + "\n".join(failures)
        for answer in answers if events else ():  # shown by --hypothesis-show-statistics: what fuzzing reached
            event(answer)

    async def _check(self, frames: list[Frame], answers: list[str]) -> None:
        showtime = await self.running.showtime()
        other = await self.running.client()
        try:
            await other.request("lock", showtimeId=showtime, seatIds=["A1", "B1"])
            booked = await other.request("book", showtimeId=showtime, seatIds=["B1"], customer=CUSTOMER)
            assert booked["type"] == "ack", booked
            await self._fuzz(showtime, frames, answers)
            assert (await other.request("ping"))["type"] == "pong"
        finally:
            await other.close()

    async def _fuzz(self, showtime: str, frames: list[Frame], answers: list[str]) -> None:
        async with connect(self.running.ws_url, max_size=None, open_timeout=TIMEOUT, ping_interval=None) as sender:
            hello = server_message.validate_json(await asyncio.wait_for(sender.recv(), TIMEOUT))
            assert isinstance(hello, ConnectionEstablished)
            _, held = await exchange(
                sender, json.dumps({"type": "lock", "showtimeId": showtime, "seatIds": ["A2"]}), "held"
            )
            assert isinstance(held, Ack), held
            subscriptions: set[str] = set()
            for index, frame in enumerate(frames):
                sent = Sent.of(frame, showtime)
                before = await self.state(showtime)
                if sent.size > HARD_CEILING:  # not read at all: the documented answer is closing with 1009
                    await sender.send(sent.payload)
                    await asyncio.wait_for(sender.wait_closed(), TIMEOUT)
                    assert sender.close_code == 1009, sender.close_code
                    assert await self.state(showtime) == before
                    answers.append("closed 1009")
                    return
                pushed, answer = await exchange(sender, sent.payload, f"barrier-{index}")
                after = await self.state(showtime)
                check_answer(sent, answer, pushed, subscriptions)
                check_state(hello.session_id, answer, before, after)
                kind = f"{answer.type} {answer.code}" if isinstance(answer, ErrorMessage) else answer.type
                carried = carried_request_id(answer)
                echo = "none" if carried is ABSENT else "null" if carried is None else "echoed"
                answers.append(f"{kind}, requestId {echo}")

    async def state(self, showtime: str) -> Snapshot:
        return await self.running.server.service.store.snapshot(showtime)


async def exchange(connection: ClientConnection, payload: str | bytes, barrier: str) -> tuple[list[Any], Any]:
    """Send a frame, then a ping; return what came before the pong: pushed messages and the one answer.

    Replies come in request order, so everything before the barrier's pong belongs to the frame. The pong
    itself shows the connection still works.
    """
    await connection.send(payload)
    await connection.send(json.dumps({"type": "ping", "requestId": barrier}))
    pushed: list[Any] = []
    answers: list[Any] = []
    while True:
        raw = await asyncio.wait_for(connection.recv(), TIMEOUT)
        assert isinstance(raw, str), f"a binary frame from the server: {raw!r}"
        message = server_message.validate_json(raw)
        if message.type == "pong" and message.request_id == barrier:
            break
        (pushed if isinstance(message, PUSHED) else answers).append(message)
    assert len(answers) == 1, f"expected exactly one answer, got {answers}"
    return pushed, answers[0]


def check_answer(sent: Sent, answer: Any, pushed: list[Any], subscriptions: set[str]) -> None:
    """The one answer, and what was pushed with it, are what the protocol says for this frame."""
    carried = carried_request_id(answer)
    assert type(carried) is type(sent.request_id), f"expected requestId {sent.request_id!r}: {answer}"
    assert carried == sent.request_id, f"expected requestId {sent.request_id!r}: {answer}"
    if isinstance(answer, ErrorMessage):
        assert answer.code is not ErrorCode.INTERNAL_ERROR, f"the server failed on this frame: {answer}"
        assert answer.message
    message = sent.message
    if sent.binary:
        assert isinstance(answer, ErrorMessage), f"a binary frame was accepted: {answer}"
        assert answer.code in (ErrorCode.INVALID_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE), answer
    elif sent.too_large:
        assert isinstance(answer, ErrorMessage), f"a frame of {sent.size} bytes was accepted: {answer}"
        assert answer.code is ErrorCode.MESSAGE_TOO_LARGE, answer
    elif message is None:
        assert isinstance(answer, ErrorMessage), f"an invalid message was accepted: {answer}"
        assert answer.code is ErrorCode.INVALID_MESSAGE, answer
    elif isinstance(answer, ErrorMessage):
        assert answer.code in ERRORS[message.type], f"a {message.type} refused with {answer}"
        if answer.code in NAMING_SEATS:
            assert isinstance(message, SeatsRequest)
            assert answer.conflicting_seats, answer
            assert set(answer.conflicting_seats) <= set(message.seat_ids), answer
    else:
        assert answer.type == ANSWERS[message.type], f"a {message.type} answered by {answer}"
        if isinstance(message, SeatsRequest):
            assert answer.showtime_id == message.showtime_id, answer
            assert answer.action == message.type, answer
            assert answer.seat_ids == list(dict.fromkeys(message.seat_ids)), answer
        elif isinstance(message, Subscribe):
            assert answer.showtime_id == message.showtime_id, answer
            subscriptions.add(message.showtime_id)
            snapshots = [push for push in pushed if isinstance(push, CurrentSeatStatus)]
            assert len(snapshots) == (0 if answer.recovered else 1), f"{answer} with snapshots {snapshots}"
        elif isinstance(message, Unsubscribe):
            assert answer.showtime_id == message.showtime_id, answer
            subscriptions.discard(message.showtime_id)
    if not isinstance(message, Subscribe):
        assert not any(isinstance(push, CurrentSeatStatus) for push in pushed), pushed
    for push in pushed:
        assert push.showtime_id in subscriptions, f"pushed for a showtime not subscribed to: {push}"


def carried_request_id(answer: Any) -> CarriedId:
    return answer.request_id if "request_id" in answer.model_fields_set else ABSENT


def check_state(session_id: str, answer: Any, before: Snapshot, after: Snapshot) -> None:
    """Only an ack changes seats, and only the seats it names, the way it says."""
    if not isinstance(answer, Ack):
        assert after == before, f"{answer} changed the showtime: {before} -> {after}"
        return
    named = set(answer.seat_ids)
    assert {seat: claim for seat, claim in after.claims.items() if seat not in named} == {
        seat: claim for seat, claim in before.claims.items() if seat not in named
    }, f"{answer} changed other seats"
    for seat in named:
        claim = after.claims.get(seat)
        holder = None if claim is None else (claim.state, claim.session_id)
        if answer.action == "unlock":
            assert holder is None or holder[1] != session_id, f"{answer} but {seat} is still held: {claim}"
        else:
            state = SeatState.HELD if answer.action == "lock" else SeatState.BOOKED
            assert holder == (state, session_id), f"{answer} but {seat} is {claim}"


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    server = Live(database_url)
    try:
        yield server
    finally:
        server.close()


# --- Strategies ----------------------------------------------------------------------------------------------

ODD = ["\x00", "\u202e", "\u200f", "\u200b", "\ufeff", "\ud800", "\udfff", "\U0001f4a9", "e\u0301", "\uffff", "\x7f"]
ODD += ["\n", '"', "\\", "\\u0000", "</script>", "%00", "' OR 1=1 --", "${x}", "A1\x00", " A1", "a1", "A01"]

odd_text = st.lists(st.sampled_from(ODD) | st.sampled_from(SEATS) | st.text(max_size=3), max_size=8).map("".join)
long_text = st.builds(Repeat, st.sampled_from(["x", "\u20ac", "\U0001f4a9", "\x00", "\u202e"]), st.integers(0, 40_000))
edge_text = st.sampled_from(["", " ", "x" * 16, "x" * 17, "x" * 64, "x" * 65, "r" * 128, "r" * 129, "\u20ac" * 128])
hostile_text = st.one_of(st.text(max_size=20), odd_text, edge_text, long_text)

huge_ints = st.sampled_from([2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, -(2**64), 10**30, -(10**400)])
numbers = st.one_of(st.integers(), huge_ints, st.floats())
odd_tokens = st.sampled_from(["1e400", "-1e400", "-0", "1.0", "1E2", "NaN", "-Infinity", "01", "0x10", "1_000", "+1"])
deep = st.builds(Deep, st.integers(1, 3000), st.sampled_from(["list", "object"]))

json_scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
hostile_values = st.one_of(json_values, hostile_text, numbers, st.builds(Token, odd_tokens), deep)

REQUIRED = {"subscribe": ["showtimeId"], "unsubscribe": ["showtimeId"], "lock": ["showtimeId", "seatIds"]}
REQUIRED |= {"unlock": ["showtimeId", "seatIds"], "book": ["showtimeId", "seatIds", "customer"], "ping": []}
unknown_seats = st.sampled_from(["Z9", "A0", "A6", "D1", "a1", "A1 ", "A01", "A1\x00", "\u0391" + "1"])
seat_lists = st.one_of(
    st.lists(st.sampled_from(SEATS) | unknown_seats | hostile_text, max_size=12),
    st.builds(
        Bulk, st.integers(11, 6000), st.sampled_from(["same known", "distinct unknown", "cycle known", "long ids"])
    ),
)
near_showtimes = st.builds(NearShowtime, st.sampled_from(["", " ", "\x00", "\u202e"]), odd_text, st.booleans())
emails = st.sampled_from(
    ["x", "@", "a@b", "a@@b.c", "a@b.c\x00", "a b@c.d", "\u202ea@b.c", "\uff41@b.c", "a@b.c" + "c" * 250]
)
types = st.one_of(
    st.sampled_from(list(REQUIRED)),
    st.sampled_from(["LOCK", "lock ", "lock\x00", "teleport", "", "error", "ack", "connection_established"]),
    hostile_values,
)
# Per field: something a client might well send; the right JSON type with hostile content; anything at all.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "showtimeId": st.just(SHOWTIME),
    "seatIds": st.lists(st.sampled_from(SEATS), min_size=1, max_size=4),
    "customer": st.just(CUSTOMER),
    "requestId": st.text(max_size=10) | st.integers(),
    "lastSeq": st.integers(0, 3),
}
ODD_CONTENT: dict[str, st.SearchStrategy[Any]] = {
    "showtimeId": st.one_of(near_showtimes, hostile_text, st.sampled_from(["st_nope", "demo-evening"])),
    "seatIds": seat_lists,
    "customer": st.fixed_dictionaries({"name": hostile_text, "email": emails | hostile_text}),
    "requestId": st.one_of(edge_text, odd_text, huge_ints, long_text),
    "lastSeq": st.one_of(st.integers(-2, 5), huge_ints, st.integers()),
}
extra_keys = st.one_of(
    st.sampled_from(["showtime_id", "seat_ids", "request_id", "RequestId", "__proto__", "constructor", "type "]),
    st.text(max_size=8),
)


@st.composite
def hostile_messages(draw: st.DrawFn) -> dict[str, Any]:
    """A plausible message of a real type, then a few things done to it: a field of the right type with
    hostile content, a field of any value, a field dropped, the type changed, unknown fields added."""
    kind = draw(st.sampled_from(list(REQUIRED)))
    names = [*REQUIRED[kind], "requestId", *(["lastSeq"] if kind == "subscribe" else [])]
    message: dict[str, Any] = {"type": kind} | {name: draw(PLAUSIBLE[name]) for name in names}
    for _ in range(draw(st.integers(0, 3))):
        match draw(st.sampled_from(["odd content", "odd content", "anything", "drop", "type", "extra"])):
            case "odd content":
                name = draw(st.sampled_from(names))
                message[name] = draw(ODD_CONTENT[name])
            case "anything":
                name = draw(st.sampled_from(names))
                message[name] = draw(hostile_values)
            case "drop" if message:
                message.pop(draw(st.sampled_from(sorted(message))))
            case "type":
                message["type"] = draw(types)
            case "extra":
                message[draw(extra_keys)] = draw(hostile_values)
    return message


mangles = st.tuples(
    st.sampled_from(["truncate", "append", "prefix", "duplicate key"]),
    st.one_of(
        st.sampled_from(['"type":"ping"', '"type":"lock"', '"requestId":"first"', '"requestId":7']),
        st.sampled_from(["\ufeff", " ", "\n", "}", "]", ",", "null", "//", "/*", "\x00"]),
        st.text(max_size=5),
    ),
)
json_frames = st.builds(Json, json_values | hostile_values)
unmangled = st.builds(Json, hostile_messages())
hostile_frames = st.one_of(unmangled, unmangled, unmangled, st.builds(Json, hostile_messages(), mangles))
raw_frames = st.one_of(
    st.builds(Text, st.text(max_size=200)),
    st.builds(Text, hostile_text),
    st.builds(Binary, st.binary(max_size=200)),
    st.builds(
        Binary, st.sampled_from([b'{"type":"ping","requestId":"b"}', b"\xff\xfe"]) | st.just(Repeat("\x00", 70_000))
    ),
)


# --- The tests -----------------------------------------------------------------------------------------------

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
