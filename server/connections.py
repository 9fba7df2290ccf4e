"""Open connections, both ports together: one budget per client address, one ceiling for the whole server.

Every connection holds a file descriptor. When the process runs out of them, nothing can be accepted,
no database connection opened, no file served, for anyone. So each address may hold only
``MAX_CONNECTIONS_PER_IP`` connections, on the socket and the HTTP port together, and the server as a
whole stays below its open-file limit, keeping room for the database pool and its own files.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from collections.abc import Callable
from typing import Any

from server.core.errors import ErrorCode, Rejection
from server.logs import Throttled

__all__ = ["ConnectionBudget", "PortConnections", "connection_ceiling", "log_accept_errors", "raise_file_limit"]

log = logging.getLogger(__name__)

# Files the process needs besides its connections: listening sockets, Redis, logs, the demo page's files.
RESERVED_FILES = 64
# Per database connection: SQLite opens the database, its journal and its shared memory; PostgreSQL pools
# overflow to twice their size.
FILES_PER_DATABASE_CONNECTION = 3
# The loop's words when accept() fails for want of descriptors or memory (asyncio retries a second later).
ACCEPT_FAILED = "socket.accept() out of system resource"


class ConnectionBudget:
    """Open connections per client address and in all. ``None`` as an address counts toward the ceiling only."""

    def __init__(self, per_address: int, ceiling: int) -> None:
        self.per_address = per_address
        self.ceiling = ceiling
        self.total = 0
        self._per_address: Counter[str] = Counter()

    def port(self) -> PortConnections:
        return PortConnections(self)

    def refusal(self, address: str | None) -> Rejection | None:
        """Why one more connection from ``address`` must be refused, or None if it may open."""
        if self.total >= self.ceiling:
            return Rejection(ErrorCode.TOO_MANY_CONNECTIONS, "the server is at its connection limit; try again later")
        if address is not None and self._per_address[address] >= self.per_address:
            return Rejection(ErrorCode.TOO_MANY_CONNECTIONS, "too many connections from this address")
        return None

    def open(self, address: str | None) -> None:
        self.total += 1
        if address is not None:
            self._per_address[address] += 1

    def close(self, address: str | None) -> None:
        self.total -= 1
        if address is not None:
            self._per_address[address] -= 1
            if not self._per_address[address]:
                del self._per_address[address]


class PortConnections:
    """One port's share of the budget: it counts into the budget, and knows how many connections are its own."""

    def __init__(self, budget: ConnectionBudget) -> None:
        self._budget = budget
        self.count = 0

    def refusal(self, address: str | None) -> Rejection | None:
        return self._budget.refusal(address)

    def open(self, address: str | None) -> None:
        self._budget.open(address)
        self.count += 1

    def close(self, address: str | None) -> None:
        self._budget.close(address)
        self.count -= 1


def raise_file_limit() -> int:
    """Raise the soft open-file limit to the hard one, as servers do (the soft one is often 1,024); the new one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as error:  # an unlimited hard limit the kernel caps lower (macOS)
            log.warning("keeping the open-file limit at %d: %s", soft, error)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_ceiling(file_limit: int, database_pool_size: int) -> int:
    """Connections the server may hold with ``file_limit`` descriptors, keeping room for everything else."""
    return max(1, file_limit - RESERVED_FILES - FILES_PER_DATABASE_CONNECTION * database_pool_size)


def log_accept_errors(loop: asyncio.AbstractEventLoop, interval: float = 10.0) -> Callable[[], None]:
    """Log failed accepts (EMFILE) as one line now and then instead of a traceback a second; returns the undo."""
    previous = loop.get_exception_handler()
    failures = Throttled(log, interval)

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == ACCEPT_FAILED:
            failures.warning("cannot accept connections: %s; retrying", context.get("exception"))
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
    return lambda: loop.set_exception_handler(previous)
