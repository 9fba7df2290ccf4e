"""Seat transactions: read the claims, let a rule decide, write the plan and its events, atomically.

Every change to a showtime's seats runs in one transaction that first locks the showtime row
(``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite). That serializes changes per
showtime across every server instance, which both makes each rule's read-decide-write atomic and
lets ``seq`` grow by exactly one per change. The primary keys of ``seat_hold`` and ``booking_seat``
are the last line of defence: a seat cannot be held or sold twice whatever the code above does.

The statements of a seat change are built once, at import, with named parameters: building and
cache-keying a SQLAlchemy statement costs more than the database's work for a small change, and a
prebuilt one goes straight to its compiled form in the engine's cache.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.bookings import BookingEvent, BookingStatus
from server.core.changes import BookingChange, Change, Committed, Event, NewBooking, Notice, RenderNotice
from server.core.checkout import advance
from server.core.errors import Rejection
from server.core.history import HistoryEntry, HistoryQuery
from server.core.origins import SWEEPER, Channel, Origin, Source
from server.core.records import (
    BookingRecord,
    BookingSearch,
    ShowtimeDetails,
    ShowtimeRecord,
    Snapshot,
    TermsKey,
    TransitionRecord,
    terms_key,
)
from server.core.seats import Claim, Layout, Plan, SaleTerms, SeatChange, SeatState, SeatStatus, TableRule, apply_plan
from server.storage.tables import (
    auditorium,
    booking,
    booking_item,
    booking_seat,
    booking_transition,
    layout,
    layout_seat,
    layout_table,
    seat_block,
    seat_event,
    seat_hold,
    showtime,
    showtime_price,
    venue,
    webhook_event,
)
from server.storage.venues import load_layout
from server.storage.writer import Transactions

__all__ = ["SeatStore"]


class SeatStore:
    """``render_notice``, when webhooks are configured, writes what each change tells the shop to the outbox
    in the change's own transaction; without it nothing is written there."""

    def __init__(self, engine: AsyncEngine, render_notice: RenderNotice | None = None) -> None:
        self.engine = engine
        self._transactions = Transactions(engine)
        self._render_notice = render_notice

    async def close(self) -> None:
        await self._transactions.close()
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(select(1))

    async def layout(self, showtime_id: str) -> Layout | None:
        """What the rules need of the showtime's layout: each seat's category, and the tables."""
        seats = (
            select(layout_seat.c.code, layout_seat.c.category_id, layout_seat.c.table_id)
            .join(showtime, showtime.c.layout_id == layout_seat.c.layout_id)
            .where(showtime.c.id == showtime_id)
        )
        tables = (
            select(layout_table.c.id, layout_table.c.sold_as_whole)
            .join(showtime, showtime.c.layout_id == layout_table.c.layout_id)
            .where(showtime.c.id == showtime_id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(seats)).all()
            whole = {table_id: sold_as_whole for table_id, sold_as_whole in await conn.execute(tables)}
        if not rows:
            return None
        members: dict[str, list[str]] = {table_id: [] for table_id in whole}
        for row in rows:
            if row.table_id is not None:
                members[row.table_id].append(row.code)
        return Layout(
            categories={row.code: row.category_id for row in rows},
            tables={table_id: TableRule(tuple(members[table_id]), whole[table_id]) for table_id in whole},
            table_of={row.code: row.table_id for row in rows if row.table_id is not None},
        )

    async def snapshot(self, showtime_id: str) -> Snapshot:
        """Every claim on the showtime and the ``seq`` they are current at, read consistently."""

        def read(conn: Connection) -> Snapshot:
            # FOR SHARE waits for an in-flight change, so seq and claims belong together.
            return Snapshot(_seq(conn, showtime_id, for_update=False), _claims(conn, showtime_id, seats=None))

        async with self.engine.begin() as conn:
            return await conn.run_sync(read)

    async def holds(self, showtime_id: str, session_id: str) -> dict[str, int]:
        """One session's holds on the showtime and when each lapses (an index covers the lookup)."""
        query = select(seat_hold.c.seat_code, seat_hold.c.expires_at).where(
            seat_hold.c.showtime_id == showtime_id, seat_hold.c.session_id == session_id
        )
        async with self.engine.connect() as conn:
            return {row.seat_code: row.expires_at for row in await conn.execute(query)}

    async def change(
        self, showtime_id: str, changes: Sequence[Change | BookingChange], now: int
    ) -> list[Rejection | Committed]:
        """Decide ``changes`` in order in one transaction, and commit what each accepted one plans.

        Each rule sees the claims (and a checkout rule its booking) as the changes before it left them, exactly as
        if each had its own transaction in turn; sharing one saves the fixed cost of a transaction under contention.
        """
        return await self._transactions.run(lambda conn: self._change(conn, showtime_id, changes, now))

    def _change(
        self, conn: Connection, showtime_id: str, changes: Sequence[Change | BookingChange], now: int
    ) -> list[Rejection | Committed]:
        seat_changes = [change for change in changes if isinstance(change, Change)]
        named = [change.booking_id for change in changes if isinstance(change, BookingChange)]
        seq, terms = _terms(conn, showtime_id, priced=any(c.new_booking for c in seat_changes))
        seats = {seat for change in changes for seat in change.seats}
        claims = _claims(conn, showtime_id, seats, {change.holder for change in seat_changes})
        bookings = _bookings(conn, booking.c.id.in_(named)) if named else {}
        batch = _Batch(showtime_id, seq, now, claims, terms.currency, self._render_notice, bookings)
        outcomes: list[Rejection | Committed] = []
        for change in changes:
            if isinstance(change, BookingChange):
                plan = change.rule(claims, batch.bookings.get(change.booking_id))
            else:
                plan = change.rule(claims, terms)
            if isinstance(plan, Rejection):
                outcomes.append(plan)
                continue
            apply_plan(claims, plan)
            if isinstance(change, BookingChange):
                outcomes.append(batch.add(plan, change.source, subject=change.booking_id))
            else:
                outcomes.append(batch.add(plan, change.source, change.new_booking))
        batch.write(conn, claims)
        return outcomes

    async def expire(
        self, showtime_id: str, now: int, rule: Callable[[Mapping[str, Claim], Sequence[BookingRecord]], Plan]
    ) -> Committed:
        """Let ``rule`` release the showtime's holds lapsed by ``now`` and expire its bookings unpaid by then.

        Read under the showtime's lock, so each is released (and announced) by one transaction of one instance.
        """

        def release(conn: Connection) -> Committed:
            seq = _seq(conn, showtime_id, for_update=True)
            lapsed = select(seat_hold).where(seat_hold.c.showtime_id == showtime_id, seat_hold.c.expires_at <= now)
            claims = {row.seat_code: _hold_claim(row) for row in conn.execute(lapsed)}
            overdue = _bookings(conn, _overdue(now, booking.c.showtime_id == showtime_id))
            batch = _Batch(showtime_id, seq, now, claims, render_notice=self._render_notice, bookings=overdue)
            plan = rule(claims, list(overdue.values()))
            apply_plan(claims, plan)
            committed = batch.add(plan, SWEEPER)
            batch.write(conn, claims)
            return committed

        return await self._transactions.run(release)

    async def events(self, showtime_id: str, after: int, upto: int) -> list[Event]:
        """The logged changes of a showtime with ``after < seq <= upto``, in order."""
        query = (
            select(seat_event)
            .where(seat_event.c.showtime_id == showtime_id, seat_event.c.seq > after, seat_event.c.seq <= upto)
            .order_by(seat_event.c.seq)
        )
        async with self.engine.connect() as conn:
            return [_event(row) for row in await conn.execute(query)]

    async def replay(self, showtime_id: str, after: int, limit: int, since: int = 0) -> tuple[int, list[Event]] | None:
        """The current seq and every change since ``after``, or None when the log cannot cover the gap.

        Changes logged before ``since`` are not offered (the log keeps them longer, as the seats' history): a
        client that far behind gets a snapshot, as if they had been pruned. Read under the same share lock as a
        snapshot, so no change is half visible.
        """

        def read(conn: Connection) -> tuple[int, Sequence[Row[Any]]] | None:
            seq = _seq(conn, showtime_id, for_update=False)
            if not 0 <= after <= seq or seq - after > limit:
                return None
            logged = select(seat_event).where(
                seat_event.c.showtime_id == showtime_id, seat_event.c.seq > after, seat_event.c.created_at >= since
            )
            return seq, conn.execute(logged.order_by(seat_event.c.seq)).all()

        async with self.engine.begin() as conn:
            found = await conn.run_sync(read)
        if found is None:
            return None
        seq, rows = found
        if len(rows) != seq - after:  # the log was pruned past ``after``, or is older than ``since`` there
            return None
        return seq, [_event(row) for row in rows]

    async def state(self, showtime_id: str) -> tuple[int, TermsKey] | None:
        """The showtime's seq and terms, read together."""
        query = select(
            showtime.c.seq,
            showtime.c.title,
            showtime.c.starts_at,
            showtime.c.currency,
            showtime.c.sales_open_at,
            showtime.c.sales_close_at,
        ).where(showtime.c.id == showtime_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            prices = await conn.run_sync(_prices, showtime_id)
        terms = terms_key(row.title, row.starts_at, row.currency, prices, row.sales_open_at, row.sales_close_at)
        return int(row.seq), terms

    async def seqs(self, showtime_ids: Sequence[str]) -> dict[str, int]:
        query = select(showtime.c.id, showtime.c.seq).where(showtime.c.id.in_(showtime_ids))
        async with self.engine.connect() as conn:
            return {showtime_id: int(seq) for showtime_id, seq in await conn.execute(query)}

    async def prune_events(self, before: int) -> int:
        """Forget logged changes older than ``before``: the seats' history that far back (AUDIT_RETENTION_DAYS)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(seat_event).where(seat_event.c.created_at < before))
        return int(result.rowcount)

    async def history(self, query: HistoryQuery) -> list[HistoryEntry]:
        """A page of a showtime's logged changes as ``query`` picks them, in ``seq`` order (an index covers a
        seat's)."""
        wanted = [
            condition
            for given, condition in (
                (query.seat, seat_event.c.seat_code == query.seat),
                (query.since, seat_event.c.created_at >= (query.since or 0)),
                (query.until, seat_event.c.created_at < (query.until or 0)),
                (query.origins or None, seat_event.c.origin.in_([origin.value for origin in query.origins])),
            )
            if given is not None
        ]
        listed = (
            select(seat_event)
            .where(seat_event.c.showtime_id == query.showtime_id, seat_event.c.seq > query.after, *wanted)
            .order_by(seat_event.c.seq)
            .limit(query.limit)
        )
        async with self.engine.connect() as conn:
            return [_entry(row) for row in await conn.execute(listed)]

    async def showtimes_with_lapsed_holds(self, now: int) -> list[str]:
        query = select(seat_hold.c.showtime_id).where(seat_hold.c.expires_at <= now).distinct()
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def showtimes_with_overdue_payments(self, now: int) -> list[str]:
        """Showtimes with a pending booking whose payment was due by ``now`` (an index covers the lookup)."""
        query = select(booking.c.showtime_id).where(_overdue(now)).distinct()
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    # --- reads for the REST API ---------------------------------------------------------------------------

    async def showtimes(self) -> list[ShowtimeRecord]:
        query = _showtime_summary().order_by(showtime.c.starts_at, showtime.c.id)
        async with self.engine.connect() as conn:
            return [_summary(row) for row in await conn.execute(query)]

    async def showtime(self, showtime_id: str) -> ShowtimeDetails | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(_showtime_summary().where(showtime.c.id == showtime_id))).first()
            if row is None:
                return None
            prices = await conn.run_sync(_prices, showtime_id)
        hall = await load_layout(self.engine, row.layout_id)
        if hall is None:
            return None
        return ShowtimeDetails(_summary(row), row.layout_id, hall, prices, row.sales_open_at, row.sales_close_at)

    async def booking(self, booking_id: str) -> BookingRecord | None:
        async with self.engine.connect() as conn:
            return (await conn.run_sync(_bookings, booking.c.id == booking_id)).get(booking_id)

    async def bookings(self, search: BookingSearch) -> list[BookingRecord]:
        """The bookings that match every criterion of ``search``, oldest first."""
        criteria = [
            column == value
            for column, value in (
                (booking.c.showtime_id, search.showtime_id),
                (booking.c.status, search.status and search.status.value),
                (booking.c.order_reference, search.order_reference),
                (booking.c.customer_email, search.email),
            )
            if value is not None
        ]
        async with self.engine.connect() as conn:
            return list((await conn.run_sync(_bookings, and_(true(), *criteria))).values())


class _Batch:
    """The writes of the plans accepted in one transaction, numbered and then written in bulk."""

    def __init__(
        self,
        showtime_id: str,
        seq: int,
        now: int,
        claims: Mapping[str, Claim],
        currency: str = "",
        render_notice: RenderNotice | None = None,
        bookings: Mapping[str, BookingRecord] | None = None,
    ) -> None:
        bookings = dict(bookings or {})
        self.held = {s for s, c in claims.items() if c.state is SeatState.HELD}  # seats with a hold row at the start
        self.sold = {s for s, c in claims.items() if c.state in _SOLD.values()}  # and those with a booking_seat row
        self.sold |= {seat for b in bookings.values() if b.status.takes_seats for seat in b.items}
        self.currency = currency  # of the showtime, for its bookings
        self.render_notice = render_notice
        self.showtime_id = showtime_id
        self.seq = seq  # the last seq handed out
        self.now = now
        self.touched: set[str] = set()  # seats whose hold is written again from the final claims
        self.events: list[Event] = []
        self.logged: list[dict[str, object]] = []  # the events' seat_event rows
        self.bookings = bookings  # read in the transaction, or made in it; as the changes left them
        self.new: list[str] = []  # the bookings made
        self.moved: set[str] = set()  # the bookings read and moved on
        self.taken: dict[str, str | None] = {}  # seat -> the booking that claims it now, or None: booking_seat rows
        self.items: list[dict[str, object]] = []
        self.transitions: list[dict[str, object]] = []
        self.blocks: dict[str, str] = {}  # seat -> reason
        self.unblocks: set[str] = set()
        self.notices: list[Notice] = []

    def add(
        self, plan: Plan, source: Source, new_booking: NewBooking | None = None, subject: str | None = None
    ) -> Committed:
        """Number and keep what ``plan`` writes, asked for by ``source``; ``subject``: the booking a checkout rule
        decided on."""
        events = [Event(self.showtime_id, self.seq + n, change, self.now) for n, change in enumerate(plan.changes, 1)]
        self.seq += len(events)
        self.events += events
        self.logged += [_event_row(event, source) for event in events]
        self.touched.update(plan.release, plan.hold, plan.sell)
        self.blocks.update(plan.block)
        self.unblocks.update(plan.unblock)
        if plan.block:
            reason = next(iter(plan.block.values()))  # one request blocks its seats for one reason
            self.notify(Notice("seat.blocked", self.showtime_id, self.now, seats=tuple(plan.block), reason=reason))
        if plan.unblock:
            self.notify(Notice("seat.unblocked", self.showtime_id, self.now, seats=plan.unblock))
        for move in plan.transitions:
            moved = self.bookings[move.booking_id] = advance(self.bookings[move.booking_id], move)
            self.moved.add(move.booking_id)
            if move.take or move.free:
                self.taken |= dict.fromkeys(move.seats, move.booking_id if move.take else None)
            self._log(moved, move.event)
        if plan.sell:
            subject = self._sell(plan, new_booking)
        return Committed(plan, events, self.bookings.get(subject) if subject else None)

    def _sell(self, plan: Plan, new_booking: NewBooking | None) -> str:
        if new_booking is None:
            raise ValueError("a plan that sells seats needs the booking's details")
        booking_id = "bk_" + secrets.token_hex(8)
        pending = plan.payment_due_at is not None
        status = BookingStatus.PENDING if pending else BookingStatus.CONFIRMED
        made = self.bookings[booking_id] = BookingRecord(
            id=booking_id,
            showtime_id=self.showtime_id,
            session_id=plan.session_id,
            status=status,
            items=dict(sorted(plan.sell.items())),
            customer_name=new_booking.customer.name,
            customer_email=new_booking.customer.email,
            customer_phone=new_booking.customer.phone,
            notes=new_booking.notes,
            order_reference=new_booking.order_reference,
            total_cents=plan.total_cents,
            currency=self.currency,
            created_at=self.now,
            payment_due_at=plan.payment_due_at,
            confirmed_at=None if pending else self.now,
            transitions=(TransitionRecord(1, status, plan.session_id, self.now),),
        )
        self.new.append(booking_id)
        self.taken |= dict.fromkeys(plan.sell, booking_id)
        self.items += [
            {"booking_id": booking_id, "seat_code": seat, "price_cents": price} for seat, price in plan.sell.items()
        ]
        self._log(made, BookingEvent.PENDING if pending else BookingEvent.CONFIRMED)
        return booking_id

    def _log(self, record: BookingRecord, event: BookingEvent) -> None:
        """Log the booking's last transition, and tell the shop of it."""
        last = record.transitions[-1]
        self.transitions.append(
            {
                "booking_id": record.id,
                "position": last.position,
                "status": last.status.value,
                "actor": last.actor,
                "detail": last.detail,
                "at": last.at,
            }
        )
        self.notify(Notice(event.value, self.showtime_id, last.at, booking=record, position=last.position))

    def _write_bookings(self, conn: Connection) -> None:
        """The bookings made, the columns of those moved on, who claims each seat they touched (``booking_seat``,
        as the last change left it), their items and their transitions."""
        if self.new:
            conn.execute(_INSERT["booking"], [_booking_row(self.bookings[b]) for b in self.new])
        if self.moved:
            conn.execute(_UPDATE_BOOKING, [_moved_row(self.bookings[b]) for b in sorted(self.moved)])
        if released := [seat for seat in self.taken if seat in self.sold]:
            conn.execute(_DELETE_SOLD, {"showtime_id": self.showtime_id, "seats": released})
        taken = [
            {"showtime_id": self.showtime_id, "seat_code": seat, "booking_id": owner}
            for seat, owner in self.taken.items()
            if owner is not None
        ]
        for table, rows in ((booking_seat, taken), (booking_item, self.items), (booking_transition, self.transitions)):
            if rows:
                conn.execute(_INSERT[table.name], rows)

    def notify(self, notice: Notice) -> None:
        """Tell the shop about ``notice`` through the outbox, when webhooks are configured."""
        if self.render_notice is not None:
            self.notices.append(notice)

    def write(self, conn: Connection, claims: Mapping[str, Claim]) -> None:
        """Write the holds of every touched seat as ``claims`` now have them, the bookings as the changes left
        them, the sales, events, seq and the outbox.

        A hold row's ``created_at`` is when its session first held the seat (``Claim.held_since``): a hold
        extended is rewritten with the time it began, which is what caps how long it may last.
        """
        if self.transitions:
            self._write_bookings(conn)
        if self.notices and self.render_notice is not None:
            conn.execute(_INSERT["webhook_event"], [_outbox_row(n, self.render_notice) for n in self.notices])
        if not self.events and not self.touched:
            return
        if self.touched & self.held:  # a fresh lock has no old row to delete: save the round trip
            conn.execute(_DELETE_HOLDS, {"showtime_id": self.showtime_id, "seats": list(self.touched)})
        holds = [
            {
                "showtime_id": self.showtime_id,
                "seat_code": seat,
                "session_id": claim.session_id,
                "expires_at": claim.expires_at,
                "created_at": claim.held_since,
            }
            for seat in sorted(self.touched)
            if (claim := claims.get(seat)) is not None and claim.state is SeatState.HELD
        ]
        if self.unblocks:
            conn.execute(
                delete(seat_block).where(
                    seat_block.c.showtime_id == self.showtime_id, seat_block.c.seat_code.in_(self.unblocks)
                )
            )
        blocks = [
            {"showtime_id": self.showtime_id, "seat_code": seat, "reason": reason, "created_at": self.now}
            for seat, reason in self.blocks.items()
            if seat not in self.unblocks
        ]
        for table, rows in ((seat_hold, holds), (seat_block, blocks)):
            if rows:
                conn.execute(_INSERT[table.name], rows)
        if self.events:
            conn.execute(_INSERT["seat_event"], self.logged)
            conn.execute(_SET_SEQ, {"showtime_id": self.showtime_id, "new_seq": self.seq})


# --- inside a transaction ---------------------------------------------------------------------------------


def _terms(conn: Connection, showtime_id: str, *, priced: bool) -> tuple[int, SaleTerms]:
    """Lock the showtime's row; its seq, and its terms (prices only when a booking needs them)."""
    row = conn.execute(_LOCK_SHOWTIME, {"showtime_id": showtime_id}).first()
    if row is None:
        raise LookupError(showtime_id)
    prices: dict[str, int] = {}
    if priced:
        prices = _prices(conn, showtime_id)
    return int(row.seq), SaleTerms(prices, row.currency, row.sales_open_at, row.sales_close_at)


def _seq(conn: Connection, showtime_id: str, *, for_update: bool) -> int:
    query = select(showtime.c.seq).where(showtime.c.id == showtime_id)
    query = query.with_for_update(read=not for_update)
    seq = conn.execute(query).scalar_one_or_none()
    if seq is None:
        raise LookupError(showtime_id)
    return int(seq)


def _claims(
    conn: Connection, showtime_id: str, seats: Collection[str] | None, holders: Collection[str] = ()
) -> dict[str, Claim]:
    """Claims on ``seats`` (all seats if None), plus every hold of the ``holders``, in one query."""
    if seats is None:
        rows = conn.execute(_ALL_CLAIMS, {"showtime_id": showtime_id})
    else:
        rows = conn.execute(_CLAIMS_ON, {"showtime_id": showtime_id, "seats": list(seats), "holders": list(holders)})
    claims: dict[str, Claim] = {}
    for kind, code, session_id, expires_at, held_since in rows:
        if kind in _SOLD:
            claims[code] = Claim(_SOLD[kind], session_id)
        elif kind == "x":
            claims[code] = Claim(SeatState.BLOCKED, "")
        elif code not in claims:  # a sale outranks a stray hold, whatever order the rows come in
            claims[code] = Claim(SeatState.HELD, session_id, expires_at, held_since)
    return claims


def _claims_query(filtered: bool) -> Select[Any]:
    """Holds, sales and blocks of a showtime, told apart by ``kind``; ``filtered``: only those on ``:seats``,
    plus every hold of the ``:holders``."""
    showtime_id: BindParameter[str] = bindparam("showtime_id")
    holds = select(
        literal("h").label("kind"),
        seat_hold.c.seat_code,
        seat_hold.c.session_id,
        seat_hold.c.expires_at,
        seat_hold.c.created_at,
    ).where(seat_hold.c.showtime_id == showtime_id)
    # A pending booking's seats are taken as surely as a confirmed one's: "p" keeps them apart.
    kind = case((booking.c.status == BookingStatus.PENDING.value, literal("p")), else_=literal("b"))
    sold = (
        select(kind.label("kind"), booking_seat.c.seat_code, booking.c.session_id, null(), null())
        .join(booking, booking.c.id == booking_seat.c.booking_id)
        .where(booking_seat.c.showtime_id == showtime_id)
    )
    blocked = select(literal("x").label("kind"), seat_block.c.seat_code, literal(""), null(), null()).where(
        seat_block.c.showtime_id == showtime_id
    )
    if filtered:
        seats: BindParameter[list[str]] = bindparam("seats", expanding=True)
        holders: BindParameter[list[str]] = bindparam("holders", expanding=True)
        holds = holds.where(or_(seat_hold.c.seat_code.in_(seats), seat_hold.c.session_id.in_(holders)))
        sold = sold.where(booking_seat.c.seat_code.in_(seats))
        blocked = blocked.where(seat_block.c.seat_code.in_(seats))
    return union_all(holds, sold, blocked)  # type: ignore[return-value]


_ALL_CLAIMS = _claims_query(filtered=False)
_CLAIMS_ON = _claims_query(filtered=True)
_LOCK_SHOWTIME = (
    select(showtime.c.seq, showtime.c.currency, showtime.c.sales_open_at, showtime.c.sales_close_at)
    .where(showtime.c.id == bindparam("showtime_id"))
    .with_for_update()
)
_DELETE_HOLDS = delete(seat_hold).where(
    seat_hold.c.showtime_id == bindparam("showtime_id"), seat_hold.c.seat_code.in_(bindparam("seats", expanding=True))
)
_DELETE_SOLD = delete(booking_seat).where(
    booking_seat.c.showtime_id == bindparam("showtime_id"),
    booking_seat.c.seat_code.in_(bindparam("seats", expanding=True)),
)
# What a move changes of a booking. (A bind parameter may not be named after a column it sets.)
_MOVING = (
    "status",
    "payment_reference",
    "payment_provider",
    "cancel_reason",
    "confirmed_at",
    "cancelled_at",
    "expired_at",
)
_UPDATE_BOOKING = (
    update(booking)
    .where(booking.c.id == bindparam("moved_id"))
    .values({column: bindparam(f"new_{column}") for column in _MOVING})
)
_SOLD = {"p": SeatState.PENDING, "b": SeatState.BOOKED}  # the kinds of claim a booking_seat row makes
_SET_SEQ = update(showtime).where(showtime.c.id == bindparam("showtime_id")).values(seq=bindparam("new_seq"))
_INSERT = {
    table.name: insert(table)
    for table in (
        seat_hold, booking, booking_seat, booking_item, booking_transition, seat_block, seat_event, webhook_event,
    )
}  # fmt: skip


def _event_row(event: Event, source: Source) -> dict[str, object]:
    change = event.change
    return {
        "showtime_id": event.showtime_id,
        "seq": event.seq,
        "seat_code": change.seat,
        "status": change.status.value,
        "session_id": change.session_id,
        "origin": change.origin.value,
        "actor": source.actor,
        "channel": source.channel.value,
        "created_at": event.at,
    }


def _outbox_row(notice: Notice, render: RenderNotice) -> dict[str, object]:
    event_id = "evt_" + secrets.token_hex(12)
    return {
        "id": event_id,
        "position": notice.position,
        "type": notice.type,
        "booking_id": notice.booking.id if notice.booking else None,
        "showtime_id": notice.showtime_id,
        "body": render(event_id, notice),
        "created_at": notice.at,
    }


def _booking_row(record: BookingRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "showtime_id": record.showtime_id,
        "session_id": record.session_id,
        "status": record.status.value,
        "customer_name": record.customer_name,
        "customer_email": record.customer_email,
        "customer_phone": record.customer_phone,
        "notes": record.notes,
        "order_reference": record.order_reference,
        "total_cents": record.total_cents,
        "currency": record.currency,
        "payment_due_at": record.payment_due_at,
        "created_at": record.created_at,
        "confirmed_at": record.confirmed_at,
    }


def _moved_row(record: BookingRecord) -> dict[str, object]:
    row = {"moved_id": record.id, "new_status": record.status.value}
    return row | {f"new_{column}": getattr(record, column) for column in _MOVING if column != "status"}


def _overdue(now: int, *more: ColumnElement[bool]) -> ColumnElement[bool]:
    """Pending bookings whose payment was due by ``now``."""
    return and_(booking.c.status == BookingStatus.PENDING.value, booking.c.payment_due_at <= now, *more)


def _bookings(conn: Connection, where: ColumnElement[bool]) -> dict[str, BookingRecord]:
    """The bookings ``where`` selects, oldest first, each with its items and its transitions."""
    rows = conn.execute(select(booking).where(where).order_by(booking.c.created_at, booking.c.id)).all()
    if not rows:
        return {}
    chosen = select(booking.c.id).where(where)
    items: dict[str, dict[str, int]] = {row.id: {} for row in rows}
    listed = select(booking_item.c.booking_id, booking_item.c.seat_code, booking_item.c.price_cents)
    for booking_id, seat, cents in conn.execute(listed.where(booking_item.c.booking_id.in_(chosen))):
        items[booking_id][seat] = cents
    logs: dict[str, list[TransitionRecord]] = {row.id: [] for row in rows}
    logged = select(booking_transition).where(booking_transition.c.booking_id.in_(chosen))
    for t in conn.execute(logged.order_by(booking_transition.c.position)):
        logs[t.booking_id].append(TransitionRecord(t.position, BookingStatus(t.status), t.actor, t.at, t.detail))
    return {row.id: _booking(row, items[row.id], tuple(logs[row.id])) for row in rows}


def _booking(row: Row[Any], items: dict[str, int], transitions: tuple[TransitionRecord, ...]) -> BookingRecord:
    return BookingRecord(
        id=row.id,
        showtime_id=row.showtime_id,
        session_id=row.session_id,
        status=BookingStatus(row.status),
        items=dict(sorted(items.items())),
        customer_name=row.customer_name,
        customer_email=row.customer_email,
        customer_phone=row.customer_phone,
        notes=row.notes,
        order_reference=row.order_reference,
        total_cents=row.total_cents,
        currency=row.currency,
        created_at=row.created_at,
        payment_due_at=row.payment_due_at,
        payment_reference=row.payment_reference,
        payment_provider=row.payment_provider,
        cancel_reason=row.cancel_reason,
        confirmed_at=row.confirmed_at,
        cancelled_at=row.cancelled_at,
        expired_at=row.expired_at,
        transitions=transitions,
    )


def _prices(conn: Connection, showtime_id: str) -> dict[str, int]:
    """The showtime's price of each category, in cents."""
    listed = select(showtime_price.c.category_id, showtime_price.c.price_cents)
    return {
        category: cents for category, cents in conn.execute(listed.where(showtime_price.c.showtime_id == showtime_id))
    }


def _event(row: Row[Any]) -> Event:
    change = SeatChange(row.seat_code, SeatStatus(row.status), row.session_id, Origin(row.origin))
    return Event(row.showtime_id, int(row.seq), change, row.created_at)


def _entry(row: Row[Any]) -> HistoryEntry:
    return HistoryEntry(
        seq=int(row.seq),
        seat=row.seat_code,
        status=SeatStatus(row.status),
        session_id=row.session_id,
        origin=Origin(row.origin),
        actor=row.actor,
        channel=Channel(row.channel),
        at=row.created_at,
    )


def _hold_claim(row: Row[Any]) -> Claim:
    return Claim(SeatState.HELD, row.session_id, row.expires_at, row.created_at)


def _summary(row: Row[Any]) -> ShowtimeRecord:
    return ShowtimeRecord(
        id=row.id,
        title=row.title,
        starts_at=row.starts_at,
        currency=row.currency,
        venue=row.venue,
        auditorium=row.auditorium,
        seat_count=row.seat_count,
    )


def _showtime_summary() -> Select[tuple[object, ...]]:
    seat_count = select(func.count()).where(layout_seat.c.layout_id == showtime.c.layout_id).scalar_subquery()
    return (
        select(
            showtime.c.id,
            showtime.c.title,
            showtime.c.starts_at,
            showtime.c.currency,
            showtime.c.seq,
            showtime.c.layout_id,
            showtime.c.sales_open_at,
            showtime.c.sales_close_at,
            venue.c.name.label("venue"),
            auditorium.c.name.label("auditorium"),
            seat_count.label("seat_count"),
        )
        .join(layout, layout.c.id == showtime.c.layout_id)
        .join(auditorium, auditorium.c.id == layout.c.auditorium_id)
        .join(venue, venue.c.id == auditorium.c.venue_id)
    )
