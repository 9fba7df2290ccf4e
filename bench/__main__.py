"""``python -m bench``: start the server on its own ports and databases, run the load, print the table.

Exits 0 when every delivery arrived and no seat was ever held twice, 1 when not, 2 when the benchmark
could not run (PostgreSQL unreachable, a process failed to start). Timings never fail the run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from bench.config import FULL, QUICK, Config
from bench.fanout import FanoutResult, FanoutTarget, change_plan, run_fanout
from bench.layout import run_layout
from bench.lockers import locker_worker
from bench.locks import run_locks
from bench.memory import memory_of
from bench.proc import raise_fd_limit
from bench.readers import reader_worker
from bench.report import Results, render
from bench.servers import (
    PROJECT_ROOT,
    DatabaseKind,
    postgres_reachable,
    running_relay,
    running_server,
    seed_showtime,
    throwaway_database,
)
from bench.subscribers import subscriber_worker
from bench.workers import WorkerPool
from bench.workload import Workload, seat_ids

SCENARIOS = ("fanout", "memory", "locks", "layout")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
FD_HEADROOM = 1024


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Config]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="the small CI configuration: correctness only")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="any of " + ",".join(SCENARIOS))
    parser.add_argument("--databases", help="for the lock scenario: any of sqlite,postgresql")
    parser.add_argument("--subscribers", type=_ints, help="fan-out sizes, e.g. 1000,5000,10000")
    parser.add_argument("--changes", type=int, help="changes per fan-out size (default: fewer for larger sizes)")
    parser.add_argument("--memory-connections", type=int, help="idle connections for the memory scenario")
    parser.add_argument("--clients", type=_ints, help="lock clients, e.g. 50,200")
    parser.add_argument("--seconds", type=float, help="duration of each lock run")
    parser.add_argument("--workers", type=int, help="load-generator processes")
    parser.add_argument("--readers", type=int, help="concurrent seat map reads per wave (layout scenario)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="an admin connection; a throwaway database is created and dropped there",
    )
    parser.add_argument(
        "--server-source",
        type=Path,
        default=PROJECT_ROOT,
        help="directory holding the server package to benchmark (default: this checkout)",
    )
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = args.subscribers or base.fanout_sizes
    changes = (
        tuple(args.changes for _ in sizes)
        if args.changes is not None
        else tuple(base.changes_for(size) if size in base.fanout_sizes else base.fanout_changes[-1] for size in sizes)
    )
    databases: tuple[DatabaseKind, ...] = base.databases
    if args.databases:
        chosen = tuple(name for name in args.databases.split(",") if name)
        if not set(chosen) <= {"sqlite", "postgresql"}:
            parser.error("--databases takes sqlite and/or postgresql")
        databases = tuple(kind for kind in ("sqlite", "postgresql") if kind in chosen)
    scenarios = tuple(name for name in args.scenarios.split(",") if name)
    if not set(scenarios) <= set(SCENARIOS):
        parser.error(f"--scenarios takes any of {','.join(SCENARIOS)}")
    args.scenarios = scenarios
    config = dataclasses.replace(
        base,
        fanout_sizes=sizes,
        fanout_changes=changes,
        memory_connections=args.memory_connections or base.memory_connections,
        lock_clients=args.clients or base.lock_clients,
        lock_seconds=args.seconds or base.lock_seconds,
        databases=databases,
        workers=args.workers or base.workers,
        layout_readers=args.readers or base.layout_readers,
    )
    return args, config


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run_fanout_and_memory(args: argparse.Namespace, config: Config, scratch: Path, results: Results) -> None:
    wants_fanout = "fanout" in args.scenarios
    wants_memory = "memory" in args.scenarios
    sizes = list(config.fanout_sizes) if wants_fanout else []
    # Memory is read from the first run on fresh processes: the largest size first, or a run of its own.
    sizes.sort(reverse=True)
    if wants_memory and config.memory_connections not in sizes:
        sizes.insert(0, config.memory_connections)
    elif wants_memory:
        sizes.remove(config.memory_connections)
        sizes.insert(0, config.memory_connections)
    seats = seat_ids(config.rows, config.seats_per_row)
    fd_limit = raise_fd_limit(max(sizes) * 2 + FD_HEADROOM)
    if fd_limit < max(sizes) + FD_HEADROOM:
        raise RuntimeError(
            f"{max(sizes):,} connections need an open-file limit of at least {max(sizes) + FD_HEADROOM:,}, "
            f"and the hard limit allows {fd_limit:,}: raise it (ulimit -Hn) or pick smaller sizes"
        )
    by_size: dict[int, tuple[FanoutResult, FanoutResult]] = {}
    with WorkerPool(config.workers, subscriber_worker, fd_limit) as pool:
        results.clock_checks += await pool.check_clock()
        async with throwaway_database("sqlite", scratch, args.postgres_url) as database:
            showtime_id = await seed_showtime(database, config.rows, config.seats_per_row, args.server_source)
            async with (
                running_server(database, scratch, args.server_source) as server,
                running_relay(scratch) as relay,
            ):
                targets = [FanoutTarget(server, showtime_id), FanoutTarget(relay, showtime_id)]
                progress("fan-out: warming up the server, the relay and the load generator")
                warm = change_plan(config.warm_up_changes, seats[-config.warm_up_changes :])
                await run_fanout(targets, pool, config.warm_up_subscribers, warm, config.fanout_block)
                first = True
                for size in sizes:
                    measured = wants_fanout and size in config.fanout_sizes
                    changes = config.changes_for(size) if measured else 0
                    progress(f"fan-out: {size:,} subscribers on the server and on the relay, {changes} changes each")
                    server_run, relay_run = await run_fanout(
                        targets, pool, size, change_plan(changes, seats), config.fanout_block
                    )
                    if first and wants_memory:
                        results.memory.append((memory_of(server_run), memory_of(relay_run)))
                    if measured:
                        by_size[size] = (server_run, relay_run)
                    elif server_run.errors or relay_run.errors:
                        results.fanout.append((server_run, relay_run))  # carries the errors to the exit code
                    first = False
    results.fanout.extend(by_size[size] for size in sorted(by_size))


async def run_lock_scenarios(args: argparse.Namespace, config: Config, scratch: Path, results: Results) -> None:
    workload = Workload(seat_ids(config.rows, config.seats_per_row), seconds=config.lock_seconds)
    fd_limit = raise_fd_limit(max(config.lock_clients) * 2 + FD_HEADROOM)
    with WorkerPool(config.workers, locker_worker, fd_limit) as pool:
        results.clock_checks += await pool.check_clock()
        for kind in config.databases:
            async with throwaway_database(kind, scratch, args.postgres_url) as database:
                showtimes = [
                    await seed_showtime(database, config.rows, config.seats_per_row, args.server_source)
                    for _ in range(2 * len(config.lock_clients))
                ]
                async with running_server(database, scratch, args.server_source) as server:
                    for clients in config.lock_clients:
                        progress(
                            f"locks: {clients} clients on {kind}, raw driver then server, {config.lock_seconds} s each"
                        )
                        driver = await run_locks(pool, database, showtimes.pop(), clients, workload, None)
                        served = await run_locks(pool, database, showtimes.pop(), clients, workload, server)
                        results.locks.append((served, driver))


async def run_layout_scenario(args: argparse.Namespace, config: Config, scratch: Path, results: Results) -> None:
    rows, per_row = config.layout_rows, config.layout_seats_per_row
    with WorkerPool(1, reader_worker, raise_fd_limit(config.layout_readers + FD_HEADROOM)) as pool:
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


def machine() -> str:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    except OSError:
        pass
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("websockets", "sqlalchemy", "asyncpg"))
    return (
        f"{os.cpu_count()} x {model}, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
        f"Linux {platform.release()}; Python {platform.python_version()}; {versions}"
    )


def revision(source: Path) -> str:
    """The commit of the benchmarked server package, marked when ``server/`` has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--", "server"], capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return commit + (" with uncommitted changes to server/" if dirty else "")


async def main_async(args: argparse.Namespace, config: Config) -> int:
    if "locks" in args.scenarios and "postgresql" in config.databases:
        why = await postgres_reachable(args.postgres_url)
        if why is not None:
            print(f"PostgreSQL is not reachable at {args.postgres_url}: {why}", file=sys.stderr)
            return 2
    results = Results()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="seat-bench-") as scratch:
        if "fanout" in args.scenarios or "memory" in args.scenarios:
            await run_fanout_and_memory(args, config, Path(scratch), results)
        if "locks" in args.scenarios:
            await run_lock_scenarios(args, config, Path(scratch), results)
        if "layout" in args.scenarios:
            await run_layout_scenario(args, config, Path(scratch), results)
    print(f"## Benchmark results{' (quick: correctness only, timings meaningless)' if args.quick else ''}\n")
    print(f"Machine: {machine()}  ")
    print(f"Server: {revision(args.server_source)}  \nRun took {time.monotonic() - started:.0f} s.\n")
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(dataclasses.asdict(results), indent=2, default=str))
    failures = results.failures()
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args, config = parse_args(argv)
    try:
        return asyncio.run(main_async(args, config))
    except RuntimeError as error:
        print(f"the benchmark could not run: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
