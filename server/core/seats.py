"""Seat rules: who may lock, unlock and book which seats, and when holds expire.

Every function takes the current claims on the seats a request names, plus ``now``, and returns either
a :class:`Rejection` or a :class:`Plan`: the writes to make and the changes to announce. The storage
adapter runs the function inside the transaction that read the claims, so the decision and its writes
are atomic. Nothing here raises on client input, reads a clock or touches I/O.

All instants are Unix epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from server.core.bookings import BookingStatus, Transition
from server.core.errors import ErrorCode, Rejection
from server.core.origins import Origin

__all__ = [
    "Claim",
    "Hold",
    "HoldPolicy",
    "Layout",
    "Plan",
    "SaleTerms",
    "SeatChange",
    "SeatState",
    "SeatStatus",
    "TableRule",
    "apply_plan",
    "plan_block",
    "plan_book",
    "plan_expiry",
    "plan_extend",
    "plan_lock",
    "plan_unblock",
    "plan_unlock",
    "select_seats",
]


class SeatState(StrEnum):
    """What a seat is, as a client sees it."""

    AVAILABLE = "available"
    HELD = "held"
    BOOKED = "booked"
    BLOCKED = "blocked"  # taken out of sale by the operator
    PENDING = "pending"  # sold, awaiting payment: clients see it held (it was announced ``locked``)


class SeatStatus(StrEnum):
    """The transition announced in a ``seat_status_change`` message."""

    LOCKED = "locked"
    UNLOCKED = "unlocked"
    BOOKED = "booked"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class Claim:
    """A hold or a sale of one seat. A seat with no claim is available."""

    state: SeatState  # HELD, PENDING, BOOKED or BLOCKED, never AVAILABLE
    session_id: str  # who holds or bought it; empty for a block
    expires_at: int | None = None  # holds only
    held_since: int | None = None  # holds only: when the session first held the seat; re-holding keeps it

    def is_live_hold(self, now: int) -> bool:
        return self.state is SeatState.HELD and self.expires_at is not None and self.expires_at > now


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    """How long holds last and how many a session may have. Each lock or extend holds a seat for ``ttl_ms``
    more, but never past ``max_ms`` after the session first held it, so that no one can hoard a seat."""

    ttl_ms: int
    max_ms: int
    max_seats: int  # held by one session in one showtime at once


@dataclass(frozen=True, slots=True)
class Hold:
    """A hold a plan writes: until when, and since when its session has held the seat."""

    until: int
    since: int


@dataclass(frozen=True, slots=True)
class TableRule:
    seats: tuple[str, ...]
    sold_as_whole: bool


@dataclass(frozen=True, slots=True)
class Layout:
    """What the rules need of a showtime's layout: each seat's category, and the tables. Immutable."""

    categories: Mapping[str, str]  # seat -> category id
    tables: Mapping[str, TableRule] = field(default_factory=dict)
    table_of: Mapping[str, str] = field(default_factory=dict)  # seat -> the table it belongs to


@dataclass(frozen=True, slots=True)
class SaleTerms:
    """A showtime's prices and sales window, read in the same transaction as the claims: the operator may
    change them at any moment, and every instance must charge the new price from then on."""

    prices: Mapping[str, int]  # category id -> cents
    currency: str
    sales_open_at: int | None = None
    sales_close_at: int | None = None

    def on_sale(self, now: int) -> bool:
        opened = self.sales_open_at is None or self.sales_open_at <= now
        return opened and (self.sales_close_at is None or now < self.sales_close_at)


@dataclass(frozen=True, slots=True)
class SeatChange:
    seat: str
    status: SeatStatus
    session_id: str  # whose claim the seat now is (or was, when let go); empty for a block
    origin: Origin  # what made it change


@dataclass(frozen=True, slots=True)
class Plan:
    """What an accepted request does: storage writes and the changes to broadcast, in order."""

    session_id: str  # who holds the seats in ``hold`` and buys those in ``sell``
    hold: Mapping[str, Hold] = field(default_factory=dict)  # seat -> its hold, new or extended
    release: tuple[str, ...] = ()  # holds to delete
    sell: Mapping[str, int] = field(default_factory=dict)  # seat -> price in cents
    payment_due_at: int | None = None  # set: the sale is a pending booking, to be paid by then
    block: Mapping[str, str] = field(default_factory=dict)  # seat -> why it is blocked
    unblock: tuple[str, ...] = ()
    transitions: tuple[Transition, ...] = ()  # moves of existing bookings
    changes: tuple[SeatChange, ...] = ()

    @property
    def total_cents(self) -> int:
        return sum(self.sell.values())

    @property
    def hold_until(self) -> int | None:
        """When the first of the holds lapses: the one instant an ack can promise for all of its seats."""
        return min((hold.until for hold in self.hold.values()), default=None)


# A pending sale's seats are announced locked again: clients saw them held, and still do.
_PENDING = (SeatStatus.LOCKED, Origin.PAYMENT_PENDING)


def select_seats(
    layout: Layout, seats: Sequence[str], max_seats: int, tables: Sequence[str] = (), *, whole_tables: bool = True
) -> Rejection | tuple[str, ...]:
    """The seats a request names, its tables expanded; all or nothing. Duplicates are dropped, order is kept.

    A seat of a table sold as a whole can only be named through its table (``whole_tables``: buyers; the
    operator may block one seat of it).
    """
    unknown_tables = tuple(table for table in dict.fromkeys(tables) if table not in layout.tables)
    if unknown_tables:
        return Rejection(ErrorCode.UNKNOWN_TABLE, f"no such table: {', '.join(unknown_tables)}", unknown_tables)
    named = tuple(dict.fromkeys(seats))
    both = tuple(seat for seat in named if layout.table_of.get(seat) in tables)
    if both:
        return Rejection(ErrorCode.INVALID_MESSAGE, f"named both alone and with their table: {', '.join(both)}", both)
    unique = tuple(dict.fromkeys((*named, *(seat for table in tables for seat in layout.tables[table].seats))))
    if not unique:
        return Rejection(ErrorCode.INVALID_MESSAGE, "seatIds or tableIds must name at least one seat")
    if len(unique) > max_seats:
        return Rejection(ErrorCode.TOO_MANY_SEATS, f"at most {max_seats} seats per request, got {len(unique)}")
    unknown = tuple(seat for seat in unique if seat not in layout.categories)
    if unknown:
        return Rejection(ErrorCode.UNKNOWN_SEAT, f"no such seat: {', '.join(unknown)}", unknown)
    whole = {
        layout.table_of[s] for s in named if s in layout.table_of and layout.tables[layout.table_of[s]].sold_as_whole
    }
    if whole:
        alone = tuple(seat for seat in named if layout.table_of.get(seat) in whole)
        return Rejection(ErrorCode.TABLE_ONLY, f"sold only as a whole table: {', '.join(sorted(whole))}", alone)
    return unique


def plan_lock(
    claims: Mapping[str, Claim],
    terms: SaleTerms,
    session_id: str,
    seats: Sequence[str],
    now: int,
    policy: HoldPolicy,
) -> Rejection | Plan:
    """Hold every seat for ``session_id`` until ``now + policy.ttl_ms``, or none of them.

    A seat is free when nobody claims it or its hold has lapsed; a seat the session already holds is
    re-held, which extends the hold without announcing anything (``plan_extend`` announces it), but never
    past ``policy.max_ms`` after the session first held it (the plan's holds may so lapse at different
    times). A hold of the session's own
    that reached that cap is refused to it (``seat_unavailable``) until the sweeper has released it: the
    seat goes back on sale before its holder may have it again. ``claims`` must include every hold of the
    session in this showtime, so that it holds no more than ``policy.max_seats`` seats at once.
    """
    if not terms.on_sale(now):
        return Rejection(ErrorCode.SALES_CLOSED, "this showtime is not on sale now")
    blocked = tuple(seat for seat in seats if (claim := claims.get(seat)) and claim.state is SeatState.BLOCKED)
    if blocked:
        return Rejection(ErrorCode.SEAT_BLOCKED, f"not for sale: {', '.join(blocked)}", blocked)
    taken = tuple(seat for seat in seats if not _free_for(claims.get(seat), session_id, now))
    if taken:
        return Rejection(ErrorCode.SEAT_UNAVAILABLE, f"not available: {', '.join(taken)}", taken)
    capped = tuple(seat for seat in seats if _capped(claims.get(seat), session_id, now, policy.max_ms))
    if capped:
        return Rejection(
            ErrorCode.SEAT_UNAVAILABLE,
            f"held as long as a hold may last; free again once released: {', '.join(capped)}",
            capped,
        )
    requested = set(seats)
    held_besides = sum(1 for s, c in claims.items() if s not in requested and _held_by(c, session_id, now))
    if held_besides + len(requested) > policy.max_seats:
        return Rejection(
            ErrorCode.HOLD_LIMIT_REACHED,
            f"a session may hold at most {policy.max_seats} seats of a showtime; it holds {held_besides} others",
        )
    changes = tuple(
        SeatChange(seat, SeatStatus.LOCKED, session_id, Origin.LOCK)
        for seat in seats
        if not _held_by(claims.get(seat), session_id, now)
    )
    holds = {seat: _hold(claims.get(seat), session_id, now, policy) for seat in seats}
    return Plan(session_id, hold=holds, changes=changes)


def plan_extend(
    claims: Mapping[str, Claim],
    terms: SaleTerms,
    session_id: str,
    seats: Sequence[str],
    now: int,
    policy: HoldPolicy,
) -> Rejection | Plan:
    """Extend holds the session has right now, exactly as locking them again would, all or none.

    Unlike a lock it never takes a seat: one the session does not hold (lapsed holds included) is refused.
    Unlike a re-lock it is announced: each seat whose hold it moves is announced ``locked`` again, so that
    the seat's history records the extend. A seat whose hold it leaves where it was (already at its cap) is
    not: an extend that moves no hold announces nothing.
    """
    unheld = tuple(seat for seat in seats if not _held_by(claims.get(seat), session_id, now))
    if unheld:
        return Rejection(ErrorCode.NOT_LOCK_OWNER, f"not held by this session: {', '.join(unheld)}", unheld)
    plan = plan_lock(claims, terms, session_id, seats, now, policy)
    if isinstance(plan, Rejection):
        return plan
    moved = tuple(
        SeatChange(seat, SeatStatus.LOCKED, session_id, Origin.EXTEND)
        for seat in seats
        if plan.hold[seat].until != claims[seat].expires_at
    )
    return replace(plan, changes=moved)


def plan_unlock(claims: Mapping[str, Claim], session_id: str, seats: Sequence[str]) -> Rejection | Plan:
    """Release holds the session owns. A lapsed hold not yet swept still belongs to its session."""
    foreign = tuple(seat for seat in seats if not _owns_hold(claims.get(seat), session_id))
    if foreign:
        return Rejection(ErrorCode.NOT_LOCK_OWNER, f"not held by this session: {', '.join(foreign)}", foreign)
    changes = tuple(SeatChange(seat, SeatStatus.UNLOCKED, session_id, Origin.UNLOCK) for seat in seats)
    return Plan(session_id, release=tuple(seats), changes=changes)


def plan_book(
    claims: Mapping[str, Claim],
    terms: SaleTerms,
    layout: Layout,
    session_id: str,
    seats: Sequence[str],
    now: int,
    payment_ms: int | None = None,
) -> Rejection | Plan:
    """Sell seats the session holds right now, at the showtime's current price of each seat's category.

    With ``payment_ms`` the booking is pending until paid, for that long at most: its seats stay taken, and are
    announced ``locked`` again (clients saw them held, and still do); without, it is confirmed and they are
    announced ``booked``.
    """
    unheld = tuple(seat for seat in seats if not _held_by(claims.get(seat), session_id, now))
    if unheld:
        return Rejection(ErrorCode.NOT_LOCK_OWNER, f"hold these seats before booking: {', '.join(unheld)}", unheld)
    unpriced = tuple(seat for seat in seats if layout.categories[seat] not in terms.prices)
    if unpriced:
        return Rejection(ErrorCode.SEAT_BLOCKED, f"not priced for this showtime: {', '.join(unpriced)}", unpriced)
    status, origin = (SeatStatus.BOOKED, Origin.BOOK) if payment_ms is None else _PENDING
    changes = tuple(SeatChange(seat, status, session_id, origin) for seat in seats)
    prices = {seat: terms.prices[layout.categories[seat]] for seat in seats}
    due = None if payment_ms is None else now + payment_ms
    return Plan(session_id, release=tuple(seats), sell=prices, payment_due_at=due, changes=changes)


def plan_block(claims: Mapping[str, Claim], seats: Sequence[str], reason: str) -> Rejection | Plan:
    """Take free seats out of sale; a held or sold seat is refused (release or cancel it first)."""
    taken = tuple(seat for seat in seats if (claim := claims.get(seat)) and claim.state is not SeatState.BLOCKED)
    if taken:
        return Rejection(ErrorCode.SEAT_UNAVAILABLE, f"held or sold: {', '.join(taken)}", taken)
    fresh = tuple(seat for seat in seats if seat not in claims)
    changes = tuple(SeatChange(seat, SeatStatus.BLOCKED, "", Origin.BLOCK) for seat in fresh)
    return Plan("", block={seat: reason for seat in fresh}, changes=changes)


def plan_unblock(claims: Mapping[str, Claim], seats: Sequence[str]) -> Rejection | Plan:
    """Put blocked seats back on sale."""
    unblocked = tuple(
        seat for seat in seats if (claim := claims.get(seat)) is None or claim.state is not SeatState.BLOCKED
    )
    if unblocked:
        return Rejection(ErrorCode.NOT_BLOCKED, f"not blocked: {', '.join(unblocked)}", unblocked)
    changes = tuple(SeatChange(seat, SeatStatus.UNLOCKED, "", Origin.UNBLOCK) for seat in seats)
    return Plan("", unblock=tuple(seats), changes=changes)


def plan_expiry(claims: Mapping[str, Claim], now: int) -> Plan:
    """Release every hold that has lapsed by ``now``; never one that has not. The sweeper acts for nobody."""
    lapsed = tuple(
        seat for seat, claim in claims.items() if claim.state is SeatState.HELD and not claim.is_live_hold(now)
    )
    changes = tuple(
        SeatChange(seat, SeatStatus.UNLOCKED, claims[seat].session_id, Origin.HOLD_EXPIRED) for seat in lapsed
    )
    return Plan(session_id="", release=lapsed, changes=changes)


def _free_for(claim: Claim | None, session_id: str, now: int) -> bool:
    if claim is None:
        return True
    if claim.state is not SeatState.HELD:
        return False
    return claim.session_id == session_id or not claim.is_live_hold(now)


def _capped(claim: Claim | None, session_id: str, now: int, max_ms: int) -> bool:
    """Whether the session's own hold has lasted as long as a hold may: it is neither extended nor held
    again before it is released."""
    since = _own_hold_since(claim, session_id)
    return since is not None and since + max_ms <= now


def _hold(claim: Claim | None, session_id: str, now: int, policy: HoldPolicy) -> Hold:
    """The hold a lock gives: a fresh one, or the session's own extended, still counted from when it began."""
    since = _own_hold_since(claim, session_id)
    since = now if since is None else since
    return Hold(min(now + policy.ttl_ms, since + policy.max_ms), since)


def _own_hold_since(claim: Claim | None, session_id: str) -> int | None:
    """When the session's own hold of the seat (lapsed or not) began; None when it has none."""
    return claim.held_since if claim is not None and _owns_hold(claim, session_id) else None


def _held_by(claim: Claim | None, session_id: str, now: int) -> bool:
    return claim is not None and claim.session_id == session_id and claim.is_live_hold(now)


def _owns_hold(claim: Claim | None, session_id: str) -> bool:
    return claim is not None and claim.state is SeatState.HELD and claim.session_id == session_id


def apply_plan(claims: MutableMapping[str, Claim], plan: Plan) -> None:
    """Update ``claims`` to what they are once ``plan`` is carried out, so the next rule decides on them."""
    for seat in (*plan.release, *plan.unblock):
        claims.pop(seat, None)
    for seat, hold in plan.hold.items():
        claims[seat] = Claim(SeatState.HELD, plan.session_id, hold.until, hold.since)
    sold = SeatState.BOOKED if plan.payment_due_at is None else SeatState.PENDING
    for seat in plan.sell:
        claims[seat] = Claim(sold, plan.session_id)
    for seat in plan.block:
        claims[seat] = Claim(SeatState.BLOCKED, "")
    for move in plan.transitions:
        for seat in move.seats:
            if move.free:
                claims.pop(seat, None)
            elif move.status is BookingStatus.CONFIRMED:
                claims[seat] = Claim(SeatState.BOOKED, move.session_id)
