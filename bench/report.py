"""The results as Markdown tables: every figure next to its same-run baselines, then the targets and the checks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.audience import AudienceResult
from bench.fanout import FanoutResult
from bench.layout import LayoutResult
from bench.locks import DRIVER, LockResult
from bench.memory import MemoryResult
from bench.storm import StormResult

__all__ = ["InstanceResults", "Results", "render"]

KIB = 1024
FANOUT_CPU_TARGET = 1.0  # server / relay, CPU per delivered change, at most
FANOUT_P99_TARGET = 1.25  # server / relay, at most
FANOUT_TARGET_SIZES = (1000, 5000, 10000)
STORM_RATIO_TARGET = 1.5  # server / relay: CPU per connect + subscribe, and the time to the last snapshot, at most
LOCK_RATIO_TARGET = 0.5  # server / driver, and server / Node.js, at least
LOCK_OPS_TARGET = {"sqlite": 5000, "postgresql": 3000}  # committed lock and unlock operations per second, at least
MEMORY_TARGET_KIB = 40.0
LAYOUT_RATIO_TARGET = 2.0  # the buyer's p99 under the seat map reads / alone, at most


@dataclass(slots=True)
class InstanceResults:
    """Two servers on PostgreSQL and Redis against one: each tuple is (two instances, one instance)."""

    fanout: list[tuple[FanoutResult, ...]] = field(default_factory=list)
    storm: list[tuple[StormResult, ...]] = field(default_factory=list)
    locks: list[tuple[LockResult, ...]] = field(default_factory=list)


@dataclass(slots=True)
class Results:
    fanout: list[tuple[FanoutResult, ...]] = field(default_factory=list)  # (server, relay, node)
    storm: list[tuple[StormResult, ...]] = field(default_factory=list)  # (server, relay, node)
    locks: list[tuple[LockResult, ...]] = field(default_factory=list)  # (server, driver, node, relay)
    memory: list[tuple[MemoryResult, ...]] = field(default_factory=list)  # (server, relay, node)
    instances: InstanceResults = field(default_factory=InstanceResults)
    layout: list[LayoutResult] = field(default_factory=list)
    audience: list[AudienceResult] = field(default_factory=list)  # off steady, off churn, on steady, on churn
    clock_checks: int = 0

    def failures(self) -> list[str]:
        """Correctness failures: missing, late or wrong deliveries, wrong views, double holds, lost changes,
        errors. Timing never fails a run."""
        problems: list[str] = []
        for fanouts in (self.fanout, self.instances.fanout):
            for run in (run for group in fanouts for run in group):
                problems.extend(f"fan-out {run.target} x{run.subscribers}: {error}" for error in run.errors)
        for storms in (self.storm, self.instances.storm):
            for storm in (run for group in storms for run in group):
                problems.extend(f"storm {storm.target} x{storm.clients}: {error}" for error in storm.errors)
        for locks in (self.locks, self.instances.locks):
            for lock_run in (run for group in locks for run in group):
                where = f"locks {lock_run.target} {lock_run.database} x{lock_run.clients}"
                problems.extend(f"{where}: double hold or lost change: {v}" for v in lock_run.violations)
                problems.extend(f"{where}: {error}" for error in lock_run.errors)
        for layout in self.layout:
            problems.extend(f"layout x{layout.readers}: {error}" for error in layout.errors)
        for audience in self.audience:
            problems.extend(f"audience x{audience.subscribers}: {error}" for error in audience.errors)
        return problems


def _ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else math.nan


def _vs(values: Sequence[float], digits: int = 1) -> str:
    """The first value, then each baseline, then the first's ratio to each: ``21.0 / 15.3 / 12.0 (1.37x, 1.75x)``."""
    figures = " / ".join(f"{value:,.{digits}f}" for value in values)
    ratios = ", ".join(f"{_ratio(values[0], baseline):.2f}x" for baseline in values[1:])
    return f"{figures} ({ratios})"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _section(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [f"### {title}", "", *_table(header, rows), ""] if rows else []


def _frames(run: FanoutResult) -> str:
    return "one per commit" if run.batch else "one per change"


def _per_request(run: FanoutResult) -> str:
    return f"{run.seats_per_request} seat{'s' if run.seats_per_request > 1 else ''} per request"


def _fanout(title: str, groups: list[tuple[FanoutResult, ...]]) -> list[str]:
    header = ["Subscribers", "Seats per request", "Frames", "Changes", "p50 ms", "p99 ms", "Deliveries/s"]
    header += ["Server CPU µs/delivery", "Server CPU ms/change", "Missing"]
    rows = [
        [
            f"{group[0].subscribers:,}",
            str(group[0].seats_per_request),
            _frames(group[0]),
            str(group[0].changes),
            _vs([run.latency.p50_ms for run in group]),
            _vs([run.latency.p99_ms for run in group]),
            _vs([run.deliveries_per_second for run in group], 0),
            _vs([run.server_cpu_us_per_delivery for run in group], 2),
            _vs([run.server_cpu_ms_per_change for run in group], 2),
            " / ".join(str(run.missing) for run in group),
        ]
        for group in groups
    ]
    return _section(title, header, rows) + _batching(groups)


def _batching(groups: list[tuple[FanoutResult, ...]]) -> list[str]:
    """What one frame per commit bought each target, where the run measured both ways at a size."""
    per_change = {(group[0].subscribers, group[0].seats_per_request): group for group in groups if not group[0].batch}
    lines: list[str] = []
    for batched in (group for group in groups if group[0].batch):
        plain = per_change.get((batched[0].subscribers, batched[0].seats_per_request))
        if plain is None:
            continue
        figures = ", ".join(
            f"{after.target} {before.server_cpu_us_per_delivery:.2f} → {after.server_cpu_us_per_delivery:.2f}"
            f" ({_ratio(after.server_cpu_us_per_delivery, before.server_cpu_us_per_delivery):.2f}x)"
            for before, after in zip(plain, batched, strict=True)
        )
        lines.append(
            f"One frame per commit at {batched[0].subscribers:,} subscribers, {_per_request(batched[0])}, CPU µs per"
            f" delivered change, one frame per change → one per commit: {figures}.  "
        )
    return [*lines, ""] if lines else []


def _bus(groups: list[tuple[FanoutResult, ...]]) -> list[str]:
    """The bus's cost per change: the CPU of both instances per change, minus one server's."""
    lines = []
    for two, one in groups:
        both, alone = two.server_cpu_ms_per_change * 1e3, one.server_cpu_ms_per_change * 1e3
        per_delivery = two.server_cpu_us_per_delivery - one.server_cpu_us_per_delivery
        lines.append(
            f"The bus's cost at {_fanout_label(two)}: both instances {both:,.0f} µs of CPU per change, one server"
            f" {alone:,.0f}: {both - alone:+,.0f} µs per change, {per_delivery:+.2f} µs per delivered change.  "
        )
    return [*lines, ""] if lines else []


def _cores(total: float, per_instance: Sequence[float]) -> str:
    """Cores used, and each instance's share when there are several: ``0.82 (0.41 + 0.41)``."""
    shares = f" ({' + '.join(f'{cores:.2f}' for cores in per_instance)})" if len(per_instance) > 1 else ""
    return f"{total:.2f}{shares}"


def _storm(title: str, groups: list[tuple[StormResult, ...]]) -> list[str]:
    header = ["Clients", "CPU ms per connect + subscribe", "s until the last snapshot", "Changes during", "Errors"]
    rows = [
        [
            f"{group[0].clients:,}",
            _vs([run.cpu_ms_per_client for run in group], 3),
            _vs([run.seconds_to_last_snapshot for run in group], 2),
            " / ".join(str(run.changes) for run in group),
            " / ".join(str(len(run.errors)) for run in group),
        ]
        for group in groups
    ]
    return _section(title, header, rows)


def _locks(title: str, groups: list[tuple[LockResult, ...]]) -> list[str]:
    header = ["Database", "Clients", "Committed lock + unlock ops/s", "p99 round trip ms", "CPU ms/op"]
    header += ["Refused (contended)", "Double holds"]
    rows = [
        [
            group[0].database,
            str(group[0].clients),
            _vs([run.ops_per_second for run in group], 0),
            _vs([run.latency.p99_ms for run in group]),
            _vs([run.cpu_ms_per_op for run in group], 2),
            " / ".join(f"{run.refused:,}" for run in group),
            " / ".join(str(len(run.violations)) for run in group),
        ]
        for group in groups
    ]
    return _section(title, header, rows)


def _memory(groups: list[tuple[MemoryResult, ...]]) -> list[str]:
    header = ["Connections", "RSS growth KiB per connection", "Whole RSS KiB per connection", "RSS MiB before → after"]
    rows = [
        [
            f"{group[0].connections:,}",
            _vs([run.per_connection / KIB for run in group]),
            _vs([run.total_per_connection / KIB for run in group]),
            " / ".join(f"{run.rss_before / KIB / KIB:.0f} → {run.rss_idle / KIB / KIB:.0f}" for run in group),
        ]
        for group in groups
    ]
    return _section("Memory with idle subscribed connections (server / relay / Node.js)", header, rows)


def _layout(runs: list[LayoutResult]) -> list[str]:
    header = ["Seats", "Plain KiB", "Gzip KiB", "Cold ms", "Cached plain ms", "Cached gzip ms", "304 ms"]
    rows = [
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
    ]
    out = _section("Seat map reads (`GET /api/showtimes/{id}`)", header, rows)
    header = ["Concurrent reads", "Buyer p99 ms alone → loaded (ratio)", "Buyer p50 ms alone → loaded"]
    header += ["Buyer max ms loaded", "Waves", "Read p50 / p99 ms", "Server RSS MiB before → peak"]
    rows = [
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
    ]
    return out + _section(
        "A buyer locking and unlocking every 20 ms, alone and under waves of seat map reads", header, rows
    )


def _audience(runs: list[AudienceResult]) -> list[str]:
    header = ["Subscribers", "Audience messages", "Count", "Messages/s", "Per subscriber per s", "Server cores"]
    header += ["Load generator cores", "Other processes' cores"]
    rows = [
        [
            f"{run.subscribers:,}",
            "on" if run.audience else "off",
            "changes every interval" if run.churn else "steady",
            f"{run.messages_per_second:,.0f}",
            f"{run.messages_per_second / run.subscribers:.2f}",
            f"{run.server_cores:.3f}",
            f"{run.loadgen_cores:.2f}",
            f"{run.others_cores:.2f}",
        ]
        for run in runs
    ]
    out = _section("Audience updates (one server on SQLite, AUDIENCE_INTERVAL_SECONDS=1)", header, rows)
    churned = {run.audience: run for run in runs if run.churn}
    if True in churned and False in churned and churned[True].messages_per_second:
        on, off = churned[True], churned[False]
        extra = on.server_cores - off.server_cores
        per_message = extra / on.messages_per_second * 1e6
        out += [
            f"Cost of the updates (on - off, count changing): {extra:.3f} cores for {on.messages_per_second:,.0f}"
            f" messages/s, {per_message:.1f} µs of server CPU per message.",
            "",
        ]
    return out


def render(results: Results) -> str:
    found = results.instances
    out = _fanout("Fan-out (server on SQLite / bare `websockets` relay / Node.js `ws`)", results.fanout)
    out += _storm("Subscribe storm (server on SQLite / relay / Node.js)", results.storm)
    out += _locks(
        "Lock throughput under contention (server / raw driver / Node.js in memory / relay in memory)", results.locks
    )
    out += _memory(results.memory)
    out += _fanout("Fan-out on PostgreSQL (two instances over Redis / one server)", found.fanout)
    out += _bus(found.fanout)
    out += _storm("Subscribe storm on PostgreSQL, clients split over the instances (two / one)", found.storm)
    out += _locks("Lock throughput on PostgreSQL, clients split over the instances (two / one)", found.locks)
    out += _spread(found.locks)
    out += _layout(results.layout)
    out += _audience(results.audience)
    out += _targets(results)
    out += _load_check(results)
    return "\n".join(out)


def _spread(groups: list[tuple[LockResult, ...]]) -> list[str]:
    """Where the lock load landed: the cores each instance used."""
    lines = [
        f"Lock load at {two.clients} clients, cores of both instances (each):"
        f" {_cores(two.server_cores, two.instance_cores)}.  "
        for two, *_ in groups
    ]
    return [*lines, ""] if lines else []


def _fanout_label(run: FanoutResult) -> str:
    return f"x{run.subscribers:,}, {_per_request(run)}, frames {_frames(run)}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _targets(results: Results) -> list[str]:
    rows: list[list[str]] = []
    for server, relay, *_ in results.fanout:
        if server.subscribers not in FANOUT_TARGET_SIZES:
            continue
        cpu = _ratio(server.server_cpu_us_per_delivery, relay.server_cpu_us_per_delivery)
        p99 = _ratio(server.latency.p99_ms, relay.latency.p99_ms)
        rows.append([f"Fan-out CPU/delivery {_fanout_label(server)}", f"≤ {FANOUT_CPU_TARGET}x", f"{cpu:.2f}x"])
        rows[-1].append(_verdict(cpu <= FANOUT_CPU_TARGET))
        rows.append([f"Fan-out p99 {_fanout_label(server)}", f"≤ {FANOUT_P99_TARGET}x", f"{p99:.2f}x"])
        rows[-1].append(_verdict(p99 <= FANOUT_P99_TARGET))
    for stormed, relayed, *_ in results.storm:
        for what, mine, ceiling in (
            ("CPU/connect + subscribe", stormed.cpu_ms_per_client, relayed.cpu_ms_per_client),
            ("time to the last snapshot", stormed.seconds_to_last_snapshot, relayed.seconds_to_last_snapshot),
        ):
            ratio = _ratio(mine, ceiling)
            name = f"Storm {what} x{stormed.clients:,}"
            rows.append([name, f"≤ {STORM_RATIO_TARGET}x", f"{ratio:.2f}x", _verdict(ratio <= STORM_RATIO_TARGET)])
    for served, driver, node, *_ in results.locks:
        name = f"Lock ops/s {served.database} x{served.clients}"
        ops, most = served.ops_per_second, LOCK_OPS_TARGET[served.database]
        rows.append([name, f"≥ {most:,}", f"{ops:,.0f}", _verdict(ops >= most)])
        for baseline in (driver, node):
            ratio = _ratio(ops, baseline.ops_per_second)
            rows.append([f"{name} / {baseline.target}", f"≥ {LOCK_RATIO_TARGET}x", f"{ratio:.2f}x"])
            rows[-1].append(_verdict(ratio >= LOCK_RATIO_TARGET))
    every_lock_run = [run for locks in (results.locks, results.instances.locks) for group in locks for run in group]
    if every_lock_run:
        holds = sum(len(run.violations) for run in every_lock_run)
        rows.append(["Double holds or lost changes, all lock runs", "0", str(holds), _verdict(holds == 0)])
    for layout in results.layout:
        name = f"Lock p99 under {layout.readers} seat map reads / alone"
        goal, ratio = f"≤ {LAYOUT_RATIO_TARGET:g}x", layout.ratio
        rows.append([name, goal, f"{ratio:.2f}x", _verdict(ratio <= LAYOUT_RATIO_TARGET)])
    for memory, *_ in results.memory:
        kib = memory.per_connection / KIB
        goal = f"≤ {MEMORY_TARGET_KIB:.0f} KiB"
        rows.append([f"Memory x{memory.connections:,}", goal, f"{kib:.1f} KiB", _verdict(kib <= MEMORY_TARGET_KIB)])
    return _section("Targets", ["Target", "Goal", "Measured", "Verdict"], rows)


def _load_check(results: Results) -> list[str]:
    """Who was busy: the processes under test, the load generator, everything else (cores, in the windows)."""
    found = results.instances
    rows: list[list[str]] = []
    for run in (run for fanouts in (results.fanout, found.fanout) for group in fanouts for run in group):
        rows.append(
            [
                f"fan-out {_fanout_label(run)}",
                run.target,
                _cores(run.server_cores, run.instance_cores),
                f"{run.loadgen_cores:.2f} ({run.loadgen_processes} processes + locker)",
                f"{run.others_cores:.2f}",
                f"{run.connect_seconds:.1f}",
            ]
        )
    for storm in (run for storms in (results.storm, found.storm) for group in storms for run in group):
        rows.append(
            [
                f"storm x{storm.clients:,}",
                storm.target,
                f"{storm.cores:.2f}",
                f"{storm.loadgen_cores:.2f}",
                f"{storm.others_cores:.2f}",
                f"{storm.seconds_to_last_snapshot:.1f}",
            ]
        )
    lock_runs = [run for locks in (results.locks, found.locks) for group in locks for run in group]
    for lock_run in {id(run): run for run in lock_runs}.values():  # the Node.js runs sit in every database's row
        rows.append(
            [
                f"locks {lock_run.database} x{lock_run.clients}",
                lock_run.target,
                "-" if lock_run.target == DRIVER else _cores(lock_run.server_cores, lock_run.instance_cores),
                f"{lock_run.loadgen_cores:.2f}",
                f"{lock_run.others_cores:.2f}",
                "",
            ]
        )
    header = ["Run", "Under test", "Its cores", "Load generator cores", "Other processes' cores (incl. PostgreSQL)"]
    header.append("Connect + subscribe s")
    lines = _section("Where the CPU went", header, rows)
    if lines and results.clock_checks:
        lines += [f"Monotonic clock agreement across processes checked {results.clock_checks} times.", ""]
    return lines
