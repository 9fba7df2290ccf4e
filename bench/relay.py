"""The fan-out baseline: a bare ``websockets`` server that only relays, the ceiling of this stack.

It speaks just enough of the seat protocol for the same load generator to drive it: a
``connection_established`` frame on connect; ``subscribe`` answered with ``subscribed`` and a
``current_seat_status`` carrying the relay's ``seq``; ``lock``/``unlock`` turned into one
``seat_status_change`` per seat, the same shape and size as the server's, sent to every subscriber with
``broadcast()``, then an ``ack``. No validation, no database, no session tokens.

Run as ``python -m bench.relay``; it prints ``listening PORT`` and serves until SIGTERM.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import signal
import time

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

__all__ = ["Relay", "main"]


class Relay:
    def __init__(self) -> None:
        self.subscribers: set[ServerConnection] = set()
        self.seq = 0
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
        try:
            async for frame in connection:
                message = orjson.loads(frame)
                kind = message["type"]
                reply: dict[str, object]
                if kind == "subscribe":
                    self.subscribers.add(connection)
                    showtime_id = message["showtimeId"]
                    await connection.send(
                        orjson.dumps(
                            {"type": "subscribed", "requestId": message.get("requestId"), "showtimeId": showtime_id}
                        ).decode()
                    )
                    reply = {
                        "type": "current_seat_status",
                        "showtimeId": showtime_id,
                        "seq": self.seq,
                        "bookedSeats": [],
                        "lockedSeats": [],
                        "mySeats": [],
                        "holdExpiresAt": {},
                        "timestamp": _now_ms(),
                    }
                elif kind in ("lock", "unlock"):
                    status = "locked" if kind == "lock" else "unlocked"
                    for seat_id in message["seatIds"]:
                        self.seq += 1
                        change = {
                            "type": "seat_status_change",
                            "showtimeId": message["showtimeId"],
                            "seatId": seat_id,
                            "status": status,
                            "sessionId": session_id,
                            "seq": self.seq,
                            "timestamp": _now_ms(),
                        }
                        broadcast(self.subscribers, orjson.dumps(change).decode())
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
            self.subscribers.discard(connection)


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
