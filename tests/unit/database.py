"""A real SQLite database, migrated, with one showtime: what the service-level unit tests run on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.storage.database import create_engine
from server.storage.migrations import apply_migrations
from server.storage.seed import create_showtime

__all__ = ["SHOWTIME", "engine"]

SHOWTIME = "st_unit"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'seats.db'}")
    await apply_migrations(engine)
    await create_showtime(engine, rows=4, seats_per_row=5, title="Unit", starts_at=0, showtime_id=SHOWTIME)
    yield engine
    await engine.dispose()
