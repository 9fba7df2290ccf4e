"""When a webhook delivery is tried again, and when it is given up: exponential backoff with jitter, capped,
within a window that starts at the event.

Pure: the time and the random draw are passed in, so the schedule is tested exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DeliveryStatus", "RetryPolicy", "succeeded"]


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not delivered yet: due at its next attempt time
    DELIVERED = "delivered"  # an attempt was answered 2xx
    FAILED = "failed"  # every attempt within the retry window failed; no more are made


def succeeded(status_code: int | None) -> bool:
    """Whether a receiver's answer counts as delivered: any 2xx. A redirect is not followed, and not success."""
    return status_code is not None and 200 <= status_code < 300


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first_ms: int  # the wait after the first failure; each later failure doubles it
    max_ms: int  # no wait is longer
    window_ms: int  # attempts are made until the event is this old

    def delay(self, failures: int, jitter: float) -> int:
        """The wait after the ``failures``-th failed attempt, for a ``jitter`` drawn from [0, 1).

        "Equal jitter": half of the doubled (and capped) wait is fixed, the other half random. Receivers that
        failed together do not all come back at the same instant, and each wait is still longer than the one
        before it until the cap.
        """
        ceiling = min(self.max_ms, self.first_ms << min(failures - 1, 62))
        return ceiling // 2 + int(ceiling / 2 * jitter)

    def next_attempt(self, created_at: int, now: int, failures: int, jitter: float) -> int | None:
        """When to try again after ``failures`` failed attempts, the last one ending at ``now``; None: give up.

        The last attempt is made at the window's end rather than skipped when the backoff would overshoot it.
        """
        deadline = created_at + self.window_ms
        if now >= deadline:
            return None
        return min(now + self.delay(failures, jitter), deadline)
