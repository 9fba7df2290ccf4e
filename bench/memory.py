"""Memory: the server's resident set with N open, subscribed, idle connections, per connection.

The figure is the growth of the process's RSS from before the first connection (server started, showtime
loaded) to N subscribed connections, left idle for a moment, divided by N; the relay's, measured the same
way in the same run, is the baseline. The fan-out scenario records both RSS readings for every size it
runs, so when it ran at N the reading is taken from there instead of connecting N more.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.fanout import FanoutResult

__all__ = ["MemoryResult", "memory_of"]


@dataclass(frozen=True, slots=True)
class MemoryResult:
    target: str
    connections: int
    rss_before: int
    rss_idle: int

    @property
    def per_connection(self) -> float:
        return (self.rss_idle - self.rss_before) / self.connections

    @property
    def total_per_connection(self) -> float:
        """The whole process's RSS over the connections: what a process of only connections would cost each."""
        return self.rss_idle / self.connections


def memory_of(run: FanoutResult) -> MemoryResult:
    return MemoryResult(run.target, run.subscribers, run.rss_before, run.rss_idle)
