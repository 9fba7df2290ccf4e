"""The fan-out baseline: a bare ``websockets`` server that only relays, the ceiling of this stack.

It speaks just enough of the seat protocol for the same load generator to drive it: a
``connection_established`` frame on connect; ``subscribe`` answered with ``subscribed`` and a
``current_seat_status`` carrying the showtime's ``seq`` and the seats locked on it (a dictionary's keys:
the cheapest snapshot that is still true); ``lock``/``unlock`` turned into one ``seat_status_change`` per
seat, the same shape and size as the server's, sent to every subscriber of the showtime with
``broadcast()`` (to those that subscribed with ``"batch": true``, the request's changes joined in one
``seat_status_changes`` frame, as the server joins a commit's), then an ``ack``; a lock of a seat another
session holds, or an unlock of one the session does not hold, refused as a whole with the server's error
code, as the Node.js baseline does. So it is also the in-memory hold path of this stack, the seed's design in
Python. No validation, no database, no session tokens.

Run as ``python -m bench.relay``; it prints ``listening PORT`` and serves until SIGTERM.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import signal
import time
from collections import defaultdict

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

__all__ = ["Relay", "main"]


class _Showtime:
    __slots__ = ("batched", "locked", "seq", "subscribers")

    def __init__(self) -> None:
        self.subscribers: set[ServerConnection] = set()  # one frame per change
        self.batched: set[ServerConnection] = set()  # one frame per request
        self.seq = 0
        self.locked: dict[str, str] = {}  # seat -> session, as the changes left it


class Relay:
    def __init__(self) -> None:
        self.showtimes: defaultdict[str, _Showtime] = defaultdict(_Showtime)
        self._sessions = itertools.count(1)

    async def handle(self, connection: ServerConnection) -> None:
        session_id = f"s_{next(self._sessions):024x}"
        await connection.send(
            orjson.dumps(
                {
                    "type": "connection_established",
                    "sessionId": session_id,
                    "token": f"{session_id}.0.{secrets.token_urlsafe(32)}",
                    "resumed": False,
                    "timestamp": _now_ms(),
                }
            ).decode()
        )
        joined: list[_Showtime] = []
        try:
            async for frame in connection:
                message = orjson.loads(frame)
                kind = message["type"]
                reply: dict[str, object]
                if kind == "subscribe":
                    showtime_id = message["showtimeId"]
                    showtime = self.showtimes[showtime_id]
                    (showtime.batched if message.get("batch") is True else showtime.subscribers).add(connection)
                    joined.append(showtime)
                    await connection.send(
                        orjson.dumps(
                            {"type": "subscribed", "requestId": message.get("requestId"), "showtimeId": showtime_id}
                        ).decode()
                    )
                    reply = {
                        "type": "current_seat_status",
                        "showtimeId": showtime_id,
                        "seq": showtime.seq,
                        "bookedSeats": [],
                        "lockedSeats": list(showtime.locked),
                        "mySeats": [],
                        "holdExpiresAt": {},
                        "timestamp": _now_ms(),
                    }
                elif kind in ("lock", "unlock"):
                    reply = self._change(message, kind, session_id)
                else:
                    reply = {"type": "error", "requestId": message.get("requestId"), "code": "invalid_message"}
                await connection.send(orjson.dumps(reply).decode())
        except ConnectionClosed:
            pass
        finally:
            for showtime in joined:
                showtime.subscribers.discard(connection)
                showtime.batched.discard(connection)

    def _change(self, message: dict[str, object], kind: str, session_id: str) -> dict[str, object]:
        """The seed's rule, all or nothing: a seat another session holds is not locked, one the session does not
        hold is not unlocked; an ack, or the error the server would give."""
        showtime_id, seat_ids = str(message["showtimeId"]), list(message["seatIds"])  # type: ignore[call-overload]
        locked = self.showtimes[showtime_id].locked
        if kind == "lock":
            taken = [seat for seat in seat_ids if locked.get(seat, session_id) != session_id]
        else:
            taken = [seat for seat in seat_ids if locked.get(seat) != session_id]
        request_id = message.get("requestId")
        if taken:
            code = "seat_unavailable" if kind == "lock" else "not_lock_owner"
            return {"type": "error", "requestId": request_id, "code": code, "conflictingSeats": taken}
        changed = [seat for seat in seat_ids if kind == "unlock" or locked.get(seat) != session_id]
        self._relay(showtime_id, kind, changed, session_id)
        return {"type": "ack", "requestId": request_id, "action": kind, "showtimeId": showtime_id, "seatIds": seat_ids}

    def _relay(self, showtime_id: str, kind: str, seat_ids: list[str], session_id: str) -> None:
        """A frame per seat to the showtime's subscribers; the frames joined in one to those asking for batches."""
        showtime = self.showtimes[showtime_id]
        status = "locked" if kind == "lock" else "unlocked"
        frames = []
        for seat_id in seat_ids:
            showtime.seq += 1
            if kind == "lock":
                showtime.locked[seat_id] = session_id
            else:
                showtime.locked.pop(seat_id, None)
            change = {
                "type": "seat_status_change",
                "showtimeId": showtime_id,
                "seatId": seat_id,
                "status": status,
                "sessionId": session_id,
                "seq": showtime.seq,
                "timestamp": _now_ms(),
            }
            frames.append(orjson.dumps(change).decode())
            broadcast(showtime.subscribers, frames[-1])
        if frames and showtime.batched:
            showtime_json, changes = orjson.dumps(showtime_id).decode(), ",".join(frames)
            broadcast(
                showtime.batched, f'{{"type":"seat_status_changes","showtimeId":{showtime_json},"changes":[{changes}]}}'
            )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def serve_until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    relay = Relay()
    # The same settings as the seat server's socket: no compression, the default keepalive pings.
    async with serve(relay.handle, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"listening {port}", flush=True)
        await stop.wait()


def main() -> None:
    asyncio.run(serve_until_stopped())


if __name__ == "__main__":
    main()
