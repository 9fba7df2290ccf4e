"""Fan-out latency: N subscribers on one showtime, one locker changing seats, every delivery timed.

The server and its baselines (the bare relay, the Node.js server; or one instance and two) are measured
side by side: the same load-generator processes hold N subscribers on each, and their lockers take
turns, a block of requests at a time, so whatever else the machine is doing weighs on all alike. When the
system under test has several instances, its subscribers are spread over them and the locker uses the
first: each change crosses the bus to reach the others'.

Each locker locks a few seats (``seats_per_request``, one by default) in one request, unlocks them in
another, moves on to the next seats: each request is one commit making one ``seat_status_change`` per
seat. A request is sent only once the previous one's changes have reached every subscriber: each latency
is that of one commit on an otherwise idle server, not of a queue that grows with the run. Latency is the
time from the locker sending the request to a subscriber having read the change, on one clock
(CLOCK_MONOTONIC, see :mod:`bench.workers`).

The server's CPU time per delivered change comes from /proc over the changes' windows: it counts what
the server spends, however fast the load generator reads. A delivery is one change reaching one
subscriber, whether it came in a frame of its own or in a commit's batched frame (``batch``), so
subscribers asking for batches are compared with per-seat ones change for change.
"""

from __future__ import annotations

import asyncio
import os
import time
from array import array
from dataclasses import dataclass, field

from bench.proc import CpuMeter, rss_bytes
from bench.requester import Requester
from bench.servers import System
from bench.stats import Latency
from bench.subscribers import Collect, Connect, Expect, SubscriberReport
from bench.workers import Channel, WorkerPool

__all__ = ["FanoutResult", "FanoutTarget", "SeatRequest", "change_plan", "run_fanout"]

SETTLE_SECONDS = 1.0
DELIVERY_TIMEOUT = 60.0
CONNECT_TIMEOUT = 900.0
COMMAND_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class FanoutTarget:
    system: System
    showtime_id: str


@dataclass(slots=True)
class FanoutResult:
    target: str
    subscribers: int
    changes: int
    expected_deliveries: int
    seats_per_request: int = 1
    batch: bool = False  # the subscribers asked for one frame per commit
    deliveries: int = 0
    latency: Latency = field(default_factory=lambda: Latency.of(()))
    deliveries_per_second: float = 0.0
    server_cpu_us_per_delivery: float = 0.0
    server_cpu_ms_per_change: float = 0.0
    server_cores: float = 0.0  # share of one core the target used in the changes' windows
    instance_cores: list[float] = field(default_factory=list)  # the same, for each of its processes
    loadgen_cores: float = 0.0  # cores the load generator (workers and locker) used in those windows
    others_cores: float = 0.0  # cores every other process on the machine used in those windows
    loadgen_processes: int = 0
    connect_seconds: float = 0.0
    rss_before: int = 0  # target RSS before any subscriber connected
    rss_idle: int = 0  # target RSS with every subscriber connected, subscribed and idle
    errors: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return self.expected_deliveries - self.deliveries

    @property
    def rss_per_connection(self) -> float:
        return (self.rss_idle - self.rss_before) / self.subscribers if self.subscribers else 0.0


@dataclass(frozen=True, slots=True)
class SeatRequest:
    """One request of the locker: lock or unlock ``seats``, one commit making one change per seat."""

    status: str  # "locked" or "unlocked"
    seats: list[str]

    @property
    def kind(self) -> str:
        return "lock" if self.status == "locked" else "unlock"

    @property
    def changes(self) -> list[tuple[str, str]]:
        """(seatId, status) of each change it makes, in ``seq`` order."""
        return [(seat, self.status) for seat in self.seats]


def change_plan(changes: int, seats: list[str], seats_per_request: int = 1) -> list[SeatRequest]:
    """Lock ``seats_per_request`` seats, unlock them, move on to the next ones: as many pairs of requests as
    fit in ``changes`` (at least one), so the showtime is left as it was found."""
    pairs = max(1, changes // (2 * seats_per_request))
    if pairs * seats_per_request > len(seats):
        raise ValueError("not enough seats for that many changes")
    groups = [seats[index * seats_per_request : (index + 1) * seats_per_request] for index in range(pairs)]
    return [SeatRequest(status, group) for group in groups for status in ("locked", "unlocked")]


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


@dataclass(slots=True)
class _Side:
    """One target under measurement, as the coordinator drives it."""

    spec: FanoutTarget
    result: FanoutResult
    meter: CpuMeter
    locker: Requester | None = None
    sent: array[int] = field(default_factory=lambda: array("q"))  # per change: when its request was sent
    done: int = 0  # requests whose changes reached every subscriber
    failed: bool = False

    @property
    def name(self) -> str:
        return self.spec.system.name


async def run_fanout(
    targets: list[FanoutTarget],
    pool: WorkerPool,
    subscribers: int,
    plan: list[SeatRequest],
    block: int,
    batch: bool = False,
) -> list[FanoutResult]:
    """Measure every target with ``subscribers`` subscribers and the requests of ``plan``, in turns of
    ``block`` requests; every request of the plan changes as many seats."""
    shares = split(subscribers, len(pool.channels))
    loadgen = [*pool.pids, os.getpid()]
    per_request = len(plan[0].seats)
    changes = len(plan) * per_request
    sides = [
        _Side(
            spec,
            FanoutResult(spec.system.name, subscribers, changes, subscribers * changes, per_request, batch),
            CpuMeter([*spec.system.pids, *loadgen]),
            sent=array("q", bytes(8 * changes)),
        )
        for spec in targets
    ]
    try:
        for side in sides:
            await _connect(side, pool, shares, plan, batch)
        while any(side.done < len(plan) and not side.failed for side in sides):
            for side in sides:
                if side.done < len(plan) and not side.failed:
                    await _run_block(side, pool, plan, block)
    finally:
        for side in sides:
            if side.locker is not None:
                side.locker.close()
    for side in sides:
        pool.send_all([Collect(side.name)] * len(pool.channels))
        async with asyncio.timeout(COMMAND_TIMEOUT):
            reports = await asyncio.gather(*(_report(channel) for channel in pool.channels))
        _tally(side, reports, shares, loadgen)
    return [side.result for side in sides]


async def _report(channel: Channel) -> SubscriberReport:
    """A worker's report, past any late delivery notice of a run that failed."""
    while True:
        answer = await channel.recv()
        if isinstance(answer, SubscriberReport):
            return answer
        if isinstance(answer, BaseException):
            raise RuntimeError(f"a load-generator worker failed: {answer!r}")


async def _connect(side: _Side, pool: WorkerPool, shares: list[int], plan: list[SeatRequest], batch: bool) -> None:
    system, result = side.spec.system, side.result
    result.loadgen_processes = len(pool.channels)
    result.rss_before = sum(rss_bytes(pid) for pid in system.pids)
    started = time.monotonic()
    endpoints = tuple((target.host, target.port, target.path) for target in system.targets)
    pool.send_all([Connect(side.name, endpoints, side.spec.showtime_id, share, batch) for share in shares])
    async with asyncio.timeout(CONNECT_TIMEOUT):
        replies = await pool.gather()
    result.connect_seconds = time.monotonic() - started
    seqs = sorted({seq for _, worker_seqs in replies for seq in worker_seqs})
    if len(seqs) != 1:
        result.errors.append(f"subscribers' snapshots disagree on seq: {seqs}")
    await asyncio.sleep(SETTLE_SECONDS)
    result.rss_idle = sum(rss_bytes(pid) for pid in system.pids)
    locker = system.targets[0]
    side.locker = await Requester.connect(locker.host, locker.port, locker.path)
    changes = [change for request in plan for change in request.changes]
    pool.send_all([Expect(side.name, seqs[0], changes, side.result.seats_per_request)] * len(pool.channels))
    async with asyncio.timeout(COMMAND_TIMEOUT):
        await pool.gather()


async def _run_block(side: _Side, pool: WorkerPool, plan: list[SeatRequest], block: int) -> None:
    assert side.locker is not None
    showtime_id, per_request = side.spec.showtime_id, side.result.seats_per_request
    side.meter.start()
    try:
        for number in range(side.done, min(side.done + block, len(plan))):
            request = plan[number]
            reply = await side.locker.request(request.kind, showtime_id, request.seats)
            first = number * per_request
            side.sent[first : first + per_request] = array("q", [reply.sent_ns] * per_request)
            if not reply.ok:
                side.result.errors.append(f"request {number} ({request.kind} {request.seats}) refused: {reply.message}")
                side.failed = True
                return
            if not await _all_delivered(pool, side, first + per_request - 1):
                side.failed = True
                return
            side.done = number + 1
    finally:
        side.meter.stop()


async def _all_delivered(pool: WorkerPool, side: _Side, index: int) -> bool:
    """Wait for every worker's notice that change ``index``, the last of a request, reached its subscribers."""
    try:
        async with asyncio.timeout(DELIVERY_TIMEOUT):
            answers = await asyncio.gather(*(channel.recv() for channel in pool.channels))
    except TimeoutError:
        side.result.errors.append(f"change {index} did not reach every subscriber within {DELIVERY_TIMEOUT:.0f} s")
        return False
    for answer in answers:
        if answer != ("delivered", side.name, index):
            side.result.errors.append(f"change {index}: a worker answered {answer!r}")
            return False
    return True


def _tally(side: _Side, reports: list[SubscriberReport], shares: list[int], loadgen: list[int]) -> None:
    result, meter, sent = side.result, side.meter, side.sent
    latencies: list[int] = []
    for report, share in zip(reports, shares, strict=True):
        result.errors.extend(report.errors)
        if report.error_count > len(report.errors):
            result.errors.append(f"... and {report.error_count - len(report.errors)} more errors")
        if report.closed_early:
            result.errors.append(f"{report.closed_early} subscriber connections were closed during the run")
        received = array("q")
        received.frombytes(report.received)
        for index, start in enumerate(sent):
            if start:
                chunk = received[index * share : (index + 1) * share]
                latencies.extend(instant - start for instant in chunk if instant)
        result.deliveries += report.deliveries
    result.latency = Latency.of(latencies)
    if meter.wall > 0:
        result.deliveries_per_second = result.deliveries / meter.wall
        result.server_cores = meter.cores(side.spec.system.pids)
        result.instance_cores = [meter.cores([pid]) for pid in side.spec.system.pids]
        result.loadgen_cores = meter.cores(loadgen)
        result.others_cores = meter.others_cores
    if result.deliveries:
        result.server_cpu_us_per_delivery = meter.total(side.spec.system.pids) / result.deliveries * 1e6
    if side.done:
        changes_done = side.done * result.seats_per_request
        result.server_cpu_ms_per_change = meter.total(side.spec.system.pids) / changes_done * 1e3
    if result.missing:
        result.errors.append(f"{result.missing} of {result.expected_deliveries} deliveries are missing")
