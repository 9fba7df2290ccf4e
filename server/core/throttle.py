"""At most one piece of work per key per interval, none lost: when a change may be acted on.

The figures of a showtime (``server.figures``) are read again after it changed, but a burst of changes must
not become a burst of reads: the first change is acted on at once, later ones wait until an interval has
passed since the last read began, and all the changes that came meanwhile share that one read. A change
that comes while a read is under way is after what the read may see, so it asks for another. Pure: times
are monotonic milliseconds passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["Throttle"]

K = TypeVar("K", bound=Hashable)


class Throttle(Generic[K]):
    def __init__(self, interval_ms: int) -> None:
        self._interval = interval_ms
        self._started: dict[K, int] = {}  # key -> when its last piece of work began
        self._due: set[K] = set()  # keys with work scheduled and not begun

    def changed(self, key: K, now: int) -> int | None:
        """A change of ``key`` at ``now``: milliseconds to wait before beginning the work, or None when work
        already scheduled and not begun will cover it."""
        if key in self._due:
            return None
        self._due.add(key)
        last = self._started.get(key)
        return 0 if last is None else max(0, last + self._interval - now)

    def begin(self, key: K, now: int) -> None:
        """The work for ``key`` begins at ``now``: changes from now on need work of their own, an interval on."""
        self._due.discard(key)
        self._started[key] = now

    def forget(self, key: K) -> None:
        """Nobody wants work for ``key`` any more; a change after this is acted on at once."""
        self._due.discard(key)
        self._started.pop(key, None)
