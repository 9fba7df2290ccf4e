"""Seat rules: who may lock, unlock and book which seats, and when holds expire.

Every function takes the current claims on the seats a request names, plus ``now``, and returns either
a :class:`Rejection` or a :class:`Plan`: the writes to make and the changes to announce. The storage
adapter runs the function inside the transaction that read the claims, so the decision and its writes
are atomic. Nothing here raises on client input, reads a clock or touches I/O.

All instants are Unix epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from server.core.errors import ErrorCode, Rejection

__all__ = [
    "Claim",
    "Layout",
    "Plan",
    "SeatChange",
    "SeatState",
    "SeatStatus",
    "apply_plan",
    "plan_book",
    "plan_expiry",
    "plan_lock",
    "plan_unlock",
    "select_seats",
]


class SeatState(StrEnum):
    """What a seat is, as a client sees it."""

    AVAILABLE = "available"
    HELD = "held"
    BOOKED = "booked"


class SeatStatus(StrEnum):
    """The transition announced in a ``seat_status_change`` message."""

    LOCKED = "locked"
    UNLOCKED = "unlocked"
    BOOKED = "booked"


@dataclass(frozen=True, slots=True)
class Claim:
    """A hold or a sale of one seat. A seat with no claim is available."""

    state: SeatState  # HELD or BOOKED, never AVAILABLE
    session_id: str
    expires_at: int | None = None  # holds only

    def is_live_hold(self, now: int) -> bool:
        return self.state is SeatState.HELD and self.expires_at is not None and self.expires_at > now


@dataclass(frozen=True, slots=True)
class Layout:
    """The seats of a showtime and their prices in cents. Immutable once the showtime exists."""

    prices: Mapping[str, int]
    currency: str


@dataclass(frozen=True, slots=True)
class SeatChange:
    seat: str
    status: SeatStatus
    session_id: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What an accepted request does: storage writes and the changes to broadcast, in order."""

    session_id: str  # who holds the seats in ``hold`` and buys those in ``sell``
    hold: tuple[str, ...] = ()  # seats to hold, or hold again, until ``hold_until``
    hold_until: int | None = None
    release: tuple[str, ...] = ()  # holds to delete
    sell: Mapping[str, int] = field(default_factory=dict)  # seat -> price in cents
    changes: tuple[SeatChange, ...] = ()

    @property
    def total_cents(self) -> int:
        return sum(self.sell.values())


def select_seats(layout: Layout, seats: Sequence[str], max_seats: int) -> Rejection | tuple[str, ...]:
    """Check the seats a request names against the layout; duplicates are dropped, order is kept."""
    unique = tuple(dict.fromkeys(seats))
    if not unique:
        return Rejection(ErrorCode.INVALID_MESSAGE, "seatIds must name at least one seat")
    if len(unique) > max_seats:
        return Rejection(ErrorCode.TOO_MANY_SEATS, f"at most {max_seats} seats per request, got {len(unique)}")
    unknown = tuple(seat for seat in unique if seat not in layout.prices)
    if unknown:
        return Rejection(ErrorCode.UNKNOWN_SEAT, f"no such seat: {', '.join(unknown)}", unknown)
    return unique


def plan_lock(
    claims: Mapping[str, Claim], session_id: str, seats: Sequence[str], now: int, ttl_ms: int, max_held: int
) -> Rejection | Plan:
    """Hold every seat for ``session_id`` until ``now + ttl_ms``, or none of them.

    A seat is free when nobody claims it or its hold has lapsed; a seat the session already holds is
    re-held, which extends the hold without announcing anything. ``claims`` must include every hold of
    the session in this showtime, so that it holds no more than ``max_held`` seats at once.
    """
    taken = tuple(seat for seat in seats if not _free_for(claims.get(seat), session_id, now))
    if taken:
        return Rejection(ErrorCode.SEAT_UNAVAILABLE, f"not available: {', '.join(taken)}", taken)
    requested = set(seats)
    held_besides = sum(1 for s, c in claims.items() if s not in requested and _held_by(c, session_id, now))
    if held_besides + len(requested) > max_held:
        return Rejection(
            ErrorCode.HOLD_LIMIT_REACHED,
            f"a session may hold at most {max_held} seats of a showtime; it holds {held_besides} others",
        )
    changes = tuple(
        SeatChange(seat, SeatStatus.LOCKED, session_id)
        for seat in seats
        if not _held_by(claims.get(seat), session_id, now)
    )
    return Plan(session_id, hold=tuple(seats), hold_until=now + ttl_ms, changes=changes)


def plan_unlock(claims: Mapping[str, Claim], session_id: str, seats: Sequence[str]) -> Rejection | Plan:
    """Release holds the session owns. A lapsed hold not yet swept still belongs to its session."""
    foreign = tuple(seat for seat in seats if not _owns_hold(claims.get(seat), session_id))
    if foreign:
        return Rejection(ErrorCode.NOT_LOCK_OWNER, f"not held by this session: {', '.join(foreign)}", foreign)
    changes = tuple(SeatChange(seat, SeatStatus.UNLOCKED, session_id) for seat in seats)
    return Plan(session_id, release=tuple(seats), changes=changes)


def plan_book(
    claims: Mapping[str, Claim], layout: Layout, session_id: str, seats: Sequence[str], now: int
) -> Rejection | Plan:
    """Sell seats the session holds right now; the total comes from the category prices."""
    unheld = tuple(seat for seat in seats if not _held_by(claims.get(seat), session_id, now))
    if unheld:
        return Rejection(ErrorCode.NOT_LOCK_OWNER, f"hold these seats before booking: {', '.join(unheld)}", unheld)
    changes = tuple(SeatChange(seat, SeatStatus.BOOKED, session_id) for seat in seats)
    prices = {seat: layout.prices[seat] for seat in seats}
    return Plan(session_id, release=tuple(seats), sell=prices, changes=changes)


def plan_expiry(claims: Mapping[str, Claim], now: int) -> Plan:
    """Release every hold that has lapsed by ``now``; never one that has not. The sweeper acts for nobody."""
    lapsed = tuple(
        seat for seat, claim in claims.items() if claim.state is SeatState.HELD and not claim.is_live_hold(now)
    )
    changes = tuple(SeatChange(seat, SeatStatus.UNLOCKED, claims[seat].session_id) for seat in lapsed)
    return Plan(session_id="", release=lapsed, changes=changes)


def _free_for(claim: Claim | None, session_id: str, now: int) -> bool:
    if claim is None:
        return True
    if claim.state is SeatState.BOOKED:
        return False
    return claim.session_id == session_id or not claim.is_live_hold(now)


def _held_by(claim: Claim | None, session_id: str, now: int) -> bool:
    return claim is not None and claim.session_id == session_id and claim.is_live_hold(now)


def _owns_hold(claim: Claim | None, session_id: str) -> bool:
    return claim is not None and claim.state is SeatState.HELD and claim.session_id == session_id


def apply_plan(claims: MutableMapping[str, Claim], plan: Plan) -> None:
    """Update ``claims`` to what they are once ``plan`` is carried out, so the next rule decides on them."""
    for seat in plan.release:
        claims.pop(seat, None)
    for seat in plan.hold:
        claims[seat] = Claim(SeatState.HELD, plan.session_id, plan.hold_until)
    for seat in plan.sell:
        claims[seat] = Claim(SeatState.BOOKED, plan.session_id)
