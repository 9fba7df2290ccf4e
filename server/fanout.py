"""Per-showtime subscriber sets, fed in ``seq`` order, and delivery that never waits for any client.

Changes reach an instance from its own commits, from other instances through the bus, and from the
database's event log when something went missing. They may come twice or out of order; each showtime's
:class:`Channel` delivers every ``seq`` exactly once, in order. A change arriving ahead of a gap waits
briefly for the gap to fill, then the gap is read from the event log.

A change is encoded once and the same frame is handed to every subscriber through an :class:`Outlet`
(the WebSocket adapter's is ``websockets``' ``broadcast()``): it writes to each connection's transport
without awaiting, so one slow reader cannot delay the others. Each subscriber remembers the ``seq`` its
snapshot (or replay) already covered and is not sent those changes again.

The changes one :meth:`Fanout.publish` brings for a showtime (a commit, or what the event log filled a gap
with) go out together: a ``seat_status_change`` per seat to ordinary subscribers, and one
``seat_status_changes`` frame to those that asked for ``batch``. Late joiners catch up with per-seat frames,
which batch subscribers handle too.

Audience counts (:mod:`server.audience`) take the same way out: each subscriber that wants them remembers
the count it was told last, and is sent one only when the count differs, so a slow reader is dropped
alike and a joiner greeted with the current count is not told it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar

from server.core.changes import Event
from server.core.seats import Claim, SeatChange, SeatState, SeatStatus
from server.messages import Audience, SeatStatusChange, SeatStatusChanges
from server.metrics import Metrics

__all__ = ["Channel", "Claims", "Fanout", "FellBehind", "Outlet"]

log = logging.getLogger(__name__)

C = TypeVar("C", bound=Hashable)
C_contra = TypeVar("C_contra", bound=Hashable, contravariant=True)

# Reads the committed changes of a showtime with seq in (after, upto] from the event log.
ReadLog = Callable[[str, int, int], Awaitable[list[Event]]]


class Outlet(Protocol[C_contra]):
    """How frames reach connections. Nothing here may await: delivery must not wait for any client."""

    def send(self, targets: Collection[C_contra], frame: str) -> None:
        """Queue ``frame`` for each target, in order with everything queued before."""

    def buffered(self, connection: C_contra) -> int:
        """Bytes queued for the connection and not yet taken by the network."""
        ...

    def drop(self, connection: C_contra) -> None:
        """Cut the connection off at once, without a closing handshake."""


class FellBehind(Exception):
    """The changes a joining subscriber still needs are no longer kept: read a fresh snapshot and join again."""


class Channel(Generic[C]):
    """One showtime's subscribers and the ordering of its changes."""

    def __init__(
        self,
        outlet: Outlet[C],
        delivered: int,
        history: int,
        buffer_limit: int,
        evict: Callable[[C], None],
        observe: Callable[[Event, int], None],
    ) -> None:
        self.outlet = outlet
        self.buffer_limit = buffer_limit  # bytes waiting for a subscriber before it is evicted
        self.evict = evict
        self.observe = observe  # told of each delivery and how many subscribers it reached
        self.delivered = delivered  # the highest seq delivered; everything at or below it went out in order
        self.subscribers: dict[C, int] = {}  # connection -> seq its snapshot covered
        self.batched: set[C] = set()  # the subscribers sent one frame per commit
        self.audience: dict[C, int] = {}  # the subscribers told the audience -> the count they were told last
        self.ahead: dict[int, Event] = {}  # changes that arrived before the ones they follow
        self.recent: deque[tuple[int, str]] = deque(maxlen=history)  # last frames sent, for late joiners
        self.repair: asyncio.Task[None] | None = None
        self.waiting: list[tuple[int, asyncio.Future[None]]] = []  # (seq, told once it is delivered)
        # Every claim as of ``delivered``, kept up by each delivery; None until a snapshot at ``delivered`` seeds it.
        self.claims: Claims | None = None
        self.rendered: tuple[int, str] | None = None  # (seq, frame): Fanout.once_per_seq's

    def offer(self, *events: Event) -> None:
        """Take changes in any order; those now in sequence go out together, as one commit."""
        for event in events:
            if event.seq > self.delivered:
                self.ahead[event.seq] = event
        commit: list[Event] = []
        while self.delivered + len(commit) + 1 in self.ahead:
            commit.append(self.ahead.pop(self.delivered + len(commit) + 1))
        if commit:
            self._deliver(commit)

    def add(self, connection: C, covered: int, batch: bool) -> None:
        self.subscribers[connection] = covered
        (self.batched.add if batch else self.batched.discard)(connection)

    def remove(self, connection: C) -> None:
        self.subscribers.pop(connection, None)
        self.batched.discard(connection)
        self.audience.pop(connection, None)

    def tell(self, showtime_id: str, viewers: int) -> int:
        """Send the audience to the subscribers that want it and were told another count; return how many."""
        targets: list[C] = []
        slow: list[C] = []
        for connection, told in self.audience.items():
            if told != viewers:
                (slow if self.outlet.buffered(connection) > self.buffer_limit else targets).append(connection)
        if targets:
            self.outlet.send(targets, Audience(showtime_id=showtime_id, viewers=viewers).to_json())
            for connection in targets:
                self.audience[connection] = viewers
        self._evict(slow)
        return len(targets)

    def frames_after(self, covered: int) -> list[str]:
        """Frames of the changes a subscriber whose snapshot covered ``covered`` still needs."""
        if covered >= self.delivered:
            return []
        frames = [frame for seq, frame in self.recent if seq > covered]
        if len(frames) != self.delivered - covered:
            raise FellBehind
        return frames

    def _deliver(self, commit: list[Event]) -> None:
        """Send consecutive changes: each encoded once, then shared by every subscriber it is for."""
        frames = [SeatStatusChange.of(event).to_json() for event in commit]
        first = commit[0].seq
        single: list[tuple[C, int]] = []
        batched: dict[int, list[C]] = {}  # how many changes of the commit to skip -> who gets the rest
        slow: list[C] = []
        for connection, covered in self.subscribers.items():
            if covered >= commit[-1].seq:
                continue
            if self.outlet.buffered(connection) > self.buffer_limit:
                slow.append(connection)
            elif connection in self.batched:
                batched.setdefault(max(0, covered - first + 1), []).append(connection)
            else:
                single.append((connection, covered))
        for event, frame in zip(commit, frames, strict=True):
            targets = [connection for connection, covered in single if covered < event.seq]
            self.outlet.send(targets, frame)
            skipped = event.seq - first
            self.observe(event, len(targets) + sum(len(c) for skip, c in batched.items() if skip <= skipped))
        for skip, targets in batched.items():
            self.outlet.send(targets, SeatStatusChanges.joining(commit[0].showtime_id, frames[skip:]))
        self._evict(slow)
        self.delivered = commit[-1].seq
        if self.claims is not None:
            for event in commit:
                self.claims.apply(event.change)
        self.recent.extend((event.seq, frame) for event, frame in zip(commit, frames, strict=True))
        if self.waiting:
            self.wake(upto=self.delivered)

    def _evict(self, slow: list[C]) -> None:
        for connection in slow:
            self.remove(connection)
            self.evict(connection)

    def memory(self) -> tuple[int, Claims] | None:
        """The claims as of ``delivered``, if kept and nothing waits behind a gap."""
        return None if self.claims is None or self.ahead else (self.delivered, self.claims)

    def wake(self, upto: int | None = None) -> None:
        """Tell those waiting for changes up to ``upto`` (None: everyone, the channel is closing)."""
        still: list[tuple[int, asyncio.Future[None]]] = []
        for seq, told in self.waiting:
            if upto is None or seq <= upto:
                if not told.done():
                    told.set_result(None)
            else:
                still.append((seq, told))
        self.waiting = still


_CLAIMED = {
    SeatStatus.LOCKED: SeatState.HELD,
    SeatStatus.BOOKED: SeatState.BOOKED,
    SeatStatus.BLOCKED: SeatState.BLOCKED,
}


class Claims:
    """A showtime's claims, seat by seat, and which seats each session holds, kept up change by change.

    Holds learnt from changes have no expiry (changes do not carry it). Who holds what is kept beside the
    claims so a subscriber learns whether it holds seats without a walk over every seat.
    """

    def __init__(self, claims: Mapping[str, Claim]) -> None:
        self.by_seat = dict(claims)
        self._held: dict[str, set[str]] = {}  # session -> the seats it holds
        for seat, claim in self.by_seat.items():
            if claim.state is SeatState.HELD:
                self._held.setdefault(claim.session_id, set()).add(seat)

    def held_by(self, session_id: str) -> frozenset[str]:
        return frozenset(self._held.get(session_id, ()))

    def apply(self, change: SeatChange) -> None:
        before = self.by_seat.get(change.seat)
        if before is not None and before.state is SeatState.HELD:
            held = self._held[before.session_id]
            held.discard(change.seat)
            if not held:
                del self._held[before.session_id]
        if change.status is SeatStatus.UNLOCKED:
            self.by_seat.pop(change.seat, None)
            return
        claim = self.by_seat[change.seat] = Claim(_CLAIMED[change.status], change.session_id)
        if claim.state is SeatState.HELD:
            self._held.setdefault(claim.session_id, set()).add(change.seat)


class Fanout(Generic[C]):
    def __init__(
        self,
        read_log: ReadLog,
        outlet: Outlet[C],
        metrics: Metrics,
        slow_consumer_bytes: int,
        gap_wait_seconds: float = 0.2,
        history: int = 256,
    ) -> None:
        self._read_log = read_log
        self._outlet = outlet
        self._metrics = metrics
        self._slow_consumer_bytes = slow_consumer_bytes
        self._gap_wait = gap_wait_seconds
        self._history = history  # changes kept per showtime for subscribers joining behind
        self._channels: dict[str, Channel[C]] = {}
        self._joined: dict[C, set[str]] = {}  # connection -> the showtimes it is subscribed to

    def join(self, showtime_id: str, connection: C, covered: int, batch: bool = False) -> list[str]:
        """Add a subscriber whose snapshot covered changes up to ``covered``; with ``batch``, it is sent one
        ``seat_status_changes`` frame per commit.

        Returns the frames it still needs, delivered here after its snapshot was read: send them before
        anything else. Raises :class:`FellBehind` (and adds nothing) when those are no longer kept.
        """
        channel = self._channels.get(showtime_id)
        if channel is None:
            channel = self._channels[showtime_id] = Channel(
                self._outlet, covered, self._history, self._slow_consumer_bytes, self.evict, self._observe
            )
        missing = channel.frames_after(covered)
        channel.add(connection, max(covered, channel.delivered), batch)
        self._joined.setdefault(connection, set()).add(showtime_id)
        return missing

    def greet(self, showtime_id: str, connection: C, viewers: int) -> str:
        """Tell a subscriber that just joined the showtime's audience from now on; return the first ``audience``
        frame, to send after the frames of its catch-up."""
        self._channels[showtime_id].audience[connection] = viewers
        return Audience(showtime_id=showtime_id, viewers=viewers).to_json()

    def tell_audience(self, totals: Mapping[str, int]) -> None:
        """Send each showtime's audience to its subscribers that want it, if it is not what they were told last."""
        told = 0
        for showtime_id, viewers in totals.items():  # not the channels: telling may evict, which may close one
            channel = self._channels.get(showtime_id)
            if channel is not None:
                told += channel.tell(showtime_id, viewers)
        if told:
            self._metrics.messages_sent.labels("audience").inc(told)

    def audience(self) -> dict[str, int]:
        """This instance's subscribers of each showtime that has some (those that opted out of audience
        messages count too: they are looking)."""
        return {showtime_id: len(channel.subscribers) for showtime_id, channel in self._channels.items()}

    def seed(self, showtime_id: str, seq: int, claims: Mapping[str, Claim]) -> None:
        """Keep the showtime's claims in memory from a snapshot at ``seq``, if that is where its channel stands."""
        channel = self._channels.get(showtime_id)
        if channel is not None and channel.claims is None and channel.delivered == seq:
            channel.claims = Claims(claims)

    def memory(self, showtime_id: str) -> tuple[int, Claims] | None:
        """The showtime's claims as of the last change delivered, and its seq; None unless kept and gap-free."""
        channel = self._channels.get(showtime_id)
        return None if channel is None else channel.memory()

    def once_per_seq(self, showtime_id: str, seq: int, render: Callable[[], str]) -> str:
        """The frame ``render`` makes of the showtime at ``seq``, made once and kept until another seq is asked
        for (the snapshot every subscriber without holds of its own is sent), while the showtime has subscribers."""
        channel = self._channels.get(showtime_id)
        if channel is None:
            return render()
        if channel.rendered is None or channel.rendered[0] != seq:
            channel.rendered = (seq, render())
        return channel.rendered[1]

    def kept_after(self, showtime_id: str, after: int) -> list[str] | None:
        """The frames of the changes after ``after`` up to the last delivered, if all are still kept."""
        channel = self._channels.get(showtime_id)
        if channel is None or channel.ahead or after > channel.delivered:
            return None
        try:
            return channel.frames_after(after)
        except FellBehind:
            return None

    def subscriptions_of(self, connection: C) -> frozenset[str]:
        return frozenset(self._joined.get(connection, ()))

    def sent_upto(self, showtime_id: str, connection: C) -> int | None:
        """The last seq of this showtime already sent to the connection; None if it is not subscribed."""
        channel = self._channels.get(showtime_id)
        covered = channel.subscribers.get(connection) if channel else None
        return None if channel is None or covered is None else max(covered, channel.delivered)

    def leave(self, showtime_id: str, connection: C) -> None:
        joined = self._joined.get(connection)
        if joined is not None:
            joined.discard(showtime_id)
            if not joined:
                del self._joined[connection]
        channel = self._channels.get(showtime_id)
        if channel is not None:
            channel.remove(connection)
            if not channel.subscribers:
                if channel.repair is not None:
                    channel.repair.cancel()
                channel.wake()
                del self._channels[showtime_id]

    def forget(self, connection: C) -> None:
        """Remove a connection from every showtime it subscribed to."""
        for showtime_id in self.subscriptions_of(connection):
            self.leave(showtime_id, connection)

    def send(self, connection: C, frames: Sequence[str]) -> bool:
        """Queue frames for one subscriber, in order with the broadcasts; False if it was evicted instead."""
        if self.overloaded(connection):
            self.evict(connection)
            return False
        for frame in frames:
            self._outlet.send((connection,), frame)
        return True

    def publish(self, events: Sequence[Event]) -> None:
        """Deliver committed changes, from any source, in any order, even twice."""
        by_showtime: dict[str, list[Event]] = {}
        for event in events:
            by_showtime.setdefault(event.showtime_id, []).append(event)
        for showtime_id, changes in by_showtime.items():
            channel = self._channels.get(showtime_id)
            if channel is not None:
                channel.offer(*changes)
                self._watch_gap(showtime_id)

    async def delivered(self, showtime_id: str, seq: int) -> None:
        """Return once the showtime's changes up to ``seq`` were handed to its subscribers (or none is left).

        A change of this instance's may wait behind a gap left by another instance's; whoever must not
        overtake it (its requester's ack) waits here.
        """
        channel = self._channels.get(showtime_id)
        if channel is None or channel.delivered >= seq:
            return
        told: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        channel.waiting.append((seq, told))
        await told

    def positions(self) -> dict[str, int]:
        """The last seq delivered for each showtime that has subscribers."""
        return {showtime_id: channel.delivered for showtime_id, channel in self._channels.items()}

    async def catch_up(self, showtime_id: str, upto: int) -> None:
        """Deliver from the event log whatever this instance missed up to ``upto``."""
        channel = self._channels.get(showtime_id)
        if channel is not None and upto > channel.delivered:
            self.publish(await self._read_log(showtime_id, channel.delivered, upto))

    def subscriber_count(self, showtime_id: str) -> int:
        channel = self._channels.get(showtime_id)
        return len(channel.subscribers) if channel else 0

    def subscription_count(self) -> int:
        return sum(len(channel.subscribers) for channel in self._channels.values())

    def overloaded(self, connection: C) -> bool:
        """Whether more than the slow-consumer limit waits in the connection's write buffer."""
        return self._outlet.buffered(connection) > self._slow_consumer_bytes

    def evict(self, connection: C) -> None:
        """Drop a client that stopped reading, instead of buffering for it without bound.

        The connection is cut off, not closed: a close frame would queue behind what the client is not
        reading, and a close handshake would wait on it for ever. It comes back like any dropped client:
        reconnect, resubscribe with lastSeq, catch up.
        """
        self._outlet.drop(connection)
        self.forget(connection)

    def _observe(self, event: Event, reached: int) -> None:
        if reached:
            self._metrics.messages_sent.labels("broadcast").inc(reached)
            self._metrics.delivery_seconds.observe(max(0.0, time.time() - event.at / 1000))

    def _watch_gap(self, showtime_id: str) -> None:
        channel = self._channels.get(showtime_id)
        if channel is not None and channel.ahead and channel.repair is None:
            channel.repair = asyncio.create_task(self._repair(showtime_id, channel))

    async def _repair(self, showtime_id: str, channel: Channel[C]) -> None:
        """Give a gap a moment to fill by itself (bus messages may cross), then read it from the log."""
        try:
            await asyncio.sleep(self._gap_wait)
            if channel.ahead:
                await self.catch_up(showtime_id, min(channel.ahead) - 1)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("could not read missed changes of showtime %s; the next reconcile retries", showtime_id)
        finally:
            channel.repair = None
        with contextlib.suppress(KeyError):
            self._watch_gap(showtime_id)
