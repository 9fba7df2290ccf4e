"""In-memory stand-ins for what unit tests do not exercise: connections and the clock."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import orjson

__all__ = ["FakeConnection", "FakeOutlet", "ManualClock"]


@dataclass(eq=False)
class FakeConnection:
    """A client as fan-out sees it: the frames it was sent, how much it has not read, whether it was cut off."""

    name: str
    frames: list[str] = field(default_factory=list)
    unread: int = 0
    dropped: bool = False

    def messages(self) -> list[dict[str, object]]:
        return [orjson.loads(frame) for frame in self.frames]

    def changes(self) -> list[dict[str, object]]:
        """The seat changes it was sent, alone or batched, in order."""
        found: list[dict[str, object]] = []
        for message in self.messages():
            if message["type"] == "seat_status_change":
                found.append(message)
            elif message["type"] == "seat_status_changes":
                found.extend(message["changes"])  # type: ignore[arg-type]
        return found

    def seqs(self) -> list[int]:
        return [int(change["seq"]) for change in self.changes()]  # type: ignore[call-overload]


class FakeOutlet:
    def send(self, targets: Collection[FakeConnection], frame: str) -> None:
        for connection in targets:
            connection.frames.append(frame)

    def buffered(self, connection: FakeConnection) -> int:
        return connection.unread

    def drop(self, connection: FakeConnection) -> None:
        connection.dropped = True


class ManualClock:
    """A clock that moves only when told to; the wall clock may also step back, as real ones do."""

    def __init__(self, now: int = 1_800_000_000_000) -> None:
        self.wall = now
        self.elapsed = 0

    def now(self) -> int:
        return self.wall

    def monotonic(self) -> int:
        return self.elapsed

    def advance(self, ms: int) -> None:
        self.wall += ms
        self.elapsed += ms

    def step_wall(self, ms: int) -> None:
        """An NTP or operator step: the wall clock jumps, the monotonic one does not."""
        self.wall += ms
