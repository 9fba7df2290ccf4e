"""Idempotency keys in a real database, SQLite and PostgreSQL: one claim wins, answers stick, expired keys go."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from server.core.idempotency import KeyRecord, Stored
from server.storage.database import create_engine
from server.storage.idempotency import IdempotencyKeys
from server.storage.migrations import apply_migrations

NOW, TTL = 1_000_000, 60_000
ANSWER = Stored(201, '{"type":"ack","action":"book"}')


@pytest.fixture
async def keys(empty_database_url: str) -> AsyncIterator[IdempotencyKeys]:
    engine = create_engine(empty_database_url)
    await apply_migrations(engine)
    yield IdempotencyKeys(engine)
    await engine.dispose()


async def test_a_key_is_claimed_once_answered_once_and_read_back(keys: IdempotencyKeys) -> None:
    claimed = await keys.claim("s_1", "k", "fp", NOW, NOW + TTL)
    assert claimed == ("s_1", "k", NOW)
    assert await keys.claim("s_1", "k", "fp", NOW + 1, NOW + 1 + TTL) is None
    assert await keys.find("s_1", "k") == KeyRecord("fp", None, NOW + TTL)
    await keys.finish(claimed, ANSWER)
    assert await keys.find("s_1", "k") == KeyRecord("fp", ANSWER, NOW + TTL)
    await keys.release(claimed)  # an answered key is never released
    await keys.finish(claimed, Stored(500, "later"))  # nor answered twice
    assert await keys.find("s_1", "k") == KeyRecord("fp", ANSWER, NOW + TTL)


async def test_scopes_keep_the_same_key_apart(keys: IdempotencyKeys) -> None:
    assert await keys.claim("s_1", "k", "fp", NOW, NOW + TTL) is not None
    assert await keys.claim("s_2", "k", "fp", NOW, NOW + TTL) is not None
    assert await keys.claim("admin", "k", "other", NOW, NOW + TTL) is not None
    assert await keys.find("s_3", "k") is None


async def test_of_many_concurrent_claims_exactly_one_wins(keys: IdempotencyKeys) -> None:
    claims = await asyncio.gather(*(keys.claim("s_1", "k", f"fp{n}", NOW, NOW + TTL) for n in range(20)))
    assert sum(claim is not None for claim in claims) == 1


async def test_a_released_key_is_free_again(keys: IdempotencyKeys) -> None:
    claimed = await keys.claim("s_1", "k", "fp", NOW, NOW + TTL)
    assert claimed is not None
    await keys.release(claimed)
    assert await keys.find("s_1", "k") is None
    assert await keys.claim("s_1", "k", "other", NOW + 1, NOW + 1 + TTL) is not None


async def test_an_expired_key_is_taken_over_by_a_claim_and_pruned_by_upkeep(keys: IdempotencyKeys) -> None:
    first = await keys.claim("s_1", "k", "fp", NOW, NOW + TTL)
    assert first is not None
    await keys.finish(first, ANSWER)
    assert await keys.claim("s_1", "k", "new", NOW + TTL - 1, NOW + 2 * TTL) is None  # not yet
    second = await keys.claim("s_1", "k", "new", NOW + TTL, NOW + 2 * TTL)
    assert second == ("s_1", "k", NOW + TTL)
    assert await keys.find("s_1", "k") == KeyRecord("new", None, NOW + 2 * TTL)
    await keys.finish(first, Stored(200, "stale"))  # the first claim no longer owns the row
    assert await keys.find("s_1", "k") == KeyRecord("new", None, NOW + 2 * TTL)

    assert await keys.claim("s_1", "other", "fp", NOW, NOW + TTL) is not None
    assert await keys.prune(NOW + TTL) == 1
    assert await keys.find("s_1", "other") is None
    assert await keys.find("s_1", "k") is not None
