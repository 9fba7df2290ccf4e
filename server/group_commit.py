"""Group commit: changes to a showtime that arrive while its transaction runs share the next one.

Each showtime has at most one drainer. It takes up to ``max_batch`` queued changes, decides them in arrival
order in one transaction (each rule sees the claims as the changes before it left them), announces what was
committed, then answers each requester. Under contention this saves the fixed cost of a transaction per
change; a lone change pays exactly one transaction, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

from server.core.changes import BookingChange, Change, Committed
from server.core.errors import ErrorCode, Rejection
from server.keyed_lock import KeyedLock

__all__ = ["Commit", "GroupCommit"]

log = logging.getLogger(__name__)

# Decides changes of one showtime in one transaction: an outcome per change, in order.
Commit = Callable[[str, Sequence[Change | BookingChange]], Awaitable[list[Rejection | Committed]]]


class GroupCommit:
    def __init__(
        self,
        commit: Commit,
        serial: KeyedLock,
        announce: Callable[[Committed], None],
        max_batch: int = 64,
    ) -> None:
        self._commit = commit
        self._serial = serial  # held per transaction and its announcement, so they stay in seq order
        self._announce = announce
        self._max_batch = max_batch
        self._queued: defaultdict[str, list[tuple[Change | BookingChange, asyncio.Future[Rejection | Committed]]]] = (
            defaultdict(list)
        )
        self._drainers: dict[str, asyncio.Task[None]] = {}

    async def decide(self, showtime_id: str, change: Change | BookingChange) -> Rejection | Committed:
        """Queue a change for the showtime's next transaction and wait for its outcome."""
        outcome: asyncio.Future[Rejection | Committed] = asyncio.get_running_loop().create_future()
        self._queued[showtime_id].append((change, outcome))
        if showtime_id not in self._drainers:
            self._drainers[showtime_id] = asyncio.create_task(self._drain(showtime_id))
        return await outcome

    async def _drain(self, showtime_id: str) -> None:
        queue = self._queued[showtime_id]
        try:
            while queue:
                batch, queue[:] = queue[: self._max_batch], queue[self._max_batch :]
                async with self._serial.hold(showtime_id):
                    try:
                        outcomes = await self._commit(showtime_id, [change for change, _ in batch])
                    except Exception as error:
                        log.exception("a transaction of %d changes failed; none was applied", len(batch))
                        failed = Rejection(ErrorCode.INTERNAL_ERROR, f"the database failed ({type(error).__name__})")
                        outcomes = [failed] * len(batch)
                    for committed in outcomes:
                        if isinstance(committed, Committed):
                            self._announce(committed)
                for (_, waiting), result in zip(batch, outcomes, strict=True):
                    if not waiting.done():  # the requester may have gone away; its change stands
                        waiting.set_result(result)
        finally:
            # No await since the queue was last seen empty: a change queued now finds no drainer and starts one.
            del self._drainers[showtime_id], self._queued[showtime_id]
