"""How many people are looking at each showtime: ``audience`` messages, at most one per interval.

Every ``AUDIENCE_INTERVAL_SECONDS`` :meth:`AudienceCounts.update` forgets the instances gone silent and sends
each subscriber that wants it the audience of its showtime if that changed since it was last told. Twice per
interval this instance's counts (:meth:`AudienceCounts.local`) are announced on the bus (``server.bus``);
what the other instances announce comes back through :meth:`AudienceCounts.hear`. A subscriber is greeted
with the count when it subscribes (:meth:`AudienceCounts.viewers`, itself included), so only changes wait
for the next interval. Alone (no Redis), the counts are this instance's.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Generic, TypeVar

from server.core.audience import Tally
from server.core.clock import Clock
from server.fanout import Fanout

__all__ = ["AudienceCounts"]

C = TypeVar("C", bound=Hashable)


class AudienceCounts(Generic[C]):
    def __init__(self, fanout: Fanout[C], clock: Clock, interval_seconds: float) -> None:
        self._fanout = fanout
        self._clock = clock
        self._tally = Tally(round(interval_seconds * 1000))

    def hear(self, instance: str, counts: Mapping[str, int]) -> None:
        """Another instance's subscriber counts, as it announced them."""
        self._tally.hear(instance, counts, self._clock.monotonic())

    def viewers(self, showtime_id: str) -> int:
        """The showtime's audience now: this instance's subscribers and the others' as last heard."""
        return self._tally.viewers(showtime_id, self._fanout.subscriber_count(showtime_id))

    def everyone(self) -> int:
        """Subscribers of all showtimes on all instances, as this instance knows them (``seat_audience``)."""
        return self._tally.everyone(self._fanout.subscription_count())

    def local(self) -> dict[str, int]:
        """This instance's subscribers per showtime (only showtimes with some), for the others."""
        return self._fanout.audience()

    def update(self) -> None:
        """Tell local subscribers the counts that changed. Call it once per interval: that is the throttle."""
        self._tally.expire(self._clock.monotonic())
        self._fanout.tell_audience(self._tally.totals(self._fanout.audience()))
