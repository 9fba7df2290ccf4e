"""``python -m bench``: start the server on its own ports and databases, run the load, print the table.

Exits 0 when every change reached every subscriber in order, every storm client's view settled to the
database's, every acked change is in the database, no seat was ever held twice and every seat map read
came back whole; 1 when not; 2 when the benchmark could not run (PostgreSQL or Redis unreachable, a
process failed to start). Timings never fail the run.
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

from bench.config import FULL, MAX_SEATS_PER_REQUEST, QUICK, Config
from bench.report import Results, render
from bench.runs import run_audience_scenario, run_instances, run_layout_scenario, run_lock_scenarios, run_single
from bench.servers import PROJECT_ROOT, DatabaseKind, postgres_reachable, redis_reachable

SCENARIOS = ("fanout", "memory", "storm", "locks", "instances", "layout", "audience")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
BATCH_MODES = {"off": (False,), "on": (True,), "both": (False, True)}


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
    parser.add_argument("--storm-clients", type=_ints, help="subscribe-storm sizes, e.g. 2000,10000")
    parser.add_argument(
        "--seats-per-request",
        type=int,
        help=f"seats the fan-out locker changes per request, 1 to {MAX_SEATS_PER_REQUEST}",
    )
    parser.add_argument(
        "--batch",
        nargs="?",
        const="on",
        choices=tuple(BATCH_MODES),
        help="fan-out subscribers ask for one frame per commit (subscribe batch); both: per seat, then batched",
    )
    parser.add_argument("--clients", type=_ints, help="lock clients, e.g. 50,200")
    parser.add_argument("--seconds", type=float, help="duration of each lock run")
    parser.add_argument("--workers", type=int, help="load-generator processes")
    parser.add_argument("--readers", type=int, help="concurrent seat map reads per wave (layout scenario)")
    parser.add_argument("--audience-subscribers", type=int, help="subscribers told the audience (audience scenario)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="an admin connection; a throwaway database is created and dropped there",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="the Redis the instances scenario's servers share (on a channel prefix of their own)",
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
    seats_per_request = base.seats_per_request if args.seats_per_request is None else args.seats_per_request
    if not 1 <= seats_per_request <= MAX_SEATS_PER_REQUEST:
        parser.error(f"--seats-per-request takes 1 to {MAX_SEATS_PER_REQUEST}, the server's MAX_SEATS_PER_REQUEST")
    config = dataclasses.replace(
        base,
        fanout_sizes=sizes,
        fanout_changes=changes,
        memory_connections=args.memory_connections or base.memory_connections,
        storm_sizes=args.storm_clients or base.storm_sizes,
        lock_clients=args.clients or base.lock_clients,
        lock_seconds=args.seconds or base.lock_seconds,
        databases=databases,
        seats_per_request=seats_per_request,
        fanout_batch=BATCH_MODES[args.batch] if args.batch else base.fanout_batch,
        workers=args.workers or base.workers,
        layout_readers=args.readers or base.layout_readers,
        audience_subscribers=args.audience_subscribers or base.audience_subscribers,
    )
    return args, config


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
    if "instances" in args.scenarios or ("locks" in args.scenarios and "postgresql" in config.databases):
        why = await postgres_reachable(args.postgres_url)
        if why is not None:
            print(f"PostgreSQL is not reachable at {args.postgres_url}: {why}", file=sys.stderr)
            return 2
    if "instances" in args.scenarios and (why := await redis_reachable(args.redis_url)) is not None:
        print(f"Redis is not reachable at {args.redis_url}: {why}", file=sys.stderr)
        return 2
    results = Results()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="seat-bench-") as scratch:
        if {"fanout", "memory", "storm"} & set(args.scenarios):
            await run_single(args, config, Path(scratch), results)
        if "locks" in args.scenarios:
            await run_lock_scenarios(args, config, Path(scratch), results)
        if "instances" in args.scenarios:
            await run_instances(args, config, Path(scratch), results)
        if "layout" in args.scenarios:
            await run_layout_scenario(args, config, Path(scratch), results)
        if "audience" in args.scenarios:
            await run_audience_scenario(args, config, Path(scratch), results)
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
