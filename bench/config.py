"""How big each scenario is: the full run, and the quick one CI runs for correctness only."""

from __future__ import annotations

from dataclasses import dataclass

from bench.servers import DatabaseKind

__all__ = ["FULL", "MAX_SEATS_PER_REQUEST", "QUICK", "Config"]

# The server's default MAX_SEATS_PER_REQUEST, which the benchmark does not lift: a product rule, not an abuse limit.
MAX_SEATS_PER_REQUEST = 10


@dataclass(frozen=True, slots=True)
class Config:
    fanout_sizes: tuple[int, ...]
    fanout_changes: tuple[int, ...]  # changes for each size: fewer for larger sizes, each one reaching more
    fanout_block: int  # requests per turn when the server and the relay take turns
    memory_connections: int
    storm_sizes: tuple[int, ...]
    lock_clients: tuple[int, ...]
    lock_seconds: float
    databases: tuple[DatabaseKind, ...]
    workers: int  # load-generator processes
    # Two instances on PostgreSQL and Redis against one: fan-out sizes, storm sizes, lock clients.
    instance_fanout_sizes: tuple[int, ...]
    instance_storm_sizes: tuple[int, ...]
    instance_lock_clients: tuple[int, ...]
    # Layout: one buyer alone, then under waves of seat map reads of a layout_rows x layout_seats_per_row showtime.
    layout_readers: int  # concurrent seat map reads per wave
    layout_rows: int
    layout_seats_per_row: int
    layout_seconds: float  # the buyer alone, then as long under the waves
    layout_wave_seconds: float  # a wave of reads starts this often
    # Storm: connections in flight per load-generator process (together under the listen backlog of 100,
    # so no connection waits for a SYN retry), and seat changes made per process during the storm.
    storm_concurrency: int = 16
    storm_notes: int = 2
    rows: int = 100
    seats_per_row: int = 100
    # Fan-out: seats the locker changes per request (one commit), and the frames the subscribers ask for, each
    # mode a run of its own in the same table: False a frame per change, True a frame per commit ("batch").
    seats_per_request: int = 1
    fanout_batch: tuple[bool, ...] = (False,)
    warm_up_subscribers: int = 100
    warm_up_changes: int = 10
    # Audience: subscribers told the count, and the seconds of each of its four windows.
    audience_subscribers: int = 10_000
    audience_seconds: float = 10.0

    def changes_for(self, size: int) -> int:
        """The changes of the configured fan-out size nearest ``size``."""
        nearest = min(range(len(self.fanout_sizes)), key=lambda index: abs(self.fanout_sizes[index] - size))
        return self.fanout_changes[nearest]


FULL = Config(
    fanout_sizes=(1000, 5000, 10000),
    fanout_changes=(150, 50, 30),
    fanout_block=10,
    memory_connections=10000,
    storm_sizes=(2000, 10000),
    lock_clients=(50, 200),
    lock_seconds=4.0,
    databases=("sqlite", "postgresql"),
    workers=6,
    instance_fanout_sizes=(1000, 10000),
    instance_storm_sizes=(2000, 10000),
    instance_lock_clients=(50, 200),
    layout_readers=64,
    layout_rows=100,
    layout_seats_per_row=100,
    layout_seconds=10.0,
    layout_wave_seconds=0.5,
)

QUICK = Config(
    fanout_sizes=(50,),
    fanout_changes=(8,),
    fanout_block=3,
    memory_connections=50,
    storm_sizes=(40,),
    lock_clients=(10,),
    lock_seconds=1.0,
    databases=("sqlite", "postgresql"),
    workers=2,
    instance_fanout_sizes=(20,),
    instance_storm_sizes=(20,),
    instance_lock_clients=(10,),
    layout_readers=8,
    layout_rows=10,
    layout_seats_per_row=10,
    layout_seconds=1.0,
    layout_wave_seconds=0.2,
    seats_per_request=2,  # so CI checks commits of several changes, per seat and batched
    fanout_batch=(False, True),
    warm_up_subscribers=10,
    warm_up_changes=2,
    audience_subscribers=50,
    audience_seconds=2.0,
)
