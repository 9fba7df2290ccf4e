"""Subscribing: bring a client up to date with a showtime, then join its fan-out, with no change lost or doubled.

This is the hardest invariant of the system, so it lives here alone. Under the showtime's lock (no local
change can commit and be announced meanwhile) the catch-up is read: the changes after the client's
``lastSeq`` when the event log still holds them, else a snapshot. Then the client joins the fan-out, which
hands back whatever other instances' changes it delivered while the catch-up was read. Should the fan-out
no longer keep those (a flood of remote changes), the catch-up is read again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from server.core.errors import ErrorCode, Rejection
from server.core.records import StatusView
from server.core.seats import Claim, SeatState
from server.fanout import Fanout, FellBehind
from server.messages import CurrentSeatStatus, RequestId, SeatStatusChange, Subscribed, Unsubscribed
from server.service import SeatService

__all__ = ["Dropped", "Joined", "Subscriptions"]

log = logging.getLogger(__name__)

C = TypeVar("C", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Dropped:
    """A resubscribe failed after the connection had left the showtime: it is no longer subscribed to it."""

    notice: str  # ``unsubscribed`` with the reason, to send before the refusal
    rejection: Rejection


@dataclass(frozen=True, slots=True)
class Joined:
    """A subscription in place: the frames to send first, in order, and where they leave the client."""

    frames: list[str]
    recovered: bool  # the missed changes were replayed (no snapshot was needed)
    seq: int  # the last change the frames bring the client to


class Subscriptions(Generic[C]):
    def __init__(
        self,
        service: SeatService,
        fanout: Fanout[C],
        max_per_connection: int,
        attempts: int = 5,
        viewers: Callable[[str], int] | None = None,
    ) -> None:
        self._service = service
        self._fanout = fanout
        self._max_per_connection = max_per_connection
        self._attempts = attempts  # catch-ups read before giving up on a showtime flooded with changes
        # A showtime's audience on all instances (server.audience); by default this instance's subscribers.
        self._viewers = viewers or fanout.subscriber_count

    async def subscribe(
        self,
        connection: C,
        session_id: str,
        showtime_id: str,
        last_seq: int | None = None,
        request_id: RequestId | None = None,
        batch: bool = False,
        audience: bool = False,
    ) -> Joined | Dropped | Rejection:
        """Subscribe ``connection`` (again, to resync) and return what it must be sent before any broadcast.

        With ``last_seq``, the missed changes are replayed when the event log still holds them, followed by
        ``subscribed`` with recovered: true; otherwise ``subscribed`` and a full ``current_seat_status``.
        A resubscribe that fails leaves the connection unsubscribed, and says so (:class:`Dropped`).
        ``batch`` (which a resubscribe may change) asks for live changes one frame per commit; what the
        catch-up replays still comes one ``seat_status_change`` per seat. With ``audience``, the frames end
        with the showtime's ``audience`` (the connection counted), and later counts follow (server.audience).
        """
        subscribed = self._fanout.subscriptions_of(connection)
        if showtime_id not in subscribed and len(subscribed) >= self._max_per_connection:
            return Rejection(
                ErrorCode.TOO_MANY_SUBSCRIPTIONS, f"at most {self._max_per_connection} subscriptions per connection"
            )
        if isinstance(layout := await self._service.layout(showtime_id), Rejection):
            return layout  # before taking the showtime's lock: unknown ids must not create locks
        async with self._service.serialized(showtime_id):
            # On a connection already subscribed, what was sent is on its way (TCP keeps order): continue
            # after it. Live changes stop while the catch-up is read, or the replay would repeat them.
            sent = self._fanout.sent_upto(showtime_id, connection)
            self._fanout.leave(showtime_id, connection)
            try:
                caught_up = await self._catch_up(connection, session_id, showtime_id, last_seq, sent, request_id, batch)
            except Exception:
                if sent is None:
                    raise
                log.exception("could not resubscribe a connection to showtime %s", showtime_id)
                caught_up = Rejection(
                    ErrorCode.INTERNAL_ERROR, "the server failed to read the showtime; subscribe again"
                )
        if isinstance(caught_up, Rejection) and sent is not None:
            # It left the fan-out for the catch-up: say so, or with no change coming it could not tell.
            notice = Unsubscribed(showtime_id=showtime_id, reason=caught_up.message).to_json()
            return Dropped(notice, caught_up)
        if audience and isinstance(caught_up, Joined):
            greeting = self._fanout.greet(showtime_id, connection, self._viewers(showtime_id))
            return replace(caught_up, frames=[*caught_up.frames, greeting])
        return caught_up

    async def _catch_up(
        self,
        connection: C,
        session_id: str,
        showtime_id: str,
        last_seq: int | None,
        sent: int | None,
        request_id: RequestId | None,
        batch: bool,
    ) -> Joined | Rejection:
        for _ in range(self._attempts):
            try:
                if last_seq is not None:
                    replayed = await self._replay(connection, showtime_id, max(last_seq, sent or 0), request_id, batch)
                    if replayed is not None:
                        return replayed
                return await self._snapshot(connection, session_id, showtime_id, last_seq, request_id, batch)
            except FellBehind:
                continue
        return Rejection(ErrorCode.INTERNAL_ERROR, "could not catch up with this showtime; subscribe again")

    def unsubscribe(self, connection: C, showtime_id: str) -> None:
        self._fanout.leave(showtime_id, connection)

    async def _replay(
        self, connection: C, showtime_id: str, after: int, request_id: RequestId | None, batch: bool
    ) -> Joined | Rejection | None:
        """The changes after ``after``, then ``subscribed``; None when they can no longer be replayed.

        The fan-out's kept frames serve when they cover the gap; the event log otherwise.
        """
        frames = self._fanout.kept_after(showtime_id, after)
        if frames is None:
            replay = await self._service.replay(showtime_id, after)
            if replay is None or isinstance(replay, Rejection):
                return replay
            covered = replay.seq
            frames = [SeatStatusChange.of(event).to_json() for event in replay.events]
        else:
            covered = after + len(frames)
        later = self._fanout.join(showtime_id, connection, covered, batch)
        seq = covered + len(later)
        reply = Subscribed(request_id=request_id, showtime_id=showtime_id, recovered=True, seq=seq)
        return Joined([*frames, *later, reply.to_json()], recovered=True, seq=seq)

    async def _remembered(self, session_id: str, showtime_id: str) -> StatusView | None:
        """The state the fan-out keeps of a showtime with subscribers, or None: read it from the database.

        Only the session's own holds need the database (changes do not say when holds lapse), and only
        when it holds seats at all. Join at once after: the returned view is current until the next change.
        """
        if (memory := self._fanout.memory(showtime_id)) is None:
            return None
        own = _held_by(session_id, memory[1])
        mine = await self._service.own_holds(session_id, showtime_id) if own else {}
        if (memory := self._fanout.memory(showtime_id)) is None or _held_by(session_id, memory[1]) != own:
            return None  # its holds changed meanwhile, on another instance
        seq, claims = memory
        return self._service.view(showtime_id, seq, claims, {seat: mine[seat] for seat in own if seat in mine})

    async def _snapshot(
        self,
        connection: C,
        session_id: str,
        showtime_id: str,
        last_seq: int | None,
        request_id: RequestId | None,
        batch: bool,
    ) -> Joined | Rejection:
        """``subscribed`` (recovered: false if a replay was asked for), then the current state."""
        status = await self._remembered(session_id, showtime_id) or await self._service.status(session_id, showtime_id)
        if isinstance(status, Rejection):
            return status
        later = self._fanout.join(showtime_id, connection, status.seq, batch)
        self._fanout.seed(showtime_id, status.seq, status.claims)
        recovered = None if last_seq is None else False
        reply = Subscribed(request_id=request_id, showtime_id=showtime_id, recovered=recovered)
        frames = [reply.to_json(), CurrentSeatStatus.of(status).to_json(), *later]
        return Joined(frames, recovered=False, seq=status.seq + len(later))


def _held_by(session_id: str, claims: Mapping[str, Claim]) -> set[str]:
    return {seat for seat, claim in claims.items() if claim.state is SeatState.HELD and claim.session_id == session_id}
