"""The seat service: the use cases the adapters call, each a seat rule run inside one transaction.

Changes to one showtime are serialized twice over: by the database (see ``server.storage.store``) and,
within this process, by a lock per showtime that is held until the changes are announced. The second
keeps announcements in ``seq`` order and lets a new subscriber read its snapshot and join the fan-out
with no change slipping between the two (``server.subscriptions``).

The service speaks in core types: adapters turn requests into calls and results into wire messages.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from server.core.bookings import BookingStatus
from server.core.changes import (
    Accepted,
    BookingChange,
    BookingRule,
    Change,
    Committed,
    Event,
    NewBooking,
    Rule,
    Selection,
)
from server.core.checkout import LATE, finished, plan_cancel, plan_confirm, plan_sweep, unknown
from server.core.clock import Clock
from server.core.errors import ErrorCode, FieldError, Rejection
from server.core.history import HistoryEntry, HistoryQuery
from server.core.limits import RateLimiter
from server.core.origins import Channel, Source
from server.core.records import BookingRecord, BookingSearch, ShowtimeDetails, ShowtimeRecord, StatusView, TermsKey
from server.core.seats import (
    Claim,
    HoldPolicy,
    Layout,
    Plan,
    SaleTerms,
    SeatState,
    plan_block,
    plan_book,
    plan_extend,
    plan_lock,
    plan_unblock,
    plan_unlock,
    select_seats,
)
from server.core.stats import SalesTotals, ShowtimeFigures
from server.core.venues import HallLayout
from server.group_commit import GroupCommit
from server.keyed_lock import KeyedLock
from server.layouts import LayoutCache
from server.metrics import Metrics
from server.settings import SeatSettings
from server.storage import stats, venues
from server.storage.idempotency import IdempotencyKeys
from server.storage.store import SeatStore
from server.storage.venues import LayoutRecord, NewShowtime, ShowtimeTerms

__all__ = ["ADMIN", "Placement", "Replay", "ScheduledShowtime", "SeatService"]

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Event]], None]
# plan_lock or plan_extend
HoldRule = Callable[[Mapping[str, Claim], SaleTerms, str, Sequence[str], int, HoldPolicy], Rejection | Plan]


ADMIN = "admin"  # who acts for the operator: no rate limit, no per-request seat cap, whole tables not required


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an imported layout goes. A hall given again gets its next version; ids left out are made up,
    names left out are the ids. A new hall joins the venue given, or a new one."""

    venue_id: str | None = None
    venue_name: str | None = None
    hall_id: str | None = None
    hall_name: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduledShowtime:
    """A showtime as the operator set it up, with the layout version it plays on."""

    id: str
    terms: ShowtimeTerms
    layout: LayoutRecord


@dataclass(frozen=True, slots=True)
class Replay:
    """The changes after a client's ``lastSeq``, and the seq they lead to."""

    seq: int
    events: list[Event]


class SeatService:
    def __init__(
        self,
        store: SeatStore,
        settings: SeatSettings,
        publish: Publish,
        metrics: Metrics,
        clock: Clock,
        prune_interval_ms: int = 60_000,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._publish = publish
        self._clock = clock
        self._settings = settings
        self._holds = HoldPolicy(
            ttl_ms=int(settings.hold_ttl_seconds * 1000),
            max_ms=int(settings.max_hold_seconds * 1000),
            max_seats=settings.max_held_seats_per_session,
        )
        self._payment_ms = int(settings.payment_timeout_seconds * 1000)
        self._seat_changes = RateLimiter(settings.seat_changes_per_second, settings.seat_change_burst)
        self._prune_interval_ms = prune_interval_ms
        self._next_prune = 0
        self._keys = IdempotencyKeys(store.engine)
        self._serial = KeyedLock()
        self._layouts = LayoutCache(store.layout)
        self._group_commit = GroupCommit(self._commit, self._serial, self._announce)

    def now(self) -> int:
        return self._clock.now()

    @asynccontextmanager
    async def serialized(self, showtime_id: str) -> AsyncIterator[None]:
        """Exclude every other change to this showtime in this process, and its announcement."""
        async with self._serial.hold(showtime_id):
            yield

    async def layout(self, showtime_id: str) -> Layout | Rejection:
        return await self._layouts.get(showtime_id)

    # --- changes -------------------------------------------------------------------------------------------

    # Each change takes the ``channel`` it was asked through, for the seats' history (REST unless said).

    async def lock(
        self, session_id: str, showtime_id: str, seats: Selection, channel: Channel = Channel.REST
    ) -> Accepted | Rejection:
        """Hold the seats, or hold them longer (never past ``MAX_HOLD_SECONDS`` after they were first held)."""
        return await self._hold("lock", plan_lock, Source(session_id, channel), showtime_id, seats)

    async def extend(
        self, session_id: str, showtime_id: str, seats: Selection, channel: Channel = Channel.REST
    ) -> Accepted | Rejection:
        """Hold longer seats the session holds, as locking them again does, without taking any it does not."""
        return await self._hold("extend", plan_extend, Source(session_id, channel), showtime_id, seats)

    async def unlock(
        self, session_id: str, showtime_id: str, seats: Selection, channel: Channel = Channel.REST
    ) -> Accepted | Rejection:
        return await self._change(
            "unlock",
            Source(session_id, channel),
            showtime_id,
            seats,
            lambda chosen, layout: lambda claims, terms: plan_unlock(claims, session_id, chosen),
        )

    async def book(
        self,
        session_id: str,
        showtime_id: str,
        seats: Selection,
        order: NewBooking,
        channel: Channel = Channel.REST,
    ) -> Accepted | Rejection:
        """Sell seats the session holds: a confirmed booking, or a pending one due within PAYMENT_TIMEOUT_SECONDS."""
        now, payment_ms = self._clock.now(), self._payment_ms if order.pending else None
        return await self._change(
            "book",
            Source(session_id, channel),
            showtime_id,
            seats,
            lambda chosen, layout: (
                lambda claims, terms: plan_book(claims, terms, layout, session_id, chosen, now, payment_ms)
            ),
            order,
        )

    async def confirm(
        self, booking_id: str, reference: str, provider: str, channel: Channel = Channel.REST
    ) -> BookingRecord | Rejection:
        """The shop was paid for a booking: it is confirmed (see ``plan_confirm``). A late payment for seats that
        are gone is recorded, and refused with the booking's status' code."""
        now = self._clock.now()
        return await self._move(
            "confirm",
            Source(ADMIN, channel),
            booking_id,
            BookingStatus.CONFIRMED,
            lambda claims, found: plan_confirm(claims, found, ADMIN, reference, provider, now),
        )

    async def cancel(
        self, actor: str, booking_id: str, reason: str | None, channel: Channel = Channel.REST
    ) -> BookingRecord | Rejection:
        """Cancel a booking (``actor``: its buyer's session, a pending one; ``ADMIN``, any): its seats go free."""
        now = self._clock.now()
        return await self._move(
            "cancel",
            Source(actor, channel),
            booking_id,
            BookingStatus.CANCELLED,
            lambda claims, found: plan_cancel(claims, found, actor, actor == ADMIN, reason, now),
        )

    async def block(
        self, showtime_id: str, seats: Selection, reason: str, channel: Channel = Channel.REST
    ) -> Accepted | Rejection:
        """The operator takes seats out of sale; they are announced as ``blocked``."""
        return await self._change(
            "block",
            Source(ADMIN, channel),
            showtime_id,
            seats,
            lambda chosen, layout: lambda claims, terms: plan_block(claims, chosen, reason),
        )

    async def unblock(
        self, showtime_id: str, seats: Selection, channel: Channel = Channel.REST
    ) -> Accepted | Rejection:
        return await self._change(
            "unblock",
            Source(ADMIN, channel),
            showtime_id,
            seats,
            lambda chosen, layout: lambda claims, terms: plan_unblock(claims, chosen),
        )

    async def expire_lapsed(self) -> int:
        """Release every hold that has lapsed and every seat of a pending booking past its payment, announce it,
        and return how many seats were released."""
        now = self._clock.now()
        released = 0
        lapsed = await self._store.showtimes_with_lapsed_holds(now)
        overdue = await self._store.showtimes_with_overdue_payments(now)
        for showtime_id in dict.fromkeys([*lapsed, *overdue]):
            async with self._serial.hold(showtime_id):
                with self._metrics.database_seconds.labels("expire").time():
                    committed = await self._store.expire(
                        showtime_id, now, lambda claims, bookings: plan_sweep(claims, bookings, now)
                    )
                self._announce(committed)
            released += len(committed.events)
            for move in committed.plan.transitions:
                log.info("booking expired", extra={"booking": move.booking_id, "showtime": showtime_id})
        self._metrics.expiries.inc(released)
        return released

    async def maintain(self) -> None:
        """One round of upkeep: release lapsed holds; now and then trim the event log and forget expired
        idempotency keys.

        Every instance does this; that is harmless, since each hold and each booking is released in one
        transaction only.
        """
        await self.expire_lapsed()
        if (now := self._clock.now()) >= self._next_prune:
            await self._store.prune_events(now - int(self._settings.audit_retention_days * 86_400_000))
            await self._keys.prune(now)
            self._next_prune = now + self._prune_interval_ms

    # --- reads ---------------------------------------------------------------------------------------------

    async def status(self, session_id: str, showtime_id: str) -> StatusView | Rejection:
        """The showtime's seats as this session should see them. Call it inside :meth:`serialized`."""
        layout = await self.layout(showtime_id)
        if isinstance(layout, Rejection):
            return layout
        snapshot = await self._store.snapshot(showtime_id)
        now = self._clock.now()
        live = {
            seat: claim
            for seat, claim in snapshot.claims.items()
            if claim.state is not SeatState.HELD or claim.is_live_hold(now)  # a pending booking's seats stay
        }
        mine = {
            seat: claim.expires_at
            for seat, claim in live.items()
            if claim.session_id == session_id and claim.state is SeatState.HELD and claim.expires_at is not None
        }
        return self.view(showtime_id, snapshot.seq, live, mine)

    def view(self, showtime_id: str, seq: int, claims: Mapping[str, Claim], mine: Mapping[str, int]) -> StatusView:
        """The showtime at ``seq`` as one session sees it, from its claims and the session's own holds."""
        # A pending booking's seats were announced locked, and are shown held until it is paid or let go.
        held = [seat for seat, claim in claims.items() if claim.state in (SeatState.HELD, SeatState.PENDING)]
        lapsing = [claim.expires_at for claim in claims.values() if claim.expires_at is not None]
        return StatusView(
            showtime_id=showtime_id,
            seq=seq,
            booked=sorted(s for s, c in claims.items() if c.state is SeatState.BOOKED),
            held=sorted(held),
            mine=dict(sorted(mine.items())),
            at=self._clock.now(),
            blocked=sorted(s for s, c in claims.items() if c.state is SeatState.BLOCKED),
            lapses_at=min(lapsing, default=None),
            claims=dict(claims),
        )

    async def own_holds(self, session_id: str, showtime_id: str) -> dict[str, int]:
        """The session's live holds on the showtime and when each lapses."""
        now = self._clock.now()
        holds = await self._store.holds(showtime_id, session_id)
        return {seat: expires_at for seat, expires_at in holds.items() if expires_at > now}

    async def replay(self, showtime_id: str, after: int) -> Replay | Rejection | None:
        """The changes after ``after``; None when the log no longer covers them (a snapshot must do).

        Call it inside :meth:`serialized`, like :meth:`status`.
        """
        layout = await self.layout(showtime_id)
        if isinstance(layout, Rejection):
            return layout
        # The log keeps changes for the seats' history; clients are replayed only those of the replay retention.
        since = self._clock.now() - self._settings.event_log_retention_seconds * 1000
        found = await self._store.replay(showtime_id, after, self._settings.max_replay_events, since)
        return None if found is None else Replay(*found)

    async def history(self, query: HistoryQuery) -> list[HistoryEntry] | Rejection:
        """The operator's: a page of the logged changes of a showtime, or of one of its seats."""
        layout = await self.layout(query.showtime_id)
        if isinstance(layout, Rejection):
            return layout
        if query.seat is not None and query.seat not in layout.categories:
            return Rejection(ErrorCode.UNKNOWN_SEAT, f"no such seat: {query.seat}", (query.seat,))
        with self._metrics.database_seconds.labels("history").time():
            return await self._store.history(query)

    async def showtimes(self) -> list[ShowtimeRecord]:
        return await self._store.showtimes()

    async def showtime(self, showtime_id: str) -> ShowtimeDetails | Rejection:
        """A showtime with its hall and its current terms (title, times, prices)."""
        found = await self._store.showtime(showtime_id)
        if found is None:
            return Rejection(ErrorCode.UNKNOWN_SHOWTIME, f"no such showtime: {showtime_id}")
        return found

    async def state(self, showtime_id: str) -> tuple[int, TermsKey] | None:
        """The showtime's last seq and its terms, in one small read: whether a seat map is still current."""
        return await self._store.state(showtime_id)

    async def booking(self, actor: str, booking_id: str) -> BookingRecord | Rejection:
        """A booking, for its buyer's session or ``ADMIN``."""
        found = await self._store.booking(booking_id)
        # Someone else's booking is reported as missing, so booking ids cannot be probed.
        if found is None or (actor != ADMIN and found.session_id != actor):
            return unknown()
        return found

    async def bookings(self, search: BookingSearch) -> list[BookingRecord]:
        """The operator's: the bookings matching every criterion given, oldest first."""
        return await self._store.bookings(search)

    # --- the operator's --------------------------------------------------------------------------------

    async def figures(self, showtime_id: str) -> ShowtimeFigures | Rejection:
        """A showtime's sales figures now, per category and section too, as of one seq."""
        with self._metrics.database_seconds.labels("figures").time():
            found = await stats.read_showtime_figures(self._store.engine, showtime_id, self._clock.now())
        return found if found is not None else Rejection(ErrorCode.UNKNOWN_SHOWTIME, f"no such showtime: {showtime_id}")

    async def all_figures(self) -> list[ShowtimeFigures]:
        """Every showtime's headline figures now."""
        with self._metrics.database_seconds.labels("figures").time():
            return await stats.all_showtime_figures(self._store.engine, self._clock.now())

    async def sales_totals(self) -> SalesTotals:
        """Every showtime's bookings by status and revenue by currency, from the database: all instances' sales."""
        return await stats.read_sales_totals(self._store.engine)

    async def import_layout(self, hall: HallLayout, placement: Placement) -> LayoutRecord | Rejection:
        """Store a (validated) layout as the next version of its hall."""
        engine = self._store.engine
        known = {record.hall_id: record.venue_id for record in await venues.layout_records(engine)}
        hall_id = placement.hall_id or f"hall_{secrets.token_hex(6)}"
        venue_id = placement.venue_id or known.get(hall_id) or f"ven_{secrets.token_hex(6)}"
        if known.get(hall_id, venue_id) != venue_id:
            other = f"hall {hall_id} belongs to venue {known[hall_id]}, not {venue_id}"
            return _invalid(FieldError("venueId", other))
        return await venues.save_layout(
            engine, hall, venue_id=venue_id, venue_name=placement.venue_name or venue_id,
            hall_id=hall_id, hall_name=placement.hall_name or hall_id, now=self._clock.now(),
        )  # fmt: skip

    async def layouts(self) -> list[LayoutRecord]:
        return await venues.layout_records(self._store.engine)

    async def hall_layout(self, layout_id: str) -> HallLayout | Rejection:
        found = await venues.load_layout(self._store.engine, layout_id)
        return found if found is not None else _no_layout(layout_id)

    async def newest_layout(self, hall_id: str) -> LayoutRecord | Rejection:
        """The newest layout version of a hall."""
        versions = [record for record in await self.layouts() if record.hall_id == hall_id]
        if not versions:
            return Rejection(ErrorCode.UNKNOWN_LAYOUT, f"no layout of hall {hall_id}")
        return max(versions, key=lambda record: record.version)

    async def create_showtime(self, new: NewShowtime) -> ScheduledShowtime | Rejection:
        engine = self._store.engine
        layout = await venues.find_layout(engine, new.layout_id)
        if layout is None:
            return _no_layout(new.layout_id)
        terms = ShowtimeTerms(
            new.layout_id, new.title, new.starts_at, new.currency, dict(new.prices),
            new.sales_open_at, new.sales_close_at,
        )  # fmt: skip
        if errors := _term_errors(terms, layout):
            return _invalid(*errors)
        if new.id is not None and await venues.showtime_terms(engine, new.id) is not None:
            return Rejection(ErrorCode.SHOWTIME_EXISTS, f"a showtime {new.id} exists already")
        showtime_id = await venues.create_showtime(engine, new)
        return ScheduledShowtime(showtime_id, terms, layout)

    async def scheduled_showtime(self, showtime_id: str) -> ScheduledShowtime | Rejection:
        engine = self._store.engine
        terms = await venues.showtime_terms(engine, showtime_id)
        layout = None if terms is None else await venues.find_layout(engine, terms.layout_id)
        if terms is None or layout is None:
            return Rejection(ErrorCode.UNKNOWN_SHOWTIME, f"no such showtime: {showtime_id}")
        return ScheduledShowtime(showtime_id, terms, layout)

    async def update_showtime(
        self, showtime_id: str, change: Callable[[ShowtimeTerms], ShowtimeTerms]
    ) -> ScheduledShowtime | Rejection:
        """Change a showtime's terms. Every change to its seats reads them in its own transaction, so a new
        price is what the next booking on any instance is charged; seats sold keep the price they sold at."""
        async with self._serial.hold(showtime_id):
            current = await self.scheduled_showtime(showtime_id)
            if isinstance(current, Rejection):
                return current
            terms = change(current.terms)
            if errors := _term_errors(terms, current.layout):
                return _invalid(*errors)
            await venues.update_showtime(self._store.engine, showtime_id, terms)
        return ScheduledShowtime(showtime_id, terms, current.layout)

    async def delete_showtime(self, showtime_id: str) -> ScheduledShowtime | Rejection:
        """Delete a showtime nobody has booked, with its holds and blocks; return what it was."""
        async with self._serial.hold(showtime_id):
            current = await self.scheduled_showtime(showtime_id)
            if isinstance(current, Rejection):
                return current
            if not await venues.delete_showtime(self._store.engine, showtime_id):
                return Rejection(ErrorCode.HAS_BOOKINGS, f"showtime {showtime_id} has bookings; it stays")
            self._layouts.forget(showtime_id)
        return current

    async def ping(self) -> None:
        await self._store.ping()

    async def close(self) -> None:
        await self._store.close()

    # --- inside ----------------------------------------------------------------------------------------------

    async def _hold(
        self, action: Literal["lock", "extend"], rule: HoldRule, source: Source, showtime_id: str, seats: Selection
    ) -> Accepted | Rejection:
        now, policy, session_id = self._clock.now(), self._holds, source.actor
        return await self._change(
            action,
            source,
            showtime_id,
            seats,
            lambda chosen, layout: lambda claims, terms: rule(claims, terms, session_id, chosen, now, policy),
        )

    async def _change(
        self,
        action: Literal["lock", "extend", "unlock", "book", "block", "unblock"],
        source: Source,
        showtime_id: str,
        selection: Selection,
        rule_for: Callable[[tuple[str, ...], Layout], Rule],
        new_booking: NewBooking | None = None,
    ) -> Accepted | Rejection:
        """``source.actor``: the session whose holds matter, or ``ADMIN``."""
        session_id = source.actor
        layout = await self.layout(showtime_id)
        if isinstance(layout, Rejection):
            return self._refused(action, layout)
        most = self._settings.max_seats_per_request if session_id != ADMIN else len(layout.categories)
        seats = select_seats(layout, selection.seat_ids, most, selection.table_ids, whole_tables=session_id != ADMIN)
        if isinstance(seats, Rejection):
            return self._refused(action, seats)
        if limited := self._limited(session_id):
            return self._refused(action, limited)
        change = Change(seats, session_id, rule_for(seats, layout), new_booking, source=source)
        outcome = await self._group_commit.decide(showtime_id, change)
        if isinstance(outcome, Rejection):
            return self._refused(action, outcome)
        self._metrics.requests.labels(action, "ok").inc()
        if sold := outcome.booking:
            log.info("booked", extra={"booking": sold.id, "showtime": showtime_id, "seats": seats})
        return Accepted(
            action=action,
            showtime_id=showtime_id,
            seat_ids=seats,
            expires_at=outcome.plan.hold_until,
            booking=sold,
            seq=outcome.events[-1].seq if outcome.events else None,
        )

    async def _move(
        self, action: str, source: Source, booking_id: str, goal: BookingStatus, rule: BookingRule
    ) -> BookingRecord | Rejection:
        """Move a booking on to ``goal`` by ``rule``, decided with the other changes of its showtime."""
        actor = source.actor
        found = await self.booking(actor, booking_id)  # which showtime serializes it, and which seats to read
        if isinstance(found, Rejection):
            return self._refused(action, found)
        if limited := self._limited(actor):
            return self._refused(action, limited)
        outcome = await self._group_commit.decide(
            found.showtime_id, BookingChange(found.id, tuple(found.items), rule, source)
        )
        if isinstance(outcome, Rejection):
            return self._refused(action, outcome)
        moved = outcome.booking or found
        if moved.status is not goal:  # a late payment, recorded; the request itself is refused
            return self._refused(action, finished(moved, LATE))
        self._metrics.requests.labels(action, "ok").inc()
        log.info(action, extra={"booking": moved.id, "showtime": moved.showtime_id, "status": moved.status.value})
        return moved

    def _limited(self, session_id: str) -> Rejection | None:
        """The seat-change rate limit of a buyer's session (the operator has none)."""
        wait = self._seat_changes.take(session_id, self._clock.monotonic()) if session_id != ADMIN else 0
        return Rejection(ErrorCode.RATE_LIMITED, "too many seat changes", retry_after_ms=wait) if wait else None

    async def _commit(self, showtime_id: str, changes: Sequence[Change | BookingChange]) -> list[Rejection | Committed]:
        with self._metrics.database_seconds.labels("change").time():
            try:
                return await self._store.change(showtime_id, changes, self._clock.now())
            except LookupError:  # deleted since its layout was read
                return [Rejection(ErrorCode.UNKNOWN_SHOWTIME, f"no such showtime: {showtime_id}")] * len(changes)

    def _announce(self, committed: Committed) -> None:
        for event in committed.events:
            self._metrics.changes.labels(event.change.status.value).inc()
            log.debug(
                "seat %s",
                event.change.status.value,
                extra={"showtime": event.showtime_id, "seat": event.change.seat, "seq": event.seq},
            )
        self._publish(committed.events)

    def _refused(self, action: str, rejection: Rejection) -> Rejection:
        self._metrics.requests.labels(action, rejection.code.value).inc()
        return rejection


CURRENCY = re.compile(r"[A-Z]{3}")


def _term_errors(terms: ShowtimeTerms, layout: LayoutRecord) -> list[FieldError]:
    """What is wrong with a showtime's terms on this layout, each at the request field it comes from."""
    categories = [category.id for category in layout.categories]
    errors = [
        FieldError(f"prices.{category}", f"no category {category} in layout {layout.id}: {', '.join(categories)}")
        for category in terms.prices
        if category not in categories
    ]
    errors += [
        FieldError(f"prices.{category}", f"a price is at least 0 cents, not {cents}")
        for category, cents in terms.prices.items()
        if cents < 0
    ]
    if not CURRENCY.fullmatch(terms.currency):
        errors.append(FieldError("currency", f"an ISO 4217 code of three capital letters, not {terms.currency!r}"))
    opens, closes = terms.sales_open_at, terms.sales_close_at
    if opens is not None and closes is not None and closes <= opens:
        errors.append(FieldError("salesCloseAt", "sales must close after they open (salesOpenAt)"))
    return errors


def _invalid(*errors: FieldError) -> Rejection:
    return Rejection(ErrorCode.INVALID_VALUE, "; ".join(map(str, errors)), errors=errors)


def _no_layout(layout_id: str) -> Rejection:
    return Rejection(ErrorCode.UNKNOWN_LAYOUT, f"no such layout: {layout_id}")
