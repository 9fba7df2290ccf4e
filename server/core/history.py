"""A seat's history: the logged changes of a showtime's seats, what the operator asks of them, and the claims they
add up to.

Each change says what the seat became (its announced status), why (its origin) and whose claim it is, so
folding a seat's changes in ``seq`` order gives the claim it has now: the history of every seat replays to its
current state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from server.core.origins import Channel, Origin
from server.core.seats import SeatState, SeatStatus

__all__ = ["HistoryEntry", "HistoryQuery", "fold", "left_by"]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One logged change of a seat."""

    seq: int
    seat: str
    status: SeatStatus
    session_id: str  # whose claim the seat now is (or was, when let go); empty for a block
    origin: Origin
    actor: str  # who changed it: a session, ``admin`` or ``system``
    channel: Channel
    at: int


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """A page of a showtime's history, oldest first: of one seat or all, ``since <= at < until``, of some origins
    (all when empty), after the ``after`` seq (the cursor), ``limit`` entries at most."""

    showtime_id: str
    limit: int
    seat: str | None = None
    since: int | None = None
    until: int | None = None
    origins: tuple[Origin, ...] = ()
    after: int = 0


# The claim a change leaves on its seat; None: no claim (the seat is available).
_LEFT = {
    SeatStatus.BOOKED: SeatState.BOOKED,
    SeatStatus.BLOCKED: SeatState.BLOCKED,
    SeatStatus.UNLOCKED: None,
}


def left_by(entry: HistoryEntry) -> SeatState | None:
    """What the seat is after ``entry``: a ``locked`` change holds it, unless it sold the seat awaiting payment."""
    if entry.status is SeatStatus.LOCKED:
        return SeatState.PENDING if entry.origin is Origin.PAYMENT_PENDING else SeatState.HELD
    return _LEFT[entry.status]


def fold(entries: Iterable[HistoryEntry]) -> dict[str, tuple[SeatState, str]]:
    """The claims (state and session) that ``entries``, in ``seq`` order from a seat's first change, leave."""
    claims: dict[str, tuple[SeatState, str]] = {}
    for entry in entries:
        state = left_by(entry)
        if state is None:
            claims.pop(entry.seat, None)
        else:
            claims[entry.seat] = (state, entry.session_id)
    return claims
