"""The idempotency wrapper on a real SQLite database: run once, replay, refuse, wait, release, never rerun."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.errors import ErrorCode, Rejection
from server.core.idempotency import Stored
from server.idempotency import Answered, Idempotency, Replayed
from server.storage.idempotency import IdempotencyKeys
from tests.fakes import ManualClock
from tests.unit.database import engine

__all__ = ["engine"]

TTL_SECONDS = 3600
ANSWER = Stored(201, '{"done":1}')


class Work:
    """A request's work: counts its runs; may be held open, fail, or give an answer not to keep."""

    def __init__(self, kept: Stored | None = ANSWER) -> None:
        self.runs = 0
        self.kept = kept
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.fault: Exception | None = None

    async def __call__(self) -> Answered[str]:
        self.runs += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fault is not None:
            raise self.fault
        return Answered(f"fresh {self.runs}", self.kept)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def once(engine: AsyncEngine, clock: ManualClock) -> Callable[..., Idempotency]:
    def build(wait_seconds: float = 10.0) -> Idempotency:
        return Idempotency(IdempotencyKeys(engine), clock, TTL_SECONDS, wait_seconds)

    return build


async def test_the_first_request_runs_and_the_same_one_again_gets_its_answer(once: Callable[..., Idempotency]) -> None:
    idempotency, work = once(), Work()
    assert await idempotency.once("s_1", "k", "fp", work) == "fresh 1"
    assert await idempotency.once("s_1", "k", "fp", work) == Replayed(ANSWER)
    assert await once().once("s_1", "k", "fp", work) == Replayed(ANSWER)  # another instance, or after a restart
    assert work.runs == 1


async def test_the_same_key_with_another_request_is_refused(once: Callable[..., Idempotency]) -> None:
    idempotency, work = once(), Work()
    await idempotency.once("s_1", "k", "fp", work)
    refused = await idempotency.once("s_1", "k", "another", work)
    assert isinstance(refused, Rejection)
    assert refused.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert work.runs == 1


async def test_each_scope_has_keys_of_its_own(once: Callable[..., Idempotency]) -> None:
    idempotency, work = once(), Work()
    assert await idempotency.once("s_1", "k", "fp", work) == "fresh 1"
    assert await idempotency.once("s_2", "k", "another", work) == "fresh 2"
    assert await idempotency.once("admin", "k", "fp", work) == "fresh 3"


async def test_a_retry_while_the_first_runs_waits_for_its_answer(once: Callable[..., Idempotency]) -> None:
    idempotency, work = once(), Work()
    work.gate = asyncio.Event()
    first = asyncio.create_task(idempotency.once("s_1", "k", "fp", work))
    await work.started.wait()
    retries = [asyncio.create_task(once().once("s_1", "k", "fp", work)) for _ in range(5)]
    await asyncio.sleep(0.05)
    assert not any(retry.done() for retry in retries)
    work.gate.set()
    assert await first == "fresh 1"
    assert await asyncio.gather(*retries) == [Replayed(ANSWER)] * 5
    assert work.runs == 1


async def test_a_retry_that_waited_long_enough_is_told_the_key_is_in_use(once: Callable[..., Idempotency]) -> None:
    work = Work()
    work.gate = asyncio.Event()
    first = asyncio.create_task(once().once("s_1", "k", "fp", work))
    await work.started.wait()
    refused = await once(wait_seconds=0.05).once("s_1", "k", "fp", work)
    assert isinstance(refused, Rejection)
    assert refused.code is ErrorCode.IDEMPOTENCY_KEY_IN_USE
    work.gate.set()
    await first
    assert work.runs == 1


async def test_a_failure_releases_the_key_so_a_retry_runs(once: Callable[..., Idempotency]) -> None:
    idempotency, work = once(), Work()
    work.fault = RuntimeError("the database went away")
    with pytest.raises(RuntimeError):
        await idempotency.once("s_1", "k", "fp", work)
    work.fault = None
    assert await idempotency.once("s_1", "k", "another request now", work) == "fresh 2"


async def test_an_answer_not_kept_frees_the_key(once: Callable[..., Idempotency]) -> None:
    idempotency, work = once(), Work(kept=None)  # e.g. rate_limited: the request was not judged
    assert await idempotency.once("s_1", "k", "fp", work) == "fresh 1"
    assert await idempotency.once("s_1", "k", "fp", work) == "fresh 2"


async def test_a_request_cut_off_while_running_is_never_run_again(once: Callable[..., Idempotency]) -> None:
    """Its outcome is unknown (it may have committed): the claim stays, as if its server had died."""
    work = Work()
    work.gate = asyncio.Event()
    first = asyncio.create_task(once().once("s_1", "k", "fp", work))
    await work.started.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    refused = await once(wait_seconds=0.05).once("s_1", "k", "fp", work)
    assert isinstance(refused, Rejection)
    assert refused.code is ErrorCode.IDEMPOTENCY_KEY_IN_USE
    assert work.runs == 1


async def test_a_key_past_its_ttl_is_new_again(once: Callable[..., Idempotency], clock: ManualClock) -> None:
    idempotency, work = once(), Work()
    await idempotency.once("s_1", "k", "fp", work)
    clock.advance(TTL_SECONDS * 1000 - 1)
    assert await idempotency.once("s_1", "k", "fp", work) == Replayed(ANSWER)
    clock.advance(1)
    assert await idempotency.once("s_1", "k", "another", work) == "fresh 2"
