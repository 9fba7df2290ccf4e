"""A lock load-generator process: many clients running the lock workload, through the server or the driver.

Commands arrive over the worker's channel (see :mod:`bench.workers`):

``Prepare``  open this process's clients: WebSocket connections to the server (one session each), or one
             raw-driver connection pool shared by all (:mod:`bench.rawdb`); reply ``"prepared"``;
``Go``       run the workload from ``start_ns`` to ``deadline_ns`` (both CLOCK_MONOTONIC, so every process
             starts together), reply with the merged :class:`~bench.workload.ClientRecord`, close.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from functools import partial

from bench.rawdb import RawSeats, open_raw_seats
from bench.requester import Requester
from bench.workers import CLOCK, STOP, Channel, answer_clock
from bench.workload import ClientRecord, Outcome, SeatOp, Workload, churn

__all__ = ["Go", "Prepare", "locker_worker"]


@dataclass(frozen=True, slots=True)
class Prepare:
    showtime_id: str
    clients: int
    first_client: int  # clients are numbered across processes, so each gets its own random seed
    workload: Workload
    host: str = ""  # the server's WebSocket endpoint ...
    port: int = 0
    path: str = ""
    database_url: str = ""  # ... or, for the baseline, the database itself


@dataclass(frozen=True, slots=True)
class Go:
    start_ns: int
    deadline_ns: int


class _Clients:
    def __init__(self, order: Prepare) -> None:
        self.order = order
        self.requesters: list[Requester] = []
        self.raw: RawSeats | None = None

    async def open(self) -> None:
        order = self.order
        if order.database_url:
            self.raw = await open_raw_seats(order.database_url, order.showtime_id)
            return
        gate = asyncio.Semaphore(32)

        async def connect() -> Requester:
            async with gate:
                return await Requester.connect(order.host, order.port, order.path)

        self.requesters = list(await asyncio.gather(*(connect() for _ in range(order.clients))))

    async def run(self, go: Go) -> ClientRecord:
        order = self.order
        await asyncio.sleep(max(0.0, (go.start_ns - time.monotonic_ns()) / 1e9))
        runs = []
        for offset in range(order.clients):
            lock, unlock = self._operations(offset)
            runs.append(churn(lock, unlock, order.workload, order.first_client + offset, go.deadline_ns))
        merged = ClientRecord()
        for record in await asyncio.gather(*runs):
            merged.merge(record)
        return merged

    def _operations(self, offset: int) -> tuple[SeatOp, SeatOp]:
        if self.raw is not None:
            session_id = f"s_raw{secrets.token_hex(10)}"
            return partial(self.raw.lock, session_id), partial(self.raw.unlock, session_id)
        requester = self.requesters[offset]
        return partial(_request, requester, "lock", self.order.showtime_id), partial(
            _request, requester, "unlock", self.order.showtime_id
        )

    async def close(self) -> None:
        for requester in self.requesters:
            requester.close()
        if self.raw is not None:
            await self.raw.close()


async def _request(requester: Requester, kind: str, showtime_id: str, seats: list[str]) -> Outcome:
    reply = await requester.request(kind, showtime_id, seats)
    code = None if reply.ok else str(reply.message.get("code"))
    if reply.ok and reply.message.get("seatIds") != seats:
        code = f"ack for the wrong seats: {reply.message.get('seatIds')}"
    return Outcome(reply.ok and code is None, code, reply.sent_ns, reply.received_ns)


async def locker_worker(channel: Channel, _index: int) -> None:
    clients: _Clients | None = None
    try:
        while True:
            command = await channel.recv()
            match command:
                case Prepare():
                    clients = _Clients(command)
                    try:
                        await clients.open()
                        channel.send("prepared")
                    except Exception as error:  # reported to the coordinator, which fails the run
                        channel.send(RuntimeError(f"opening lock clients failed: {error!r}"))
                case Go():
                    assert clients is not None
                    try:
                        channel.send(await clients.run(command))
                    except Exception as error:
                        channel.send(RuntimeError(f"the lock workload failed: {error!r}"))
                    finally:
                        await clients.close()
                        clients = None
                case (tag,) if tag == CLOCK:
                    answer_clock(channel)
                case (tag,) if tag == STOP:
                    return
    finally:
        if clients is not None:
            await clients.close()
