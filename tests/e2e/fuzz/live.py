"""One live server on an event loop of its own, driven from synchronous hypothesis tests.

How hypothesis meets asyncio here: the tests are plain synchronous ``@given`` tests, so hypothesis drives
them as usual (shrinking, its example database, ``derandomize`` in CI) and pytest-asyncio leaves them
alone. ``Live`` starts one server per test on an event loop of its own in a background thread; each
example hands a coroutine to that loop with ``asyncio.run_coroutine_threadsafe`` and waits for it with a
time bound, so a hang fails the example instead of the run. The session loop of the async tests cannot
host the server: it does not run while a synchronous test does. Each example gets a fresh showtime (A1
and B1 taken by another session, B1 booked, A2 held by the fuzzing session) and a fresh connection, so
examples do not depend on each other, which shrinking needs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import aiohttp
from hypothesis import event
from websockets.asyncio.client import ClientConnection, connect

from server.app import SeatServer
from server.core.records import Snapshot
from server.messages import Ack, ConnectionEstablished, ErrorMessage
from server.storage.store import SeatStore
from tests import conftest
from tests.conftest import Running
from tests.e2e.fuzz.frames import CUSTOMER, Frame
from tests.e2e.fuzz.oracle import (
    ABSENT,
    HARD_CEILING,
    MAX_MESSAGE_BYTES,
    PUSHED,
    Sent,
    carried_request_id,
    check_answer,
    check_state,
    server_message,
)
from tests.hypothesis_output import restore_hypothesis_reports

__all__ = ["Live"]

T = TypeVar("T")

TIMEOUT = 10.0
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
        return await SeatStore(self.running.server.engine).snapshot(showtime)


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
