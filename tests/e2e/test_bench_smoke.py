"""The benchmark's quick configuration, end to end: every delivery arrives, no seat is held twice.

Correctness only: timings on a shared CI machine mean nothing, so none is asserted. The checks that decide
the benchmark's exit code are tested on their own too, on ledgers built to be sound or broken.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from bench.audit import Ledger, audit_database, overlapping_holds
from bench.stats import Latency, percentile
from tests.services import POSTGRES_ADMIN_URL, service_missing

ROOT = Path(__file__).resolve().parents[2]
TIME_LIMIT = 600  # seconds: a bound on a hung run, not a speed assertion


async def _check_postgres() -> None:
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        service_missing("PostgreSQL", error)
    await admin.close()


def test_quick_benchmark_runs_clean() -> None:
    asyncio.run(_check_postgres())

    environment = dict(os.environ, BENCH_POSTGRES_URL=POSTGRES_ADMIN_URL)
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
    )
    assert run.returncode == 0, f"python -m bench --quick exited {run.returncode}\n{run.stdout}\n{run.stderr}"
    assert "Double holds" in run.stdout
    assert "FAIL" not in run.stderr


# The checks that make the run fail must catch what they are for: a sound ledger passes, a broken one does not.


def test_audit_accepts_a_sound_ledger() -> None:
    ledger = Ledger(
        seq=4,
        events=[
            (1, "A1", "locked", "s1"),
            (2, "A1", "unlocked", "s1"),
            (3, "A1", "locked", "s2"),
            (4, "B2", "locked", "s1"),
        ],
        holds=[("A1", "s2"), ("B2", "s1")],
        duplicate_holds=0,
    )
    assert audit_database(ledger, granted_locks=3, granted_unlocks=1) == []


def test_audit_catches_a_double_hold_a_gap_and_an_unbacked_ack() -> None:
    ledger = Ledger(
        seq=3,
        events=[(1, "A1", "locked", "s1"), (3, "A1", "locked", "s2")],
        holds=[("A1", "s2")],
        duplicate_holds=0,
    )
    problems = audit_database(ledger, granted_locks=3, granted_unlocks=0)
    assert any("without gaps" in problem for problem in problems)
    assert any("while s1 held it" in problem for problem in problems)
    assert any("3 locks were acked" in problem for problem in problems)


def test_overlapping_hold_spans_are_a_double_hold() -> None:
    assert overlapping_holds([("A1", 10, 20), ("A1", 20, 30), ("B1", 15, 25)]) == []
    assert overlapping_holds([("A1", 10, 20), ("A1", 19, 30)]) != []


def test_percentiles_are_nearest_rank() -> None:
    samples = list(range(1, 101))
    assert percentile(samples, 0.50) == 50
    assert percentile(samples, 0.99) == 99
    assert Latency.of(x * 1_000_000 for x in samples).max_ms == 100.0
