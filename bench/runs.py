"""The scenarios, each with its processes, databases and load-generator pool, run in the order given.

- :func:`run_single`: the server on SQLite beside the relay and the Node.js baseline: fan-out (and
  memory, read from the first fan-out run), then the subscribe storms;
- :func:`run_lock_scenarios`: lock throughput on each database, beside the raw driver and Node.js;
- :func:`run_instances`: one server and two (PostgreSQL + Redis), side by side: fan-out, storm, locks;
- :func:`run_layout_scenario`: one buyer's locks on SQLite, alone and under waves of seat map reads;
- :func:`run_audience_scenario`: subscribers on SQLite told the audience or not, its count steady or not.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.audience import INTERVAL, run_audience
from bench.audit import read_ledger
from bench.config import Config
from bench.fanout import FanoutResult, FanoutTarget, change_plan, run_fanout
from bench.layout import run_layout
from bench.lockers import locker_worker
from bench.locks import LockResult, run_locks
from bench.memory import memory_of
from bench.proc import raise_fd_limit
from bench.readers import reader_worker
from bench.report import Results
from bench.servers import (
    Database,
    System,
    running_node,
    running_relay,
    running_server,
    running_servers,
    seed_showtime,
    throwaway_database,
)
from bench.storm import LockedInStore, StormResult, run_storm
from bench.subscribers import subscriber_worker
from bench.workers import WorkerPool
from bench.workload import Workload, seat_ids

__all__ = [
    "progress",
    "run_audience_scenario",
    "run_instances",
    "run_layout_scenario",
    "run_lock_scenarios",
    "run_single",
]

FD_HEADROOM = 1024


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _fd_limit(connections: int) -> int:
    limit = raise_fd_limit(connections + FD_HEADROOM)
    if limit < connections + FD_HEADROOM:
        raise RuntimeError(
            f"{connections:,} connections need an open-file limit of at least {connections + FD_HEADROOM:,}, "
            f"and the hard limit allows {limit:,}: raise it (ulimit -Hn) or pick smaller sizes"
        )
    return limit


async def _seed(database: Database, config: Config, source: Path, count: int) -> list[str]:
    return [await seed_showtime(database, config.rows, config.seats_per_row, source) for _ in range(count)]


def _held_in(database: Database, showtime_id: str) -> LockedInStore:
    async def held() -> set[str]:
        return {seat for seat, _ in (await read_ledger(database.url, showtime_id)).holds}

    return held


async def _fanouts(
    systems: list[FanoutTarget], pool: WorkerPool, config: Config, sizes: list[int]
) -> dict[tuple[int, bool], list[FanoutResult]]:
    """Every size in turn, largest first, in each batch mode (per seat first); the warm-up rounds first of all.
    Keyed by (size, batch), in the order run."""
    seats, per_request = seat_ids(config.rows, config.seats_per_row), config.seats_per_request
    names = " / ".join(spec.system.name for spec in systems)
    progress(f"fan-out: warming up {names} and the load generator")
    warm = change_plan(config.warm_up_changes, seats[::-1], per_request)  # seats the runs do not start with
    for batch in config.fanout_batch:
        await run_fanout(systems, pool, config.warm_up_subscribers, warm, config.fanout_block, batch)
    runs: dict[tuple[int, bool], list[FanoutResult]] = {}
    for size in sizes:
        plan = change_plan(config.changes_for(size), seats, per_request)
        for batch in config.fanout_batch:
            frames = "one frame per commit" if batch else "one frame per change"
            progress(
                f"fan-out: {size:,} subscribers each on {names}, {len(plan)} requests of {per_request} seats each, "
                f"{frames}"
            )
            runs[size, batch] = await run_fanout(systems, pool, size, plan, config.fanout_block, batch)
    return runs


async def _storms(
    systems: list[System],
    showtimes: list[str],
    pool: WorkerPool,
    config: Config,
    size: int,
    stores: Sequence[LockedInStore | None],
) -> tuple[StormResult, ...]:
    seats = seat_ids(config.rows, config.seats_per_row)
    runs = []
    for system, showtime_id, store in zip(systems, showtimes, stores, strict=True):
        progress(f"storm: {size:,} clients subscribe at once to {system.name}")
        runs.append(
            await run_storm(
                system,
                showtime_id,
                pool,
                size,
                seats,
                concurrency=config.storm_concurrency,
                notes=config.storm_notes,
                locked_in_store=store,
            )
        )
    return tuple(runs)


async def run_single(args: argparse.Namespace, config: Config, scratch: Path, results: Results) -> None:
    wants = set(args.scenarios)
    sizes = sorted(config.fanout_sizes, reverse=True) if "fanout" in wants else []
    # Memory is read from the first run on fresh processes: the largest size first, or a run of its own.
    if "memory" in wants:
        sizes = [config.memory_connections, *(size for size in sizes if size != config.memory_connections)]
    storms = config.storm_sizes if "storm" in wants else ()
    largest = max([*sizes, *storms])
    # The server holds the largest size; each load-generator process a share of it on all three systems.
    fd_limit = _fd_limit(max(largest, -(-3 * largest // config.workers)))
    with WorkerPool(config.workers, subscriber_worker, fd_limit) as pool:
        results.clock_checks += await pool.check_clock()
        async with throwaway_database("sqlite", scratch, args.postgres_url) as database:
            seed = await _seed(database, config, args.server_source, 1 + len(storms))
            async with (
                running_server(database, scratch, args.server_source) as server,
                running_relay(scratch) as relay,
                running_node(scratch) as node,
            ):
                systems = [System.of(server), System.of(relay), System.of(node)]
                if sizes:
                    targets = [FanoutTarget(system, seed[0]) for system in systems]
                    runs = await _fanouts(targets, pool, config, sizes)
                    if "memory" in wants:
                        results.memory.append(tuple(memory_of(run) for run in next(iter(runs.values()))))
                    for (size, _), group in sorted(runs.items()):
                        if "fanout" in wants and size in config.fanout_sizes:
                            results.fanout.append(tuple(group))
                        elif any(run.errors for run in group):
                            results.fanout.append(tuple(group))  # carries the errors to the exit code
                for size, showtime_id in zip(storms, seed[1:], strict=True):
                    stores = [_held_in(database, showtime_id), None, None]
                    results.storm.append(await _storms(systems, [showtime_id] * 3, pool, config, size, stores))


async def run_lock_scenarios(args: argparse.Namespace, config: Config, scratch: Path, results: Results) -> None:
    workload = Workload(seat_ids(config.rows, config.seats_per_row), seconds=config.lock_seconds)
    with WorkerPool(config.workers, locker_worker, _fd_limit(2 * max(config.lock_clients))) as pool:
        results.clock_checks += await pool.check_clock()
        in_memory: dict[int, tuple[LockResult, LockResult]] = {}  # Node.js, the relay
        async with running_node(scratch) as node, running_relay(scratch) as relay:
            for clients in config.lock_clients:
                progress(f"locks: {clients} clients on the Node.js baseline, then the relay, {config.lock_seconds} s")
                in_memory[clients] = (
                    await run_locks(
                        pool, f"node-locks-{clients}", clients, workload, system=System.of(node), database=None
                    ),
                    await run_locks(
                        pool, f"relay-locks-{clients}", clients, workload, system=System.of(relay), database=None
                    ),
                )
        for kind in config.databases:
            async with throwaway_database(kind, scratch, args.postgres_url) as database:
                showtimes = await _seed(database, config, args.server_source, 2 * len(config.lock_clients))
                async with running_server(database, scratch, args.server_source) as server:
                    for clients in config.lock_clients:
                        progress(
                            f"locks: {clients} clients on {kind}, raw driver then server, {config.lock_seconds} s each"
                        )
                        driver = await run_locks(
                            pool, showtimes.pop(), clients, workload, system=None, database=database
                        )
                        served = await run_locks(
                            pool, showtimes.pop(), clients, workload, system=System.of(server), database=database
                        )
                        results.locks.append((served, driver, *in_memory[clients]))


async def run_instances(args: argparse.Namespace, config: Config, scratch: Path, results: Results) -> None:
    """Two servers on one PostgreSQL database and one Redis against one server, each on showtimes of its own;
    every result pair is (two, one), so a ratio is what the second instance and the bus cost."""
    found = results.instances
    workload = Workload(seat_ids(config.rows, config.seats_per_row), seconds=config.lock_seconds)
    async with (
        throwaway_database("postgresql", scratch, args.postgres_url) as database,
        running_server(database, scratch, args.server_source) as one,
        running_servers(2, database, args.redis_url, scratch, args.server_source) as two,
    ):
        systems = [two, System("1 server", (one,))]
        largest = max([*config.instance_fanout_sizes, *config.instance_storm_sizes])
        with WorkerPool(config.workers, subscriber_worker, _fd_limit(largest)) as pool:
            results.clock_checks += await pool.check_clock()
            showtimes = await _seed(database, config, args.server_source, 2)
            targets = [FanoutTarget(system, showtime) for system, showtime in zip(systems, showtimes, strict=True)]
            sizes = sorted(config.instance_fanout_sizes, reverse=True)
            runs = await _fanouts(targets, pool, config, sizes)
            found.fanout.extend(tuple(group) for _, group in sorted(runs.items()))
            for size in config.instance_storm_sizes:
                showtimes = await _seed(database, config, args.server_source, 2)
                stores = [_held_in(database, showtime) for showtime in showtimes]
                found.storm.append(await _storms(systems, showtimes, pool, config, size, stores))
        with WorkerPool(config.workers, locker_worker, _fd_limit(2 * max(config.instance_lock_clients))) as pool:
            for clients in config.instance_lock_clients:
                progress(f"locks: {clients} clients on one server, then on two, {config.lock_seconds} s each")
                showtimes = await _seed(database, config, args.server_source, 2)
                found.locks.append(
                    tuple(
                        [
                            await run_locks(pool, showtime, clients, workload, system=system, database=database)
                            for system, showtime in zip(systems, showtimes, strict=True)
                        ]
                    )
                )


async def run_layout_scenario(args: argparse.Namespace, config: Config, scratch: Path, results: Results) -> None:
    rows, per_row = config.layout_rows, config.layout_seats_per_row
    with WorkerPool(1, reader_worker, _fd_limit(config.layout_readers)) as pool:
        results.clock_checks += await pool.check_clock()
        async with throwaway_database("sqlite", scratch, args.postgres_url) as database:
            showtime_id = await seed_showtime(database, rows, per_row, args.server_source)
            async with running_server(database, scratch, args.server_source) as server:
                progress(
                    f"layout: a buyer alone, then under waves of {config.layout_readers} reads of a "
                    f"{rows * per_row:,}-seat map, {config.layout_seconds} s each"
                )
                results.layout.append(
                    await run_layout(
                        pool,
                        server,
                        showtime_id,
                        seat_ids(rows, per_row),
                        config.layout_readers,
                        config.layout_seconds,
                        config.layout_wave_seconds,
                    )
                )


async def run_audience_scenario(args: argparse.Namespace, config: Config, scratch: Path, results: Results) -> None:
    subscribers, seconds = config.audience_subscribers, config.audience_seconds
    joiners = round(seconds / (INTERVAL / 2)) + 2  # one every half interval under churn
    with WorkerPool(config.workers, subscriber_worker, _fd_limit(subscribers + joiners)) as pool:
        results.clock_checks += await pool.check_clock()
        async with throwaway_database("sqlite", scratch, args.postgres_url) as database:
            showtime_id = await seed_showtime(database, config.rows, config.seats_per_row, args.server_source)
            async with running_server(database, scratch, args.server_source) as server:
                progress(
                    f"audience: {subscribers:,} subscribers, off then on, steady then with a join every "
                    f"{INTERVAL / 2:g} s, {seconds:g} s each"
                )
                results.audience.extend(await run_audience(pool, server, showtime_id, subscribers, seconds))
