"""The lock workload every lock client runs, through the server or straight through the driver.

A client picks a seat (from a small hot set some of the time, so those seats are contended), locks it,
and when the lock is granted unlocks it at once; then the next seat, until the deadline. Every request's
round trip is recorded, and so is each hold as the client saw it: from receiving the lock's ack to
sending the unlock. Those spans lie inside the seat's real hold, so two of them overlapping on one seat
prove a double hold (see :mod:`bench.audit`).
"""

from __future__ import annotations

import random
import time
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["ClientRecord", "Outcome", "SeatOp", "Workload", "churn", "seat_ids"]

UNAVAILABLE = "seat_unavailable"
MAX_ERRORS_KEPT = 20


def seat_ids(rows: int, seats_per_row: int) -> list[str]:
    """The seat ids ``python -m server seed`` creates: row label (A..Z, AA..) then number from 1."""
    labels = []
    for index in range(rows):
        label, number = "", index + 1
        while number:
            number, remainder = divmod(number - 1, 26)
            label = chr(ord("A") + remainder) + label
        labels.append(label)
    return [f"{label}{number}" for label in labels for number in range(1, seats_per_row + 1)]


@dataclass(frozen=True, slots=True)
class Workload:
    seats: list[str]
    hot: int = 20  # the first ``hot`` seats are contended ...
    hot_share: float = 0.25  # ... by this share of the picks
    seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    code: str | None  # the error code when refused
    sent_ns: int
    received_ns: int


# Lock or unlock these seats.
SeatOp = Callable[[list[str]], Awaitable[Outcome]]


@dataclass(slots=True)
class ClientRecord:
    round_trips: array[int] = field(default_factory=lambda: array("q"))
    locks: int = 0  # granted
    unlocks: int = 0  # granted
    refused: int = 0  # lock refused because another session held the seat
    holds: list[tuple[str, int, int]] = field(default_factory=list)  # (seat, lock ack received, unlock sent)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    finished_ns: int = 0

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)

    def merge(self, other: ClientRecord) -> None:
        self.round_trips.extend(other.round_trips)
        self.locks += other.locks
        self.unlocks += other.unlocks
        self.refused += other.refused
        self.holds.extend(other.holds)
        for message in other.errors:
            self.error(message)
        self.error_count += other.error_count - len(other.errors)
        self.finished_ns = max(self.finished_ns, other.finished_ns)


async def churn(lock: SeatOp, unlock: SeatOp, workload: Workload, seed: int, deadline_ns: int) -> ClientRecord:
    rng = random.Random(seed)
    record = ClientRecord()
    hot = workload.seats[: workload.hot]
    while time.monotonic_ns() < deadline_ns:
        seat = rng.choice(hot) if rng.random() < workload.hot_share else rng.choice(workload.seats)
        try:
            locked = await lock([seat])
        except Exception as error:
            record.error(f"lock {seat} failed: {error!r}")
            break
        record.round_trips.append(locked.received_ns - locked.sent_ns)
        if not locked.ok:
            if locked.code == UNAVAILABLE:
                record.refused += 1
            else:
                record.error(f"lock {seat} refused with {locked.code}")
            continue
        record.locks += 1
        try:
            unlocked = await unlock([seat])
        except Exception as error:
            record.error(f"unlock {seat} failed: {error!r}")
            break
        record.round_trips.append(unlocked.received_ns - unlocked.sent_ns)
        record.holds.append((seat, locked.received_ns, unlocked.sent_ns))
        if unlocked.ok:
            record.unlocks += 1
        else:
            record.error(f"unlock of a seat this client held ({seat}) refused with {unlocked.code}")
    record.finished_ns = time.monotonic_ns()
    return record
