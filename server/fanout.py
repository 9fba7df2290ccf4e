"""Per-showtime subscriber sets, and delivery that never waits for any client.

A change is encoded once and the same frame is handed to every subscriber with ``websockets``'
``broadcast()``: it writes to each connection's transport without awaiting, so one slow reader cannot
delay the others. Frames a single client must see in order with broadcasts (its snapshot) are sent
the same way, for the same reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from websockets.asyncio.server import ServerConnection, broadcast

from server.messages import SeatStatusChange
from server.storage.store import Event

__all__ = ["Fanout", "encode_event", "send_now"]


def encode_event(event: Event) -> str:
    return SeatStatusChange(
        showtime_id=event.showtime_id,
        seat_id=event.change.seat,
        status=event.change.status,
        session_id=event.change.session_id,
        seq=event.seq,
        timestamp=event.at,
    ).to_json()


class Fanout:
    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[ServerConnection]] = defaultdict(set)

    def subscribe(self, showtime_id: str, connection: ServerConnection) -> None:
        self._subscribers[showtime_id].add(connection)

    def unsubscribe(self, showtime_id: str, connection: ServerConnection) -> None:
        subscribers = self._subscribers.get(showtime_id)
        if subscribers is not None:
            subscribers.discard(connection)
            if not subscribers:
                del self._subscribers[showtime_id]

    def forget(self, connection: ServerConnection, showtime_ids: Iterable[str]) -> None:
        for showtime_id in showtime_ids:
            self.unsubscribe(showtime_id, connection)

    def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            subscribers = self._subscribers.get(event.showtime_id)
            if subscribers:
                broadcast(subscribers, encode_event(event))

    def subscriber_count(self, showtime_id: str) -> int:
        return len(self._subscribers.get(showtime_id, ()))


def send_now(connection: ServerConnection, frame: str) -> None:
    """Queue one frame for one client without awaiting, in order with broadcasts."""
    broadcast((connection,), frame)
