"""Time, injected: wall time for what is stored or sent, a monotonic clock for rates and timeouts.

A wall clock may step (NTP, an operator): an expiry or a timestamp must follow it, since other instances and
clients read them, but a rate limit or a timeout must not, or a step back would lock everyone out.
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> int:
        """Wall time, Unix epoch milliseconds."""
        ...

    def monotonic(self) -> int:
        """Milliseconds from an arbitrary start that never goes back."""
        ...


class SystemClock:
    def now(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> int:
        return time.monotonic_ns() // 1_000_000
