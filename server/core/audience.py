"""The audience of each showtime across instances, as one instance knows it.

Every instance counts its own subscribers per showtime and tells the others twice per interval. Each keeps
what the others last said and when it heard it, and forgets an instance not heard from for a whole interval:
it died, or it lost the bus (that is two announcements missed, so one late message does not make its viewers
vanish). Checked once per interval, a dead instance's viewers are gone from what subscribers are told within
two intervals of its death. A showtime's audience is this instance's live count plus the others' last counts.
Pure: times are monotonic milliseconds passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Tally"]


@dataclass(frozen=True, slots=True)
class _Heard:
    at: int  # when its last message arrived, monotonic ms
    counts: dict[str, int]  # showtime -> its subscribers there, none zero


class Tally:
    """The other instances' subscriber counts, as last heard, with this instance's own added on demand."""

    def __init__(self, interval_ms: int) -> None:
        self._silence = interval_ms  # an instance not heard from for this long is gone
        self._others: dict[str, _Heard] = {}  # instance -> what it said last

    def hear(self, instance: str, counts: Mapping[str, int], now: int) -> None:
        """Another instance's counts, replacing what it said before (an empty one: it has no audience left)."""
        self._others[instance] = _Heard(now, {showtime: n for showtime, n in counts.items() if n > 0})

    def expire(self, now: int) -> list[str]:
        """Forget the instances not heard from for an interval; return them."""
        gone = [instance for instance, heard in self._others.items() if now - heard.at >= self._silence]
        for instance in gone:
            del self._others[instance]
        return gone

    def viewers(self, showtime_id: str, local: int) -> int:
        """The showtime's audience: ``local`` (this instance's subscribers) and the others'."""
        return local + sum(heard.counts.get(showtime_id, 0) for heard in self._others.values())

    def totals(self, local: Mapping[str, int]) -> dict[str, int]:
        """The audience of each showtime in ``local`` (this instance's subscriber count of each)."""
        return {showtime_id: self.viewers(showtime_id, count) for showtime_id, count in local.items()}

    def everyone(self, local: int) -> int:
        """Subscribers of all showtimes: ``local`` (this instance's) and the others'."""
        return local + sum(sum(heard.counts.values()) for heard in self._others.values())
