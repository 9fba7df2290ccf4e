"""The results as Markdown tables: every figure next to its baseline, then the targets and the checks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.fanout import FanoutResult
from bench.layout import LayoutResult
from bench.locks import LockResult
from bench.memory import MemoryResult

__all__ = ["Results", "render"]

KIB = 1024
FANOUT_RATIO_TARGET = 1.25  # server / relay, at most
FANOUT_TARGET_SIZES = (1000, 5000)
LOCK_RATIO_TARGET = 0.5  # server / driver, at least
MEMORY_TARGET_KIB = 40.0
LAYOUT_RATIO_TARGET = 2.0  # the buyer's p99 under the seat map reads / alone, at most


@dataclass(slots=True)
class Results:
    fanout: list[tuple[FanoutResult, FanoutResult]] = field(default_factory=list)  # (server, relay)
    locks: list[tuple[LockResult, LockResult]] = field(default_factory=list)  # (server, driver)
    memory: list[tuple[MemoryResult, MemoryResult]] = field(default_factory=list)  # (server, relay)
    layout: list[LayoutResult] = field(default_factory=list)
    clock_checks: int = 0

    def failures(self) -> list[str]:
        """Correctness failures: missing or wrong deliveries, double holds, errors. Timing never fails a run."""
        problems: list[str] = []
        for pair in self.fanout:
            for run in pair:
                problems.extend(f"fan-out {run.target} x{run.subscribers}: {error}" for error in run.errors)
        for lock_pair in self.locks:
            for lock_run in lock_pair:
                where = f"locks {lock_run.target} {lock_run.database} x{lock_run.clients}"
                problems.extend(f"{where}: double hold or lost change: {v}" for v in lock_run.violations)
                problems.extend(f"{where}: {error}" for error in lock_run.errors)
        for layout in self.layout:
            problems.extend(f"layout x{layout.readers}: {error}" for error in layout.errors)
        return problems


def _ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else math.nan


def _pair(value: float, baseline: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f} / {baseline:,.{digits}f} ({_ratio(value, baseline):.2f}x)"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def render(results: Results) -> str:
    out: list[str] = []
    if results.fanout:
        out += ["### Fan-out latency (server on SQLite / bare `websockets` relay)", ""]
        out += _table(
            [
                "Subscribers",
                "Changes",
                "p50 ms",
                "p99 ms",
                "max ms",
                "Deliveries/s",
                "Server CPU µs/delivery",
                "Missing",
            ],
            [
                [
                    f"{server.subscribers:,}",
                    str(server.changes),
                    _pair(server.latency.p50_ms, relay.latency.p50_ms),
                    _pair(server.latency.p99_ms, relay.latency.p99_ms),
                    _pair(server.latency.max_ms, relay.latency.max_ms),
                    _pair(server.deliveries_per_second, relay.deliveries_per_second, 0),
                    _pair(server.server_cpu_us_per_delivery, relay.server_cpu_us_per_delivery, 2),
                    f"{server.missing} / {relay.missing}",
                ]
                for server, relay in results.fanout
            ],
        )
        out.append("")
    if results.locks:
        out += ["### Lock throughput under contention (server / raw driver)", ""]
        out += _table(
            [
                "Database",
                "Clients",
                "Successful ops/s",
                "p99 round trip ms",
                "CPU ms/op (server / driver process)",
                "Refused (contended)",
                "Double holds",
            ],
            [
                [
                    server.database,
                    str(server.clients),
                    _pair(server.ops_per_second, driver.ops_per_second, 0),
                    _pair(server.latency.p99_ms, driver.latency.p99_ms),
                    _pair(server.cpu_ms_per_op, driver.cpu_ms_per_op, 2),
                    f"{server.refused:,} / {driver.refused:,}",
                    f"{len(server.violations)} / {len(driver.violations)}",
                ]
                for server, driver in results.locks
            ],
        )
        out.append("")
    if results.memory:
        out += ["### Memory with idle subscribed connections (server / relay)", ""]
        out += _table(
            ["Connections", "RSS growth KiB per connection", "Whole RSS KiB per connection", "RSS MiB before → after"],
            [
                [
                    f"{server.connections:,}",
                    _pair(server.per_connection / KIB, relay.per_connection / KIB),
                    _pair(server.total_per_connection / KIB, relay.total_per_connection / KIB),
                    f"{server.rss_before / KIB / KIB:.0f} → {server.rss_idle / KIB / KIB:.0f}"
                    f" / {relay.rss_before / KIB / KIB:.0f} → {relay.rss_idle / KIB / KIB:.0f}",
                ]
                for server, relay in results.memory
            ],
        )
        out.append("")
    out += _layout(results.layout)
    out += _targets(results)
    out += _load_check(results)
    return "\n".join(out)


def _layout(runs: Sequence[LayoutResult]) -> list[str]:
    if not runs:
        return []
    out = ["### Seat map reads (`GET /api/showtimes/{id}`)", ""]
    out += _table(
        ["Seats", "Plain KiB", "Gzip KiB", "Cold ms", "Cached plain ms", "Cached gzip ms", "304 ms"],
        [
            [
                f"{run.seats:,}",
                f"{run.plain_bytes / KIB:,.1f}",
                f"{run.gzip_bytes / KIB:,.1f}",
                f"{run.cold_ms:,.1f}",
                f"{run.cached_plain_ms:,.1f}",
                f"{run.cached_gzip_ms:,.1f}",
                "no ETag" if run.not_modified_ms is None else f"{run.not_modified_ms:,.1f}",
            ]
            for run in runs
        ],
    )
    out += ["", "A buyer locking and unlocking every 20 ms, alone and under waves of concurrent reads:", ""]
    out += _table(
        [
            "Concurrent reads",
            "Buyer p99 ms alone → loaded (ratio)",
            "Buyer p50 ms alone → loaded",
            "Buyer max ms loaded",
            "Waves",
            "Read p50 / p99 ms",
            "Server RSS MiB before → peak",
        ],
        [
            [
                str(run.readers),
                f"{run.idle.p99_ms:,.1f} → {run.loaded.p99_ms:,.1f} ({run.ratio:.2f}x)",
                f"{run.idle.p50_ms:,.1f} → {run.loaded.p50_ms:,.1f}",
                f"{run.loaded.max_ms:,.1f}",
                str(run.waves),
                f"{run.reads.p50_ms:,.1f} / {run.reads.p99_ms:,.1f}",
                f"{run.rss_before / KIB / KIB:.0f} → {run.rss_peak / KIB / KIB:.0f}",
            ]
            for run in runs
        ],
    )
    return [*out, ""]


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _targets(results: Results) -> list[str]:
    rows: list[list[str]] = []
    for server, relay in results.fanout:
        if server.subscribers not in FANOUT_TARGET_SIZES:
            continue
        cpu = _ratio(server.server_cpu_us_per_delivery, relay.server_cpu_us_per_delivery)
        p99 = _ratio(server.latency.p99_ms, relay.latency.p99_ms)
        rows.append([f"Fan-out CPU/delivery x{server.subscribers:,}", f"≤ {FANOUT_RATIO_TARGET}x", f"{cpu:.2f}x"])
        rows[-1].append(_verdict(cpu <= FANOUT_RATIO_TARGET))
        rows.append([f"Fan-out p99 x{server.subscribers:,}", f"≤ {FANOUT_RATIO_TARGET}x", f"{p99:.2f}x"])
        rows[-1].append(_verdict(p99 <= FANOUT_RATIO_TARGET))
    for served, driver in results.locks:
        ratio = _ratio(served.ops_per_second, driver.ops_per_second)
        name = f"Lock ops/s {served.database} x{served.clients}"
        rows.append([name, f"≥ {LOCK_RATIO_TARGET}x", f"{ratio:.2f}x", _verdict(ratio >= LOCK_RATIO_TARGET)])
    if results.locks:
        holds = sum(len(run.violations) for pair in results.locks for run in pair)
        rows.append(["Double holds, all lock runs", "0", str(holds), _verdict(holds == 0)])
    for layout in results.layout:
        name = f"Lock p99 under {layout.readers} seat map reads / alone"
        goal, ratio = f"≤ {LAYOUT_RATIO_TARGET:g}x", layout.ratio
        rows.append([name, goal, f"{ratio:.2f}x", _verdict(ratio <= LAYOUT_RATIO_TARGET)])
    for memory, _ in results.memory:
        kib = memory.per_connection / KIB
        goal = f"≤ {MEMORY_TARGET_KIB:.0f} KiB"
        rows.append([f"Memory x{memory.connections:,}", goal, f"{kib:.1f} KiB", _verdict(kib <= MEMORY_TARGET_KIB)])
    if not rows:
        return []
    return ["### Targets", "", *_table(["Target", "Goal", "Measured", "Verdict"], rows), ""]


def _load_check(results: Results) -> list[str]:
    """Who was busy: the process under test, the load generator, everything else (cores, in the windows)."""
    rows: list[list[str]] = []
    for pair in results.fanout:
        for run in pair:
            rows.append(
                [
                    f"fan-out x{run.subscribers:,}",
                    run.target,
                    f"{run.server_cores:.2f}",
                    f"{run.loadgen_cores:.2f} ({run.loadgen_processes} processes + locker)",
                    f"{run.others_cores:.2f}",
                    f"{run.connect_seconds:.1f}",
                ]
            )
    for lock_pair in results.locks:
        for lock_run in lock_pair:
            rows.append(
                [
                    f"locks {lock_run.database} x{lock_run.clients}",
                    lock_run.target,
                    f"{lock_run.server_cores:.2f}" if lock_run.target == "server" else "-",
                    f"{lock_run.loadgen_cores:.2f}",
                    f"{lock_run.others_cores:.2f}",
                    "",
                ]
            )
    if not rows:
        return []
    header = [
        "Run",
        "Under test",
        "Its cores",
        "Load generator cores",
        "Other processes' cores (incl. PostgreSQL)",
        "Connect + subscribe s",
    ]
    footer = ""
    if results.clock_checks:
        footer = f"Monotonic clock agreement across processes checked {results.clock_checks} times."
    return ["### Where the CPU went", "", *_table(header, rows), "", footer, ""]
