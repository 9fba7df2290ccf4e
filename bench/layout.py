"""Seat map reads under a rush: do page loads of a big showtime hold up another buyer's locks?

One buyer locks and unlocks seats of a 10,000-seat showtime over the WebSocket, a request every
``LOCK_INTERVAL_S``, first alone (idle), then while a reader process sends waves of concurrent
``GET /api/showtimes/{id}`` of the same showtime (:mod:`bench.readers`). The figure is the buyer's p99
round trip loaded against idle; the goal is at most 2x. Beside it: the size of the map, plain and
gzipped, and the time of one read, cold (the first after the server started), cached, and a 304; and the
server's resident memory before and at its peak under the waves.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from dataclasses import dataclass, field

import aiohttp

from bench.proc import rss_bytes
from bench.readers import BROWSER, Read, ReadRecord, seat_map_problem
from bench.requester import Requester
from bench.servers import Target
from bench.stats import Latency
from bench.workers import WorkerPool

__all__ = ["LayoutResult", "run_layout"]

LOCK_INTERVAL_S = 0.02  # one buyer's pace: a lock or an unlock every 20 ms
TIMED_READS = 10  # sequential reads per figure of the cached timings
RSS_SAMPLE_S = 0.02
PLAIN = {"Accept-Encoding": "identity", "Accept": "application/json"}
READ_TIMEOUT = 300.0


@dataclass(slots=True)
class LayoutResult:
    seats: int
    readers: int
    seconds: float
    plain_bytes: int = 0
    gzip_bytes: int = 0  # the plain size again when the server does not compress
    cold_ms: float = 0.0  # the first read after start, as a browser asks
    cached_plain_ms: float = 0.0  # medians of TIMED_READS sequential reads
    cached_gzip_ms: float = 0.0
    not_modified_ms: float | None = None  # None: the server sends no ETag
    idle: Latency = field(default_factory=lambda: Latency.of(()))  # the buyer's lock and unlock round trips
    loaded: Latency = field(default_factory=lambda: Latency.of(()))
    reads: Latency = field(default_factory=lambda: Latency.of(()))  # seat map reads under the waves
    waves: int = 0
    rss_before: int = 0
    rss_peak: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.loaded.p99_ms / self.idle.p99_ms if self.idle.p99_ms else float("nan")


@dataclass(frozen=True, slots=True)
class _Answer:
    ms: float  # request sent to whole body read
    status: int
    body: bytes  # as sent: compressed when the server compressed it
    etag: str
    encoding: str | None


async def _timed(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> _Answer:
    sent = time.monotonic_ns()
    async with http.get(url, headers=headers) as response:
        body = await response.read()
    elapsed = (time.monotonic_ns() - sent) / 1e6
    encoding = response.headers.get("Content-Encoding")
    return _Answer(elapsed, response.status, body, response.headers.get("ETag", ""), encoding)


async def _read_timings(result: LayoutResult, url: str, showtime_id: str) -> None:
    timeout = aiohttp.ClientTimeout(total=READ_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as http:
        answers = {"cold": [await _timed(http, url, BROWSER)]}
        answers["plain"] = [await _timed(http, url, PLAIN) for _ in range(TIMED_READS)]
        answers["gzip"] = [await _timed(http, url, BROWSER) for _ in range(TIMED_READS)]
        etag = answers["gzip"][-1].etag
        if etag:
            validated = BROWSER | {"If-None-Match": etag}
            answers["304"] = [await _timed(http, url, validated) for _ in range(TIMED_READS)]
    for name, timed in answers.items():
        expected = 304 if name == "304" else 200
        for answer in timed:
            if answer.status != expected:
                result.errors.append(f"a {name} read was answered {answer.status}, not {expected}")
            elif expected == 200 and (
                problem := seat_map_problem(answer.body, answer.encoding, showtime_id, result.seats)
            ):
                result.errors.append(f"{name}: {problem}")
    result.cold_ms = answers["cold"][0].ms
    result.plain_bytes, result.gzip_bytes = len(answers["plain"][-1].body), len(answers["gzip"][-1].body)
    result.cached_plain_ms = statistics.median(answer.ms for answer in answers["plain"])
    result.cached_gzip_ms = statistics.median(answer.ms for answer in answers["gzip"])
    if "304" in answers:
        result.not_modified_ms = statistics.median(answer.ms for answer in answers["304"])


async def _buyer(
    requester: Requester, showtime_id: str, seats: list[str], deadline_ns: int, errors: list[str]
) -> Latency:
    """Lock and unlock ``seats`` in turn, one request every LOCK_INTERVAL_S, until the deadline."""
    samples: list[int] = []
    tick = time.monotonic_ns()
    turns = ((seat, kind) for seat in itertools.cycle(seats) for kind in ("lock", "unlock"))
    for seat, kind in turns:
        if tick >= deadline_ns:
            break
        await asyncio.sleep(max(0.0, (tick - time.monotonic_ns()) / 1e9))
        reply = await requester.request(kind, showtime_id, [seat])
        samples.append(reply.round_trip_ns)
        if not reply.ok:
            errors.append(f"the buyer's {kind} of {seat} was refused: {reply.message}")
            break
        tick = max(tick + int(LOCK_INTERVAL_S * 1e9), time.monotonic_ns())
    return Latency.of(samples)


async def _peak_rss(pid: int, stop: asyncio.Event) -> int:
    peak = rss_bytes(pid)
    while not stop.is_set():
        await asyncio.sleep(RSS_SAMPLE_S)
        peak = max(peak, rss_bytes(pid))
    return peak


async def run_layout(
    pool: WorkerPool, server: Target, showtime_id: str, seats: list[str], readers: int, seconds: float, wave_s: float
) -> LayoutResult:
    """Time reads of a fresh server's seat map, then the buyer alone and under waves of ``readers`` reads."""
    result = LayoutResult(len(seats), readers, seconds)
    url = f"http://{server.host}:{server.http_port}/api/showtimes/{showtime_id}"
    await _read_timings(result, url, showtime_id)
    buyer_seats = seats[-10:]
    requester = await Requester.connect(server.host, server.port, server.path)
    try:
        result.idle = await _buyer(
            requester, showtime_id, buyer_seats, time.monotonic_ns() + int(seconds * 1e9), result.errors
        )
        result.rss_before = rss_bytes(server.pid)
        start_ns = time.monotonic_ns() + 300_000_000
        deadline_ns = start_ns + int(seconds * 1e9)
        channel = pool.channels[0]
        channel.send(Read(url, showtime_id, len(seats), readers, wave_s, start_ns, deadline_ns))
        await asyncio.sleep((start_ns - time.monotonic_ns()) / 1e9)
        stop = asyncio.Event()
        peak = asyncio.create_task(_peak_rss(server.pid, stop))
        result.loaded = await _buyer(requester, showtime_id, buyer_seats, deadline_ns, result.errors)
        async with asyncio.timeout(READ_TIMEOUT):
            record = await channel.recv()
        stop.set()
        result.rss_peak = await peak
    finally:
        requester.close()
    if isinstance(record, BaseException):
        raise RuntimeError(f"the seat map readers failed: {record!r}") from record
    assert isinstance(record, ReadRecord)
    result.reads, result.waves = Latency.of(record.latencies), record.waves
    result.errors.extend(record.errors)
    return result
