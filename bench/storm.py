"""Subscribe storm: N clients connect and subscribe to one showtime at once while a locker changes seats.

What it measures, for the server and each baseline in turn: the CPU time of the system under test per
connect + subscribe (its whole window: session issue, snapshot, join, and the few changes' deliveries to
the clients joined so far), and the time from the start until the last client has its snapshot.

What it checks, every run: every client got a snapshot, and once the changes have settled, every
client's view (snapshot plus the changes after it, contiguous in ``seq``) is the same as a fresh
subscriber's snapshot, which equals what the locker's acks left and, for the server, the database.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.fanout import split
from bench.proc import CpuMeter
from bench.requester import Requester
from bench.servers import System
from bench.viewers import Settle, Storm, StormReport
from bench.workers import Channel, WorkerPool

__all__ = ["StormResult", "run_storm", "storm_plan"]

STORM_TIMEOUT = 900.0
SETTLE_TIMEOUT = 60.0

# What the system's store holds locked on the showtime (the server's database), when it has one.
LockedInStore = Callable[[], Awaitable[set[str]]]


@dataclass(slots=True)
class StormResult:
    target: str
    clients: int
    changes: int = 0
    seconds_to_last_snapshot: float = 0.0
    cpu_seconds: float = 0.0  # the system under test's, all its processes, over the storm
    cores: float = 0.0
    loadgen_cores: float = 0.0
    others_cores: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def cpu_ms_per_client(self) -> float:
        return self.cpu_seconds / self.clients * 1e3 if self.clients else 0.0


def storm_plan(changes: int, seats: list[str]) -> list[tuple[str, str]]:
    """(seatId, status): lock two seats, unlock the first, and on; the seats left locked grow with the run."""
    return [(seats[index - 2], "unlocked") if index % 3 == 2 else (seats[index], "locked") for index in range(changes)]


async def run_storm(
    system: System,
    showtime_id: str,
    pool: WorkerPool,
    clients: int,
    seats: list[str],
    *,
    concurrency: int,
    notes: int,
    locked_in_store: LockedInStore | None = None,
) -> StormResult:
    result = StormResult(system.name, clients)
    plan = storm_plan(notes * len(pool.channels), seats)
    shares = split(clients, len(pool.channels))
    endpoints = tuple((target.host, target.port, target.path) for target in system.targets)
    locker = await Requester.connect(system.targets[0].host, system.targets[0].port, system.targets[0].path)
    loadgen = [*pool.pids, os.getpid()]
    meter = CpuMeter([*system.pids, *loadgen])
    try:
        await locker.subscribe(showtime_id)  # the showtime is loaded before the clock starts
        notes_in: asyncio.Queue[None] = asyncio.Queue()
        changing = asyncio.create_task(_change(locker, showtime_id, plan, notes_in, result))
        start_ns = time.monotonic_ns()
        meter.start()
        pool.send_all(
            [
                Storm(f"storm-{system.name}", endpoints, showtime_id, share, sum(shares[:index]), concurrency, notes)
                for index, share in enumerate(shares)
            ]
        )
        async with asyncio.timeout(STORM_TIMEOUT):
            lasts = await asyncio.gather(*(_storm_notes(channel, notes_in) for channel in pool.channels))
        meter.stop()
        result.seconds_to_last_snapshot = (max(lasts) - start_ns) / 1e9
        for _ in plan:  # changes the notes did not call for yet are made now, so each run makes them all
            notes_in.put_nowait(None)
        expected = await changing
    finally:
        locker.close()
    result.cpu_seconds = meter.total(system.pids)
    result.cores = meter.cores(system.pids)
    result.loadgen_cores = meter.cores(loadgen)
    result.others_cores = meter.others_cores
    await _check_views(system, showtime_id, pool, expected, locked_in_store, result)
    return result


async def _storm_notes(channel: Channel, notes_in: asyncio.Queue[None]) -> int:
    """Pass a worker's progress notes on to the locker; return the instant its last client had its snapshot."""
    while True:
        message = await channel.recv()
        if isinstance(message, BaseException):
            raise RuntimeError(f"a storm worker failed: {message!r}")
        if message[0] == "progress":
            notes_in.put_nowait(None)
        elif message[0] == "stormed":
            return int(message[2])


async def _change(
    locker: Requester, showtime_id: str, plan: list[tuple[str, str]], notes_in: asyncio.Queue[None], result: StormResult
) -> set[str]:
    """Make one change of ``plan`` per note; return the seats the acks leave locked."""
    locked: set[str] = set()
    for seat, status in plan:
        await notes_in.get()
        reply = await locker.request("lock" if status == "locked" else "unlock", showtime_id, [seat])
        if not reply.ok:
            result.errors.append(f"{status} {seat} refused: {reply.message}")
            continue
        result.changes += 1
        (locked.add if status == "locked" else locked.discard)(seat)
    return locked


async def _check_views(
    system: System,
    showtime_id: str,
    pool: WorkerPool,
    expected: set[str],
    locked_in_store: LockedInStore | None,
    result: StormResult,
) -> None:
    probe = await Requester.connect(system.targets[0].host, system.targets[0].port, system.targets[0].path)
    try:
        snapshot = await probe.subscribe(showtime_id)
    finally:
        probe.close()
    truth = (int(snapshot["seq"]), tuple(sorted(snapshot["lockedSeats"])))
    if set(truth[1]) != expected:
        result.errors.append(f"a fresh snapshot shows {sorted(truth[1])} locked, the acks left {sorted(expected)}")
    if locked_in_store is not None and (stored := await locked_in_store()) != expected:
        result.errors.append(f"the database holds {sorted(stored)}, the acks left {sorted(expected)}")
    pool.send_all([Settle(f"storm-{system.name}", truth[0], SETTLE_TIMEOUT)] * len(pool.channels))
    async with asyncio.timeout(SETTLE_TIMEOUT * 2):
        reports: list[StormReport] = await pool.gather()
    snapshots = sum(report.snapshots for report in reports)
    if snapshots != result.clients:
        result.errors.append(f"{result.clients - snapshots} of {result.clients} clients got no snapshot")
    for report in reports:
        result.errors.extend(report.errors)
        if report.error_count > len(report.errors):
            result.errors.append(f"... and {report.error_count - len(report.errors)} more errors")
        for view, count in report.views.items():
            if view != truth:
                result.errors.append(f"{count} clients see seq {view[0]} with {list(view[1])} locked, not {truth}")
