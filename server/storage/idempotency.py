"""Idempotency keys in the database (``idempotency_key``): claimed once, answered once, pruned when expired.

The row's primary key (scope, key) is what makes a key's request run once across every instance: a claim is
an INSERT that does nothing when the row exists, and only the one request whose INSERT wrote the row runs.
A row whose ``status_code`` is null is a claim whose request is still being answered (or whose server died
answering it: see ``server.idempotency``).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.idempotency import KeyRecord, Stored
from server.storage.database import WRITE
from server.storage.tables import idempotency_key

__all__ = ["Claim", "IdempotencyKeys"]

Claim = tuple[str, str, int]  # scope, key, and created_at: which row a request wrote


class IdempotencyKeys:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**WRITE)  # SQLite: take the write lock up front
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def claim(self, scope: str, key: str, fingerprint: str, now: int, expires_at: int) -> Claim | None:
        """Take the key for a request: its claim if the key was free (never used, or expired), else None."""
        row = {"scope": scope, "key": key, "fingerprint": fingerprint, "created_at": now, "expires_at": expires_at}
        # An expired row is taken over by the same statement, so two requests never both find the key free.
        statement = (
            self._insert(idempotency_key)
            .values(row)
            .on_conflict_do_update(
                index_elements=[idempotency_key.c.scope, idempotency_key.c.key],
                set_={**row, "status_code": None, "response": None},
                where=idempotency_key.c.expires_at <= now,
            )
        )
        async with self._writer.begin() as conn:
            result = await conn.execute(statement)
        return (scope, key, now) if result.rowcount else None

    async def find(self, scope: str, key: str) -> KeyRecord | None:
        query = select(idempotency_key).where(idempotency_key.c.scope == scope, idempotency_key.c.key == key)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        answer = None if row.status_code is None else Stored(row.status_code, row.response or "")
        return KeyRecord(row.fingerprint, answer, row.expires_at)

    async def finish(self, claimed: Claim, answer: Stored) -> None:
        """Keep the answer of the request that claimed the key; later requests with the key get it."""
        statement = (
            update(idempotency_key)
            .where(_unanswered(claimed))
            .values(status_code=answer.status_code, response=answer.body)
        )
        async with self._writer.begin() as conn:
            await conn.execute(statement)

    async def release(self, claimed: Claim) -> None:
        """Free a key whose request was not judged (a bad body, a fault): a retry with it runs as if new."""
        async with self._writer.begin() as conn:
            await conn.execute(delete(idempotency_key).where(_unanswered(claimed)))

    async def prune(self, now: int) -> int:
        """Forget expired keys; return how many."""
        async with self._writer.begin() as conn:
            result = await conn.execute(delete(idempotency_key).where(idempotency_key.c.expires_at <= now))
        return int(result.rowcount)


def _unanswered(claimed: Claim) -> ColumnElement[bool]:
    """This request's own claim, still unanswered: not a later one that took the key over after it expired."""
    scope, key, created_at = claimed
    return and_(
        idempotency_key.c.scope == scope,
        idempotency_key.c.key == key,
        idempotency_key.c.created_at == created_at,
        idempotency_key.c.status_code.is_(None),
    )
