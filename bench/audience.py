"""Audience updates: what telling N subscribers how many people look at their showtime costs the server.

One server (SQLite, ``AUDIENCE_INTERVAL_SECONDS`` at its default of 1 s) holds N subscribers of one
showtime: first subscribed with ``"audience": false`` (off), then asking for the audience (on). Each way is
measured twice, ``seconds`` each:

- steady: nobody joins or leaves, so the count stays put and no audience message is due; what the server
  spends on top of "off" is its look at every subscriber once per interval;
- churn: one more client subscribes every half interval, so the count changes every interval and, with
  the audience on, each of the N subscribers is told once per interval: N messages a second. The joiners
  opt out, so every message counted went to one of the N.

Figures: audience messages the N received per second in the window, and the server process's CPU time per
second of it (from /proc: cores kept busy). The cost of the updates is on minus off under churn. The run is
correct when, in the end, every subscriber with the audience on was last told the true count (the N and
the joiners) and none with it off was told anything.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.fanout import split
from bench.proc import CpuMeter
from bench.servers import Target
from bench.watchers import NOT_TOLD, Heard, Unwatch, Watch, Watchers, WatchReport
from bench.workers import WorkerPool

__all__ = ["INTERVAL", "AudienceResult", "run_audience"]

INTERVAL = 1.0  # the server's AUDIENCE_INTERVAL_SECONDS (its default)
CONVERGE_TIMEOUT = 60.0


@dataclass(slots=True)
class AudienceResult:
    subscribers: int
    audience: bool  # the N asked for audience messages
    churn: bool  # the count changed every interval
    seconds: float = 0.0
    messages: int = 0  # audience messages the N received in the window
    server_cores: float = 0.0
    loadgen_cores: float = 0.0
    others_cores: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True)
class _Run:
    pool: WorkerPool
    server: Target
    showtime_id: str
    subscribers: int
    seconds: float

    def watch(self, group: str, count: int, audience: bool) -> Watch:
        return Watch(
            group, ((self.server.host, self.server.port, self.server.path),), self.showtime_id, count, audience
        )


async def run_audience(
    pool: WorkerPool, server: Target, showtime_id: str, subscribers: int, seconds: float
) -> list[AudienceResult]:
    """Off then on, each steady then under churn: four results."""
    run = _Run(pool, server, showtime_id, subscribers, seconds)
    results: list[AudienceResult] = []
    for audience in (False, True):
        group = f"audience-{'on' if audience else 'off'}"
        pool.send_all([run.watch(group, share, audience) for share in split(subscribers, len(pool.channels))])
        await pool.gather()
        joiners: list[Watchers] = []
        try:
            await asyncio.sleep(2 * INTERVAL)  # the counts of the joins told before measuring
            for churn in (False, True):
                results.append(await _measure(run, group, audience, churn, joiners))
            results[-1].errors.extend(await _check(pool, group, audience, subscribers, subscribers + len(joiners)))
        finally:
            for joiner in joiners:
                joiner.close()
            pool.send_all([Unwatch(group)] * len(pool.channels))
            await pool.gather()
    return results


async def _measure(run: _Run, group: str, audience: bool, churn: bool, joiners: list[Watchers]) -> AudienceResult:
    """One window of ``run.seconds``; under churn, a joiner (opted out) every half interval on the clock, however
    long each takes to subscribe, kept to the end."""
    loadgen = [*run.pool.pids, os.getpid()]
    before = _messages(await _heard(run.pool, group))
    meter = CpuMeter([run.server.pid, *loadgen])
    meter.start()
    start = time.monotonic()
    joining: list[asyncio.Task[None]] = []
    while churn and (due := start + len(joining) * INTERVAL / 2) < start + run.seconds:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        joiners.append(Watchers(run.watch("joiner", 1, audience=False)))
        joining.append(asyncio.create_task(joiners[-1].open()))
    await asyncio.sleep(max(0.0, start + run.seconds - time.monotonic()))
    meter.stop()
    await asyncio.gather(*joining)
    messages = _messages(await _heard(run.pool, group)) - before
    return AudienceResult(
        run.subscribers, audience, churn, meter.wall, messages,
        server_cores=meter.cores([run.server.pid]), loadgen_cores=meter.cores(loadgen),
        others_cores=meter.others_cores, errors=[error for joiner in joiners for error in joiner.errors],
    )  # fmt: skip


async def _check(pool: WorkerPool, group: str, audience: bool, subscribers: int, total: int) -> list[str]:
    """Every subscriber told the true count in the end (audience on), or nothing at all (off)."""
    wanted = Counter({total: subscribers}) if audience else Counter({NOT_TOLD: subscribers})
    deadline = time.monotonic() + CONVERGE_TIMEOUT
    while True:
        reports = await _heard(pool, group)
        told = sum((report.last for report in reports), Counter[int]())
        errors = [error for report in reports for error in report.errors]
        if closed := sum(report.closed for report in reports):
            errors.append(f"{closed} subscribers were disconnected")
        if told == wanted or errors or time.monotonic() > deadline:
            break
        await asyncio.sleep(INTERVAL / 2)
    if told != wanted:
        errors.append(f"audience {'on' if audience else 'off'}: last told {dict(told)}, expected {dict(wanted)}")
    return errors


async def _heard(pool: WorkerPool, group: str) -> list[WatchReport]:
    pool.send_all([Heard(group)] * len(pool.channels))
    return list(await pool.gather())


def _messages(reports: list[WatchReport]) -> int:
    return sum(report.messages for report in reports)
