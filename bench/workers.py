"""Load-generator processes, each running its own event loop, driven over a pipe by the coordinator.

Workers are started with ``spawn`` (never ``fork``, which would copy a running event loop). The
coordinator talks to each one over a :func:`multiprocessing.Pipe`, awaiting replies with the event loop's
reader callbacks, so it can run a locker connection on the same loop while it waits.

Latency is measured across processes with ``time.monotonic_ns()``: on Linux it reads CLOCK_MONOTONIC,
which is one system-wide clock, so an instant taken in one process can be compared with one taken in
another. :meth:`WorkerPool.check_clock` verifies it for the processes in use: each worker's reading
must fall between the coordinator's readings before and after asking for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from bench.proc import raise_fd_limit

__all__ = ["Channel", "WorkerPool", "worker_main"]

# A worker: given its channel and index, answers commands until told to stop.
WorkerLoop = Callable[["Channel", int], Awaitable[None]]
STOP = "stop"
CLOCK = "clock"
CLOCK_TIMEOUT = 30.0


class Channel:
    """One end of a pipe, with an awaitable receive."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def send(self, message: Any) -> None:
        self.connection.send(message)

    async def recv(self) -> Any:
        if self.connection.poll():
            return self.connection.recv()
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = self.connection.fileno()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, readable)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        return self.connection.recv()


def worker_main(loop_function: WorkerLoop, connection: Connection, index: int, fd_limit: int) -> None:
    """Entry point of a worker process."""
    raise_fd_limit(fd_limit)
    asyncio.run(_serve(loop_function, Channel(connection), index))


async def _serve(loop_function: WorkerLoop, channel: Channel, index: int) -> None:
    await loop_function(channel, index)


class WorkerPool:
    def __init__(self, count: int, loop_function: WorkerLoop, fd_limit: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.channels: list[Channel] = []
        self.processes: list[BaseProcess] = []
        for index in range(count):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=worker_main, args=(loop_function, theirs, index, fd_limit), name=f"bench-worker-{index}"
            )
            process.start()
            theirs.close()
            self.channels.append(Channel(mine))
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes if process.pid is not None]

    def send_all(self, messages: list[Any]) -> None:
        for channel, message in zip(self.channels, messages, strict=True):
            channel.send(message)

    async def gather(self) -> list[Any]:
        """One reply from every worker, in worker order; a worker's exception is raised here."""
        replies = await asyncio.gather(*(channel.recv() for channel in self.channels))
        for index, reply in enumerate(replies):
            if isinstance(reply, BaseException):
                raise RuntimeError(f"load-generator worker {index} failed: {reply!r}") from reply
        return replies

    async def check_clock(self) -> int:
        """Check each worker's monotonic clock against ours; return the number of readings checked."""
        checked = 0
        for channel in self.channels:
            for _ in range(5):
                before = time.monotonic_ns()
                channel.send((CLOCK,))
                async with asyncio.timeout(CLOCK_TIMEOUT):
                    theirs = await channel.recv()
                after = time.monotonic_ns()
                if not before <= theirs <= after:
                    raise RuntimeError(
                        f"monotonic clocks disagree across processes: {before} <= {theirs} <= {after} is false"
                    )
                checked += 1
        return checked

    def close(self) -> None:
        for channel in self.channels:
            with contextlib.suppress(OSError):
                channel.send((STOP,))
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)
        for channel in self.channels:
            channel.connection.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def answer_clock(channel: Channel) -> None:
    channel.send(time.monotonic_ns())


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system
