"""Lock throughput under contention: C clients locking and unlocking seats of one big showtime.

Through the server (or its instances, or the Node.js baseline), the clients are WebSocket sessions
spread over the load-generator processes and over the instances. The driver baseline runs the same
workload with the same number of clients, issuing the same transactions straight through the driver
(:mod:`bench.rawdb`) from one process. Each run gets a fresh showtime; every run is checked for
overlapping holds by the acks, and runs on a database are audited from it too (:mod:`bench.audit`):
every acked lock and unlock is committed there, and no seat was ever held twice.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

from bench.audit import audit_database, overlapping_holds, read_ledger
from bench.fanout import split
from bench.lockers import Go, Prepare
from bench.proc import CpuMeter
from bench.requester import Requester
from bench.servers import Database, System, Target
from bench.stats import Latency
from bench.workers import WorkerPool
from bench.workload import ClientRecord, Workload

__all__ = ["DRIVER", "LockResult", "run_locks"]

DRIVER = "driver"

START_DELAY = 0.3  # seconds between telling the processes when to start and the start
PREPARE_TIMEOUT = 300.0
RUN_TIMEOUT = 300.0  # beyond the run's own length


@dataclass(slots=True)
class LockResult:
    target: str  # "server", "2 servers", "node" or "driver"
    database: str  # "-" for the Node.js baseline, which keeps its locks in memory
    clients: int
    seconds: float = 0.0
    operations: int = 0  # locks and unlocks committed (acked)
    refused: int = 0  # locks refused on a contended seat
    latency: Latency = field(default_factory=lambda: Latency.of(()))
    server_cores: float = 0.0
    instance_cores: list[float] = field(default_factory=list)  # the same, for each process serving
    server_cpu_seconds: float = 0.0
    loadgen_cores: float = 0.0
    loadgen_cpu_seconds: float = 0.0
    others_cores: float = 0.0  # the database server, and everything else on the machine
    violations: list[str] = field(default_factory=list)  # double holds, lost or unbacked changes
    errors: list[str] = field(default_factory=list)

    @property
    def ops_per_second(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_op(self) -> float:
        """CPU per successful operation of the process doing the work: the server, or the driver's client."""
        cpu = self.loadgen_cpu_seconds if self.target == DRIVER else self.server_cpu_seconds
        return cpu / self.operations * 1e3 if self.operations else 0.0


async def run_locks(
    pool: WorkerPool,
    showtime_id: str,
    clients: int,
    workload: Workload,
    *,
    system: System | None,
    database: Database | None,
) -> LockResult:
    """Run the workload through ``system``, or straight through the driver on ``database`` when it is None;
    audit ``database`` afterwards when there is one."""
    result = LockResult(system.name if system else DRIVER, database.kind if database else "-", clients)
    if system is not None:
        for target in system.targets:
            await _warm_up(target, showtime_id)
    # The baseline runs in the first process only: one driver pool, as the server has one.
    channels = pool.channels if system is not None else pool.channels[:1]
    shares = split(clients, len(channels))
    starts = [sum(shares[:index]) for index in range(len(shares))]
    for index, (channel, share, start) in enumerate(zip(channels, shares, starts, strict=True)):
        if system is not None:
            target = system.endpoint(index)
            channel.send(Prepare(showtime_id, share, start, workload, target.host, target.port, target.path))
        else:
            assert database is not None
            channel.send(Prepare(showtime_id, share, start, workload, database_url=database.url))
    for channel in channels:
        async with asyncio.timeout(PREPARE_TIMEOUT):
            reply = await channel.recv()
        if isinstance(reply, BaseException):
            raise RuntimeError(f"a lock worker failed: {reply!r}") from reply

    loadgen = [*(pool.pids[: len(channels)]), os.getpid()]
    served = system.pids if system is not None else []
    meter = CpuMeter([*served, *loadgen])
    start_ns = time.monotonic_ns() + int(START_DELAY * 1e9)
    deadline_ns = start_ns + int(workload.seconds * 1e9)
    for channel in channels:
        channel.send(Go(start_ns, deadline_ns))
    await asyncio.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9))
    meter.start()
    records: list[ClientRecord] = []
    for channel in channels:
        async with asyncio.timeout(workload.seconds + RUN_TIMEOUT):
            reply = await channel.recv()
        if isinstance(reply, BaseException):
            result.errors.append(f"a lock worker failed: {reply!r}")
        else:
            records.append(reply)
    meter.stop()

    merged = ClientRecord()
    for record in records:
        merged.merge(record)
    result.seconds = (merged.finished_ns - start_ns) / 1e9 if merged.finished_ns else 0.0
    result.operations = merged.locks + merged.unlocks
    result.refused = merged.refused
    result.latency = Latency.of(merged.round_trips)
    result.errors.extend(merged.errors)
    if merged.error_count > len(merged.errors):
        result.errors.append(f"... and {merged.error_count - len(merged.errors)} more errors")
    if served:
        result.server_cores = meter.cores(served)
        result.instance_cores = [meter.cores([pid]) for pid in served]
        result.server_cpu_seconds = meter.total(served)
    result.loadgen_cores = meter.cores(loadgen)
    result.loadgen_cpu_seconds = meter.total(loadgen)
    result.others_cores = meter.others_cores

    result.violations.extend(overlapping_holds(merged.holds))
    if database is not None:
        ledger = await read_ledger(database.url, showtime_id)
        result.violations.extend(audit_database(ledger, merged.locks, merged.unlocks))
    return result


async def _warm_up(target: Target, showtime_id: str) -> None:
    """Have the server load the showtime (its seat layout is cached from then on) before the clock starts."""
    requester = await Requester.connect(target.host, target.port, target.path)
    try:
        snapshot = await requester.subscribe(showtime_id)
        if snapshot.get("type") != "current_seat_status":
            raise RuntimeError(f"warming up the server failed: {snapshot}")
    finally:
        requester.close()
