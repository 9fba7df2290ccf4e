"""Subscribing: bring a client up to date with a showtime, then join its fan-out, with no change lost or doubled.

This is the hardest invariant of the system, so it lives here alone. Under the showtime's lock (no local
change can commit and be announced meanwhile) the catch-up is read: the changes after the client's
``lastSeq`` when the event log still holds them, else a snapshot. Then the client joins the fan-out, which
hands back whatever other instances' changes it delivered while the catch-up was read. Should the fan-out
no longer keep those (a flood of remote changes), the catch-up is read again.

A connection new to a showtime whose channel remembers it needs no lock: when the kept frames cover its
``lastSeq``, or it asks for a snapshot and its session holds none of the seats, its catch-up is read from
memory and it joins without awaiting in between, so no change can come between the two. That snapshot is the
same for every such subscriber: it is rendered once per ``seq`` and only stamped with the time for each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from server.core.errors import ErrorCode, Rejection
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


@dataclass(frozen=True, slots=True)
class _Asked(Generic[C]):
    """A subscribe, as every step of its catch-up needs it."""

    connection: C
    session_id: str
    showtime_id: str
    last_seq: int | None  # the client's last change, when it asks for a replay
    request_id: RequestId | None
    batch: bool


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
        asked = _Asked(connection, session_id, showtime_id, last_seq, request_id, batch)
        caught_up: Joined | Dropped | Rejection | None = None
        if showtime_id not in subscribed:  # a resubscribe continues after what was sent: the locked way
            caught_up = self._from_memory(asked)
        if caught_up is None:
            caught_up = await self._locked(asked)
        if audience and isinstance(caught_up, Joined):
            greeting = self._fanout.greet(showtime_id, connection, self._viewers(showtime_id))
            return replace(caught_up, frames=[*caught_up.frames, greeting])
        return caught_up

    async def _locked(self, asked: _Asked[C]) -> Joined | Dropped | Rejection:
        """The catch-up read under the showtime's lock, then joined; on a resubscribe that fails, dropped."""
        connection, showtime_id = asked.connection, asked.showtime_id
        async with self._service.serialized(showtime_id):
            # On a connection already subscribed, what was sent is on its way (TCP keeps order): continue
            # after it. Live changes stop while the catch-up is read, or the replay would repeat them.
            sent = self._fanout.sent_upto(showtime_id, connection)
            self._fanout.leave(showtime_id, connection)
            try:
                caught_up = await self._catch_up(asked, sent)
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
        return caught_up

    async def _catch_up(self, asked: _Asked[C], sent: int | None) -> Joined | Rejection:
        for _ in range(self._attempts):
            try:
                if asked.last_seq is not None:
                    replayed = await self._replay(asked, max(asked.last_seq, sent or 0))
                    if replayed is not None:
                        return replayed
                return await self._snapshot(asked)
            except FellBehind:
                continue
        return Rejection(ErrorCode.INTERNAL_ERROR, "could not catch up with this showtime; subscribe again")

    def unsubscribe(self, connection: C, showtime_id: str) -> None:
        self._fanout.leave(showtime_id, connection)

    def _from_memory(self, asked: _Asked[C]) -> Joined | None:
        """The catch-up of a connection new to the showtime, from the channel's memory alone, joined; None when
        it needs the database (or the channel remembers nothing), which only the locked way may read.

        Nothing here awaits, so no change is delivered between reading the memory and joining.
        """
        if asked.last_seq is not None:
            frames = self._fanout.kept_after(asked.showtime_id, asked.last_seq)
            if frames is None:
                return None
            return self._replayed(asked, frames, asked.last_seq)
        if (shared := self._shared_snapshot(asked.session_id, asked.showtime_id)) is None:
            return None
        return self._snapshotted(asked, *shared)

    async def _replay(self, asked: _Asked[C], after: int) -> Joined | Rejection | None:
        """The changes after ``after``, then ``subscribed``; None when they can no longer be replayed.

        The fan-out's kept frames serve when they cover the gap; the event log otherwise.
        """
        frames = self._fanout.kept_after(asked.showtime_id, after)
        if frames is not None:
            return self._replayed(asked, frames, after)
        replay = await self._service.replay(asked.showtime_id, after)
        if replay is None or isinstance(replay, Rejection):
            return replay
        frames = [SeatStatusChange.of(event).to_json() for event in replay.events]
        return self._replayed(asked, frames, replay.seq - len(frames))

    def _replayed(self, asked: _Asked[C], frames: list[str], after: int) -> Joined:
        """Join with the ``frames`` of the changes after ``after``, and what came since, then ``subscribed``."""
        covered = after + len(frames)
        later = self._fanout.join(asked.showtime_id, asked.connection, covered, asked.batch)
        seq = covered + len(later)
        reply = Subscribed(request_id=asked.request_id, showtime_id=asked.showtime_id, recovered=True, seq=seq)
        return Joined([*frames, *later, reply.to_json()], recovered=True, seq=seq)

    def _shared_snapshot(self, session_id: str, showtime_id: str) -> tuple[int, str] | None:
        """The seq and snapshot frame the fan-out's memory gives a session holding none of the showtime's seats;
        None when it keeps none, or the session holds seats.

        Every such session is sent the same frame: rendered once per seq, stamped with the time for each.
        """
        memory = self._fanout.memory(showtime_id)
        if memory is None or memory[1].held_by(session_id):
            return None
        seq, claims = memory

        def render() -> str:
            view = self._service.view(showtime_id, seq, claims.by_seat, {})
            return CurrentSeatStatus.of(view).to_json_without_timestamp()

        return seq, CurrentSeatStatus.stamp(self._fanout.once_per_seq(showtime_id, seq, render), self._service.now())

    async def _remembered(self, session_id: str, showtime_id: str) -> tuple[int, str] | None:
        """The seq and snapshot frame of a showtime with subscribers, from the fan-out's memory; None when it
        keeps none: read it from the database.

        Only the session's own holds need the database (changes do not say when holds lapse), and only
        when it holds seats at all. Join at once after: the frame is current until the next change.
        """
        if (shared := self._shared_snapshot(session_id, showtime_id)) is not None:
            return shared
        if (memory := self._fanout.memory(showtime_id)) is None:
            return None
        own = memory[1].held_by(session_id)
        mine = await self._service.own_holds(session_id, showtime_id)
        if (memory := self._fanout.memory(showtime_id)) is None or memory[1].held_by(session_id) != own:
            return None  # its holds changed meanwhile, on another instance
        seq, claims = memory
        held = {seat: mine[seat] for seat in own if seat in mine}
        status = self._service.view(showtime_id, seq, claims.by_seat, held)
        return seq, CurrentSeatStatus.of(status).to_json()

    async def _snapshot(self, asked: _Asked[C]) -> Joined | Rejection:
        """``subscribed`` (recovered: false if a replay was asked for), then the current state."""
        if (remembered := await self._remembered(asked.session_id, asked.showtime_id)) is not None:
            return self._snapshotted(asked, *remembered)
        status = await self._service.status(asked.session_id, asked.showtime_id)
        if isinstance(status, Rejection):
            return status
        joined = self._snapshotted(asked, status.seq, CurrentSeatStatus.of(status).to_json())
        self._fanout.seed(asked.showtime_id, status.seq, status.claims)
        return joined

    def _snapshotted(self, asked: _Asked[C], seq: int, frame: str) -> Joined:
        """Join with the snapshot ``frame`` at ``seq``: ``subscribed``, the frame, and what came since."""
        later = self._fanout.join(asked.showtime_id, asked.connection, seq, asked.batch)
        recovered = None if asked.last_seq is None else False
        reply = Subscribed(request_id=asked.request_id, showtime_id=asked.showtime_id, recovered=recovered)
        return Joined([reply.to_json(), frame, *later], recovered=False, seq=seq + len(later))
