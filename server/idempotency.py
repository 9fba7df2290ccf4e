"""Requests with an idempotency key run once: the wrapper the REST adapter and the socket share.

``once`` claims the key in the database (``server.storage.idempotency``), runs the request, and keeps its
answer for ``IDEMPOTENCY_TTL_SECONDS``. Whoever comes later with the same key, on any instance and after any
restart, gets that answer (``Replayed``) and nothing runs again. A request that finds its key claimed but not
answered yet, by a request still running here or on another instance, waits for the answer (looking again
with backoff, for ``wait_seconds`` at most) and then answers ``idempotency_key_in_use`` if none came.

A server that dies between claiming a key and keeping the answer leaves the claim unanswered. Whether its
request changed anything is then unknown, so the claim is never taken over: retries with that key answer
``idempotency_key_in_use`` until the key expires. That way a request is never run twice; the client finds out
what happened by reading the state (its holds, its booking), and a request it makes anew takes a new key. The
same holds when the task answering the request is cancelled (a shutdown that could not wait for it). A request
that fails with an error of the server's, on the other hand, changed nothing (every change is one transaction
that either commits or does not), so its claim is released and a retry runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from server.core.clock import Clock
from server.core.errors import ErrorCode, Rejection
from server.core.idempotency import Stored, Verdict, backoff, verdict
from server.storage.idempotency import Claim, IdempotencyKeys

__all__ = ["Answered", "Idempotency", "Replayed"]

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A", covariant=True)  # an answer: a request's Answered[Ack] is an Answered[Ack | Problem] too


@dataclass(frozen=True, slots=True)
class Answered(Generic[A]):
    """What a keyed request gave: the answer to send now, and what its key keeps (None: nothing, the key is
    free again, for a refusal that says nothing of the request itself: see ``server.core.idempotency.keeps``)."""

    answer: A
    kept: Stored | None


@dataclass(frozen=True, slots=True)
class Replayed:
    """The answer the key's first request got, to send again as it was."""

    answer: Stored


class Idempotency:
    def __init__(self, keys: IdempotencyKeys, clock: Clock, ttl_seconds: float, wait_seconds: float = 10.0) -> None:
        self._keys = keys
        self._clock = clock
        self._ttl_ms = int(ttl_seconds * 1000)
        self._pauses = backoff(wait_seconds)  # between looks at a key whose first request is being answered

    async def once(
        self, scope: str, key: str, fingerprint: str, run: Callable[[], Awaitable[Answered[T]]]
    ) -> T | Replayed | Rejection:
        """Run the request named by ``key`` in ``scope`` (a session, or ``admin``) unless it ran already.

        ``fingerprint`` (``server.core.idempotency.fingerprint``) tells the same request from another one.
        """
        pauses = iter(self._pauses)
        while True:
            now = self._clock.now()
            claimed = await self._keys.claim(scope, key, fingerprint, now, now + self._ttl_ms)
            if claimed is not None:
                return await self._run(claimed, run)
            found = await self._keys.find(scope, key)
            seen = Verdict.LAPSED if found is None else verdict(found, fingerprint, now)
            if seen is Verdict.REUSED:
                reused = "this idempotency key was used with another request; use a new key"
                return Rejection(ErrorCode.IDEMPOTENCY_KEY_REUSED, reused)
            if seen is Verdict.REPLAY and found is not None and found.answer is not None:
                return Replayed(found.answer)
            pause = next(pauses, None)
            if pause is None:
                return Rejection(
                    ErrorCode.IDEMPOTENCY_KEY_IN_USE,
                    "the first request with this idempotency key has not been answered (it may still be running, "
                    "or its server stopped while answering it, leaving its outcome unknown): read the state back, "
                    "and use a new key for a new request",
                )
            if seen is Verdict.IN_PROGRESS:
                await asyncio.sleep(pause)
            # LAPSED: released or expired since the claim was tried; claim it again at once

    async def _run(self, claimed: Claim, run: Callable[[], Awaitable[Answered[T]]]) -> T:
        try:
            answered = await run()
        except Exception:  # a refusal before it ran (a bad body), or a fault: nothing changed, a retry may run
            await self._forget(claimed)
            raise
        if answered.kept is None:
            await self._forget(claimed)
            return answered.answer
        try:
            await self._keys.finish(claimed, answered.kept)
        except Exception:  # it ran: its claim stays unanswered, so a retry can never run it again
            log.exception("could not keep the answer to an idempotent request", extra={"scope": claimed[0]})
        return answered.answer

    async def _forget(self, claimed: Claim) -> None:
        try:
            await self._keys.release(claimed)
        except Exception:  # the claim stays: retries are answered idempotency_key_in_use until it expires
            log.exception("could not release an idempotency key", extra={"scope": claimed[0]})
