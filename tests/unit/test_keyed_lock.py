"""One lock per key: holders of one key wait for each other, other keys do not, and idle keys are forgotten."""

from __future__ import annotations

import asyncio

from server.keyed_lock import KeyedLock


async def test_holders_of_one_key_take_turns_in_arrival_order() -> None:
    locks = KeyedLock()
    order: list[str] = []

    async def hold(name: str) -> None:
        async with locks.hold("st"):
            order.append(f"{name} in")
            await asyncio.sleep(0)
            order.append(f"{name} out")

    await asyncio.gather(hold("a"), hold("b"), hold("c"))
    assert order == ["a in", "a out", "b in", "b out", "c in", "c out"]
    assert len(locks) == 0


async def test_other_keys_do_not_wait() -> None:
    locks = KeyedLock()
    async with locks.hold("one"):
        async with asyncio.timeout(1):  # would deadlock if keys shared a lock
            async with locks.hold("two"):
                assert len(locks) == 2
    assert len(locks) == 0


async def test_a_cancelled_waiter_is_forgotten_too() -> None:
    locks = KeyedLock()
    async with locks.hold("st"):
        waiter = asyncio.create_task(_wait(locks))
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
    assert len(locks) == 0


async def _wait(locks: KeyedLock) -> None:
    async with locks.hold("st"):
        pass
