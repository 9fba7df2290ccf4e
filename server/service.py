"""The seat service: each request runs through a seat rule inside one transaction, then is published.

Changes to one showtime are serialized twice over: by the database (see ``server.storage.store``) and,
within this process, by a lock per showtime that is held until the changes are published. The second
keeps publication in ``seq`` order and lets a new subscriber read its snapshot and join the fan-out
with no change slipping between the two.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Literal

from server.core.errors import ErrorCode, Rejection
from server.core.limits import RateLimiter
from server.core.seats import (
    Claim,
    Layout,
    Plan,
    SeatState,
    plan_book,
    plan_expiry,
    plan_lock,
    plan_unlock,
    select_seats,
)
from server.messages import Ack, BookingRequest, CurrentSeatStatus, SeatsRequest
from server.metrics import Metrics
from server.settings import Settings
from server.storage.store import Change, Committed, Event, NewBooking, SeatStore

__all__ = ["SeatService", "now_ms"]

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Event]], None]
# A seat rule with everything but the current claims and the checked seats already bound.
BoundRule = Callable[[Mapping[str, Claim], tuple[str, ...]], Rejection | Plan]


PRUNE_INTERVAL_MS = 60_000
MAX_BATCH = 64  # changes decided in one transaction at most


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class SeatService:
    def __init__(
        self,
        store: SeatStore,
        settings: Settings,
        publish: Publish,
        metrics: Metrics,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self._publish = publish
        self._clock = clock
        self._hold_ttl_ms = int(settings.hold_ttl_seconds * 1000)
        self._max_seats = settings.max_seats_per_request
        self._max_held = settings.max_held_seats_per_session
        self._seat_changes = RateLimiter(settings.seat_changes_per_second, settings.seat_change_burst)
        self._max_replay = settings.max_replay_events
        self._retention_ms = settings.event_log_retention_seconds * 1000
        self._next_prune = 0
        self._layouts: dict[str, Layout] = {}
        self._loading: dict[str, asyncio.Task[Layout | None]] = {}
        self._order: dict[str, tuple[asyncio.Lock, int]] = {}  # showtime -> its lock and how many use it
        self._queued: defaultdict[str, list[tuple[Change, asyncio.Future[Rejection | Committed]]]] = defaultdict(list)
        self._drainers: dict[str, asyncio.Task[None]] = {}

    def now(self) -> int:
        return self._clock()

    @asynccontextmanager
    async def serialized(self, showtime_id: str) -> AsyncIterator[None]:
        """Exclude every other change to this showtime in this process, and its publication."""
        lock, users = self._order.get(showtime_id, (asyncio.Lock(), 0))
        self._order[showtime_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            # Forget the lock when nobody holds or awaits it, so the table follows the busy showtimes.
            lock, users = self._order[showtime_id]
            if users == 1:
                del self._order[showtime_id]
            else:
                self._order[showtime_id] = (lock, users - 1)

    async def layout(self, showtime_id: str) -> Layout | Rejection:
        """The showtime's seats and prices, read once: layouts never change, and a burst on a cold showtime
        (10,000 seats) waits for one read instead of making one each."""
        layout = self._layouts.get(showtime_id)
        if layout is None:
            loading = self._loading.get(showtime_id)
            if loading is None:
                loading = self._loading[showtime_id] = asyncio.create_task(self.store.layout(showtime_id))
                loading.add_done_callback(lambda _: self._loading.pop(showtime_id, None))
            layout = await asyncio.shield(loading)
            if layout is None:
                return Rejection(ErrorCode.UNKNOWN_SHOWTIME, f"no such showtime: {showtime_id}")
            self._layouts[showtime_id] = layout
        return layout

    async def lock(self, session_id: str, request: SeatsRequest) -> Ack | Rejection:
        now = self._clock()
        return await self._change(
            "lock",
            session_id,
            request,
            lambda claims, seats: plan_lock(claims, session_id, seats, now, self._hold_ttl_ms, self._max_held),
            now,
        )

    async def unlock(self, session_id: str, request: SeatsRequest) -> Ack | Rejection:
        now = self._clock()
        return await self._change(
            "unlock", session_id, request, lambda claims, seats: plan_unlock(claims, session_id, seats), now
        )

    async def book(self, session_id: str, request: BookingRequest) -> Ack | Rejection:
        layout = await self.layout(request.showtime_id)
        if isinstance(layout, Rejection):
            return layout
        now = self._clock()
        details = NewBooking(request.customer.name, request.customer.email, layout.currency)
        return await self._change(
            "book",
            session_id,
            request,
            lambda claims, seats: plan_book(claims, layout, session_id, seats, now),
            now,
            details,
        )

    async def snapshot(self, session_id: str, showtime_id: str) -> CurrentSeatStatus | Rejection:
        """The showtime's seats as this session should see them. Call it inside :meth:`serialized`."""
        layout = await self.layout(showtime_id)
        if isinstance(layout, Rejection):
            return layout
        snapshot = await self.store.snapshot(showtime_id)
        now = self._clock()
        held = {seat: claim for seat, claim in snapshot.claims.items() if claim.is_live_hold(now)}
        mine = {seat: claim.expires_at for seat, claim in held.items() if claim.session_id == session_id}
        return CurrentSeatStatus(
            showtime_id=showtime_id,
            seq=snapshot.seq,
            booked_seats=sorted(s for s, c in snapshot.claims.items() if c.state is SeatState.BOOKED),
            locked_seats=sorted(held),
            my_seats=sorted(mine),
            hold_expires_at={seat: expiry for seat, expiry in mine.items() if expiry is not None},
            timestamp=now,
        )

    async def replay(self, showtime_id: str, last_seq: int) -> tuple[int, list[Event]] | Rejection | None:
        """The changes after ``last_seq`` and the seq they lead to; None if a snapshot must do instead.

        Call it inside :meth:`serialized`, like :meth:`snapshot`.
        """
        layout = await self.layout(showtime_id)
        if isinstance(layout, Rejection):
            return layout
        return await self.store.replay(showtime_id, last_seq, self._max_replay)

    async def expire_lapsed_holds(self) -> int:
        """Release every hold that has lapsed and announce it; return how many were released."""
        now = self._clock()
        released = 0
        for showtime_id in await self.store.showtimes_with_lapsed_holds(now):
            async with self.serialized(showtime_id):
                with self.metrics.database_seconds.labels("expire").time():
                    committed = await self.store.expire(showtime_id, now, lambda claims: plan_expiry(claims, now))
                self._committed(committed)
            released += len(committed.events)
        self.metrics.expiries.inc(released)
        return released

    async def maintain(self) -> None:
        """One round of upkeep: release lapsed holds, and trim the event log once a minute.

        Every instance does this; that is harmless, since each hold is released in one transaction only.
        """
        await self.expire_lapsed_holds()
        if (now := self._clock()) >= self._next_prune:
            await self.store.prune_events(now - self._retention_ms)
            self._next_prune = now + PRUNE_INTERVAL_MS

    async def _change(
        self,
        action: Literal["lock", "unlock", "book"],
        session_id: str,
        request: SeatsRequest,
        rule: BoundRule,
        now: int,
        new_booking: NewBooking | None = None,
    ) -> Ack | Rejection:
        layout = await self.layout(request.showtime_id)
        if isinstance(layout, Rejection):
            return self._refused(action, layout)
        seats = select_seats(layout, request.seat_ids, self._max_seats)
        if isinstance(seats, Rejection):
            return self._refused(action, seats)
        if wait := self._seat_changes.take(session_id, now):
            return self._refused(
                action, Rejection(ErrorCode.RATE_LIMITED, "too many seat changes", retry_after_ms=wait)
            )
        change = Change(seats, session_id, lambda claims: rule(claims, seats), new_booking)
        outcome = await self._decide(request.showtime_id, change)
        if isinstance(outcome, Rejection):
            return self._refused(action, outcome)
        self.metrics.requests.labels(action, "ok").inc()
        if outcome.booking_id:
            log.info("booked", extra={"booking": outcome.booking_id, "showtime": request.showtime_id, "seats": seats})
        plan = outcome.plan
        return Ack(
            action=action,
            showtime_id=request.showtime_id,
            seat_ids=list(seats),
            expires_at=plan.hold_until,
            booking_id=outcome.booking_id,
            total_cents=plan.total_cents if plan.sell else None,
            currency=layout.currency if plan.sell else None,
        )

    async def _decide(self, showtime_id: str, change: Change) -> Rejection | Committed:
        """Queue a change for the showtime's next transaction and wait for its outcome.

        Changes that arrive while a transaction is under way go together into the next one (group commit),
        decided in arrival order. One drainer per showtime runs the transactions, inside :meth:`serialized`.
        """
        outcome: asyncio.Future[Rejection | Committed] = asyncio.get_running_loop().create_future()
        self._queued[showtime_id].append((change, outcome))
        if showtime_id not in self._drainers:
            self._drainers[showtime_id] = asyncio.create_task(self._drain(showtime_id))
        return await outcome

    async def _drain(self, showtime_id: str) -> None:
        queue = self._queued[showtime_id]
        try:
            while queue:
                batch, queue[:] = queue[:MAX_BATCH], queue[MAX_BATCH:]
                async with self.serialized(showtime_id):
                    try:
                        with self.metrics.database_seconds.labels("change").time():
                            outcomes = await self.store.change(showtime_id, [c for c, _ in batch], self._clock())
                    except Exception as error:
                        log.exception("a transaction of %d changes failed; none was applied", len(batch))
                        failed = Rejection(ErrorCode.INTERNAL_ERROR, f"the database failed ({type(error).__name__})")
                        outcomes = [failed] * len(batch)
                    for committed in outcomes:
                        if isinstance(committed, Committed):
                            self._committed(committed)
                for (_, waiting), result in zip(batch, outcomes, strict=True):
                    if not waiting.done():  # the requester may have gone away; its change stands
                        waiting.set_result(result)
        finally:
            # No await since the queue was last seen empty: a change queued now finds no drainer and starts one.
            del self._drainers[showtime_id], self._queued[showtime_id]

    def _committed(self, committed: Committed) -> None:
        for event in committed.events:
            self.metrics.changes.labels(event.change.status.value).inc()
            log.debug(
                "seat %s",
                event.change.status.value,
                extra={"showtime": event.showtime_id, "seat": event.change.seat, "seq": event.seq},
            )
        self._publish(committed.events)

    def _refused(self, action: str, rejection: Rejection) -> Rejection:
        self.metrics.requests.labels(action, rejection.code.value).inc()
        return rejection
