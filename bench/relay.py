"""The fan-out baseline: a bare ``websockets`` server that only relays, the ceiling of this stack.

It speaks just enough of the seat protocol for the same load generator to drive it: a
``connection_established`` frame on connect; ``subscribe`` answered with ``subscribed`` and a
``current_seat_status`` carrying the showtime's ``seq`` and the seats locked on it (a dictionary's keys:
the cheapest snapshot that is still true); ``lock``/``unlock`` turned into one ``seat_status_change`` per
seat, the same shape and size as the server's, sent to every subscriber of the showtime with
``broadcast()``, then an ``ack``. No validation, no rules, no database, no session tokens.

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
    __slots__ = ("locked", "seq", "subscribers")

    def __init__(self) -> None:
        self.subscribers: set[ServerConnection] = set()
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
                    showtime.subscribers.add(connection)
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
                    status = "locked" if kind == "lock" else "unlocked"
                    showtime = self.showtimes[message["showtimeId"]]
                    for seat_id in message["seatIds"]:
                        showtime.seq += 1
                        if kind == "lock":
                            showtime.locked[seat_id] = session_id
                        else:
                            showtime.locked.pop(seat_id, None)
                        change = {
                            "type": "seat_status_change",
                            "showtimeId": message["showtimeId"],
                            "seatId": seat_id,
                            "status": status,
                            "sessionId": session_id,
                            "seq": showtime.seq,
                            "timestamp": _now_ms(),
                        }
                        broadcast(showtime.subscribers, orjson.dumps(change).decode())
                    reply = {
                        "type": "ack",
                        "requestId": message.get("requestId"),
                        "action": kind,
                        "showtimeId": message["showtimeId"],
                        "seatIds": message["seatIds"],
                    }
                else:
                    reply = {"type": "error", "requestId": message.get("requestId"), "code": "invalid_message"}
                await connection.send(orjson.dumps(reply).decode())
        except ConnectionClosed:
            pass
        finally:
            for showtime in joined:
                showtime.subscribers.discard(connection)


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
