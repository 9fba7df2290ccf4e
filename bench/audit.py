"""Proof that no seat was held twice, from the database and from the acks the clients saw.

From the database, after a run:
- no (showtime, seat) has two rows in ``seat_hold`` (the primary key forbids it; checked all the same);
- ``seat_event`` holds ``seq`` 1..N with no gap, N being the showtime's ``seq``;
- replayed in ``seq`` order, every ``locked`` finds its seat free and every ``unlocked`` finds it held by
  the same session, and what the replay leaves held is exactly what ``seat_hold`` holds;
- the events match the acks: one ``locked`` per granted lock, one ``unlocked`` per granted unlock.

From the acks: each client's hold of a seat spans from receiving the lock's ack to sending the unlock,
which lies inside the real hold; no two such spans of one seat may overlap.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import asyncpg

__all__ = ["Ledger", "audit_database", "overlapping_holds", "read_ledger"]

MAX_REPORTED = 10


@dataclass(frozen=True, slots=True)
class Ledger:
    seq: int
    events: list[tuple[int, str, str, str]]  # (seq, seat, status, session), in seq order
    holds: list[tuple[str, str]]  # (seat, session) rows of seat_hold
    duplicate_holds: int  # (showtime, seat) pairs with more than one seat_hold row


async def read_ledger(database_url: str, showtime_id: str) -> Ledger:
    queries = (
        "SELECT seq FROM showtime WHERE id = {0}",
        "SELECT seq, seat_code, status, session_id FROM seat_event WHERE showtime_id = {0} ORDER BY seq",
        "SELECT seat_code, session_id FROM seat_hold WHERE showtime_id = {0}",
        "SELECT count(*) FROM (SELECT showtime_id, seat_code FROM seat_hold "
        "GROUP BY showtime_id, seat_code HAVING count(*) > 1) AS twice",
    )
    if database_url.startswith("sqlite:///"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        try:
            results: list[list[Any]] = [
                conn.execute(query.format("?"), (showtime_id,) if "{0}" in query else ()).fetchall()
                for query in queries
            ]
        finally:
            conn.close()
    else:
        pg = await asyncpg.connect(database_url)
        try:
            results = [
                [tuple(row) for row in await pg.fetch(query.format("$1"), *((showtime_id,) if "{0}" in query else ()))]
                for query in queries
            ]
        finally:
            await pg.close()
    seq, events, holds, duplicates = results
    return Ledger(
        seq=int(seq[0][0]),
        events=[(int(s), str(seat), str(status), str(session)) for s, seat, status, session in events],
        holds=[(str(seat), str(session)) for seat, session in holds],
        duplicate_holds=int(duplicates[0][0]),
    )


def audit_database(ledger: Ledger, granted_locks: int, granted_unlocks: int) -> list[str]:
    """Every way the ledger shows a double hold, a lost change or an unbacked ack; empty when sound."""
    problems: list[str] = []
    if ledger.duplicate_holds:
        problems.append(f"{ledger.duplicate_holds} seats have more than one seat_hold row")
    seqs = [event[0] for event in ledger.events]
    if seqs != list(range(1, ledger.seq + 1)):
        problems.append(f"seat_event seqs are not 1..{ledger.seq} without gaps ({len(seqs)} events)")
    holder: dict[str, str] = {}
    locked = unlocked = 0
    for seq, seat, status, session in ledger.events:
        if status == "locked":
            locked += 1
            if seat in holder and holder[seat] != session:
                problems.append(f"seq {seq}: {seat} locked by {session} while {holder[seat]} held it")
            holder[seat] = session
        elif status == "unlocked":
            unlocked += 1
            if holder.get(seat) != session:
                problems.append(f"seq {seq}: {seat} unlocked by {session}, held by {holder.get(seat)}")
            holder.pop(seat, None)
        else:
            problems.append(f"seq {seq}: unexpected status {status}")
    if sorted(holder.items()) != sorted(ledger.holds):
        problems.append("seat_hold does not match the replayed seat_event log")
    if locked != granted_locks:
        problems.append(f"{granted_locks} locks were acked but the log has {locked} locked events")
    if unlocked != granted_unlocks:
        problems.append(f"{granted_unlocks} unlocks were acked but the log has {unlocked} unlocked events")
    if len(problems) > MAX_REPORTED:
        return [*problems[:MAX_REPORTED], f"... and {len(problems) - MAX_REPORTED} more"]
    return problems


def overlapping_holds(holds: list[tuple[str, int, int]]) -> list[str]:
    """Seats two clients held at once, by the acks: spans (ack received, unlock sent) that overlap."""
    by_seat: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
    for seat, start, end in holds:
        by_seat[seat].append((start, end))
    problems = []
    for seat, spans in by_seat.items():
        spans.sort()
        for (start, end), (next_start, _) in itertools.pairwise(spans):
            if next_start < end:
                problems.append(f"{seat} was held twice at once: spans {start}..{end} and {next_start}..")
    return problems[:MAX_REPORTED]
