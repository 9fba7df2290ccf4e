"""A seat map reader process: waves of concurrent ``GET /api/showtimes/{id}``, as a rush of page loads makes.

Commands arrive over the worker's channel (see :mod:`bench.workers`): ``Read`` runs the waves from
``start_ns`` to ``deadline_ns`` (CLOCK_MONOTONIC, shared with the coordinator) and replies with a
:class:`ReadRecord`. Each wave sends ``readers`` requests at once, as browsers do on a first visit
(``Accept-Encoding: gzip``, no validator), waits for every answer, and the next wave starts on the next
tick of ``wave_interval_s``. Bodies are kept compressed; the first of every wave is checked whole.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from array import array
from dataclasses import dataclass, field

import aiohttp
import orjson

from bench.workers import CLOCK, STOP, Channel, answer_clock

__all__ = ["Read", "ReadRecord", "reader_worker", "seat_map_problem"]

BROWSER = {"Accept-Encoding": "gzip, deflate", "Accept": "application/json"}
READ_TIMEOUT = 300.0  # seconds: a bound on a hung read, far beyond what the slowest server takes
MAX_ERRORS_KEPT = 20
SEAT_STATES = {"available", "held", "booked", "blocked"}


@dataclass(frozen=True, slots=True)
class Read:
    url: str
    showtime_id: str
    seats: int  # in the showtime: each checked map must hold exactly these
    readers: int  # requests per wave, sent at once
    wave_interval_s: float
    start_ns: int
    deadline_ns: int


@dataclass(slots=True)
class ReadRecord:
    latencies: array[int] = field(default_factory=lambda: array("q"))  # ns, request sent to body read
    waves: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)


def seat_map_problem(body: bytes, encoding: str | None, showtime_id: str, seats: int) -> str | None:
    """What is wrong with a seat map response, or None: it must be the showtime's, with every seat."""
    try:
        document = orjson.loads(gzip.decompress(body) if encoding == "gzip" else body)
        statuses = [
            seat["status"] for section in document["sections"] for row in section["rows"] for seat in row["seats"]
        ]
        if (document["id"], document["seatCount"], len(statuses)) != (showtime_id, seats, seats):
            return f"a seat map of {document['id']} with {len(statuses)} seats, not of {showtime_id} with {seats}"
        if not set(statuses) <= SEAT_STATES:
            return "a seat map with an unknown status"
    except (OSError, EOFError, orjson.JSONDecodeError, KeyError, TypeError) as error:
        return f"an unreadable seat map: {error!r}"
    return None


async def _read(http: aiohttp.ClientSession, order: Read, record: ReadRecord, check: bool) -> None:
    sent = time.monotonic_ns()
    try:
        async with http.get(order.url, headers=BROWSER) as response:
            body = await response.read()
            status, encoding = response.status, response.headers.get("Content-Encoding")
    except (aiohttp.ClientError, TimeoutError) as error:
        record.error(f"a seat map read failed: {error!r}")
        return
    record.latencies.append(time.monotonic_ns() - sent)
    record.bytes += len(body)
    if status != 200:
        record.error(f"a seat map read was answered {status}: {body[:200]!r}")
    elif check and (problem := seat_map_problem(body, encoding, order.showtime_id, order.seats)):
        record.error(problem)


async def read_waves(order: Read) -> ReadRecord:
    record = ReadRecord()
    connector = aiohttp.TCPConnector(limit=order.readers)
    timeout = aiohttp.ClientTimeout(total=READ_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as http:
        tick = order.start_ns
        while tick < order.deadline_ns:
            await asyncio.sleep(max(0.0, (tick - time.monotonic_ns()) / 1e9))
            await asyncio.gather(*(_read(http, order, record, index == 0) for index in range(order.readers)))
            record.waves += 1
            # A wave that outlasted its interval is followed at once.
            tick = max(tick + int(order.wave_interval_s * 1e9), time.monotonic_ns())
    return record


async def reader_worker(channel: Channel, _index: int) -> None:
    while True:
        command = await channel.recv()
        match command:
            case Read():
                try:
                    channel.send(await read_waves(command))
                except Exception as error:  # reported to the coordinator, which fails the run
                    channel.send(RuntimeError(f"the seat map readers failed: {error!r}"))
            case (tag,) if tag == CLOCK:
                answer_clock(channel)
            case (tag,) if tag == STOP:
                return
