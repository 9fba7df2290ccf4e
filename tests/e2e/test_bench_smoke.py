"""The benchmark's quick configuration, end to end: every delivery arrives, every storm client's view
settles to the database's, no seat is held twice, every seat map read comes back whole.

Correctness only: timings on a shared CI machine mean nothing, so none is asserted. The checks that decide
the benchmark's exit code are tested on their own too, on ledgers built to be sound or broken.
"""

from __future__ import annotations

import asyncio
import gzip
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from bench.audit import Ledger, audit_database, overlapping_holds
from bench.fanout import change_plan
from bench.protocol import changes_in
from bench.readers import seat_map_problem
from bench.stats import Latency, percentile
from bench.subscribers import Expect, _Group, _Subscription
from bench.viewers import Settle, Storm, Viewers, _View
from bench.workers import Channel
from tests.cluster import redis_reachable
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
    redis_url = asyncio.run(redis_reachable())

    environment = dict(os.environ, BENCH_POSTGRES_URL=POSTGRES_ADMIN_URL, BENCH_REDIS_URL=redis_url)
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
    for scenario in ("Subscribe storm", "Node.js", "two instances over Redis", "Seat map reads", "Audience updates"):
        assert scenario in run.stdout
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


# Batched change frames (one frame, several changes) count as the changes they carry, in order.

BATCH = {
    "type": "seat_status_changes",
    "showtimeId": "st",
    "changes": [
        {"seatId": "A1", "status": "locked", "sessionId": "s1", "seq": 1},
        {"seatId": "A2", "status": "locked", "sessionId": "s1", "seq": 2},
        {"seatId": "A1", "status": "unlocked", "sessionId": "s1", "seq": 3},
    ],
}


def test_a_frame_carries_one_change_or_a_batch() -> None:
    single = {"type": "seat_status_change", "seatId": "A1", "status": "locked", "seq": 1}
    assert changes_in(single) == [single]
    assert [change["seq"] for change in changes_in(BATCH) or []] == [1, 2, 3]
    assert changes_in({"type": "ack"}) is None


@pytest.mark.parametrize("per_request", [1, 3])
def test_fanout_subscribers_count_each_change_of_a_batch_and_notice_each_request(per_request: int) -> None:
    async def deliver() -> tuple[int, list[str], list[object]]:
        mine, theirs = multiprocessing.Pipe()
        group = _Group("relay", Channel(mine))
        subscription = _Subscription(group, 0)
        group.subscriptions = [subscription]
        group.expect(Expect("relay", 0, [("A1", "locked"), ("A2", "locked"), ("A1", "unlocked")], per_request))
        group.on_message(subscription, orjson.dumps(BATCH), 1)
        notices = []
        while theirs.poll():
            notices.append(theirs.recv())
        return group.deliveries, group.errors, notices

    deliveries, errors, notices = asyncio.run(deliver())
    assert (deliveries, errors) == (3, [])
    assert notices == [("delivered", "relay", index) for index in range(3) if (index + 1) % per_request == 0]


def test_the_fanout_plan_locks_then_unlocks_a_requests_seats_and_leaves_them_free() -> None:
    plan = change_plan(9, ["A1", "A2", "A3", "A4", "A5"], seats_per_request=2)
    assert [(request.kind, request.seats) for request in plan] == [
        ("lock", ["A1", "A2"]),
        ("unlock", ["A1", "A2"]),
        ("lock", ["A3", "A4"]),
        ("unlock", ["A3", "A4"]),
    ]
    assert plan[0].changes == [("A1", "locked"), ("A2", "locked")]


def test_storm_views_apply_batches_and_changes_sent_before_the_snapshot() -> None:
    async def view(frames: list[dict[str, Any]]) -> tuple[tuple[int, tuple[str, ...]], list[str]]:
        mine, _theirs = multiprocessing.Pipe()
        viewers = Viewers(Storm("storm", (), "st", 1, 0, 1, 1), Channel(mine))
        one = _View(viewers)
        viewers.views = [one]
        for frame in frames:
            one.on_text(orjson.dumps(frame), 0)
        report = await viewers.settle(Settle("storm", 3, timeout=0.1))
        return next(iter(report.views)), report.errors

    snapshot = {"type": "current_seat_status", "seq": 1, "lockedSeats": ["A1"]}
    early = {"type": "seat_status_change", "seatId": "A1", "status": "locked", "seq": 1}
    assert asyncio.run(view([early, snapshot, BATCH])) == ((3, ("A2",)), [])
    gap = {**BATCH, "changes": [{"seatId": "A1", "status": "unlocked", "sessionId": "s1", "seq": 3}]}
    seen, errors = asyncio.run(view([snapshot, gap]))
    assert seen == (3, ())
    assert len(errors) == 1
    assert "skipped" in errors[0]


def test_a_seat_map_is_whole_when_its_sections_hold_every_seat() -> None:
    def seat_map(*statuses: str) -> dict[str, Any]:
        seats = [{"id": f"A{n}", "status": status} for n, status in enumerate(statuses, 1)]
        rows = [{"label": "A", "seats": seats[:1]}, {"label": "B", "seats": seats[1:]}]
        return {"id": "st", "seatCount": 3, "sections": [{"id": "main", "name": "Stalls", "rows": rows}]}

    whole = orjson.dumps(seat_map("available", "held", "blocked"))
    assert seat_map_problem(whole, None, "st", 3) is None
    assert seat_map_problem(gzip.compress(whole), "gzip", "st", 3) is None
    assert "with 2 seats" in (seat_map_problem(orjson.dumps(seat_map("available", "booked")), None, "st", 3) or "")
    assert "unknown status" in (seat_map_problem(orjson.dumps(seat_map("a", "b", "c")), None, "st", 3) or "")
    flat = orjson.dumps({"id": "st", "seatCount": 3, "rows": [{"seats": [{}, {}, {}]}]})
    assert "unreadable" in (seat_map_problem(flat, None, "st", 3) or "")
