"""Upgrading a database from before the seat history migration: the changes logged before it get the origin their
status implies, the operator or their session as the actor, and an unknown channel; new changes log their own."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from server.core.checkout import plan_sweep
from server.storage.database import create_engine
from server.storage.migrations import apply_migrations
from server.storage.store import SeatStore
from tests.e2e.test_venues_upgrade import SEAT_HISTORY, empty_database, history_before

__all__ = ["empty_database"]

OLD_DATA = [
    "INSERT INTO venue (id, name) VALUES ('v1', 'Old Cinema')",
    "INSERT INTO auditorium (id, venue_id, name) VALUES ('a1', 'v1', 'Screen 1')",
    "INSERT INTO layout (id, auditorium_id, version, created_at) VALUES ('l1', 'a1', 1, 0)",
    "INSERT INTO layout_category (layout_id, id, name, position) VALUES ('l1', 'std', 'Standard', 0)",
    "INSERT INTO layout_section (layout_id, id, name, position) VALUES ('l1', 'main', 'Main', 0)",
    *(
        "INSERT INTO layout_seat (layout_id, code, section_id, row_label, label, x, y, category_id, position) "
        f"VALUES ('l1', 'A{number}', 'main', 'A', '{number}', {number}, 0, 'std', {number})"
        for number in (1, 2, 3, 4)
    ),
    "INSERT INTO showtime (id, layout_id, title, starts_at, currency, seq) VALUES ('old-show', 'l1', 'Old', 0, 'EUR', 6)",
    "INSERT INTO seat_hold (showtime_id, seat_code, session_id, expires_at, created_at) "
    "VALUES ('old-show', 'A1', 's_holder', 10, 1)",
    *(
        "INSERT INTO seat_event (showtime_id, seq, seat_code, status, session_id, created_at) "
        f"VALUES ('old-show', {seq}, '{seat}', '{status}', '{session}', {seq})"
        for seq, seat, status, session in (
            (1, "A1", "locked", "s_holder"),
            (2, "A2", "locked", "s_buyer"),
            (3, "A2", "booked", "s_buyer"),
            (4, "A3", "blocked", ""),
            (5, "A3", "unlocked", ""),
            (6, "A4", "unlocked", "s_gone"),
        )
    ),
]


LOGGED = "SELECT seq, origin, actor, channel FROM seat_event"


async def test_changes_logged_before_the_migration_get_their_origin(empty_database: str, tmp_path: Path) -> None:
    engine = create_engine(empty_database)
    folder = history_before(tmp_path, SEAT_HISTORY)
    folder /= "migrations" if empty_database.startswith("sqlite") else "postgresql/migrations"
    assert SEAT_HISTORY not in await apply_migrations(engine, folder)
    async with engine.begin() as conn:
        for statement in OLD_DATA:
            await conn.execute(text(statement))
    assert await apply_migrations(engine) == [SEAT_HISTORY]

    async with engine.connect() as conn:
        upgraded = [tuple(row) for row in await conn.execute(text(f"{LOGGED} ORDER BY seq"))]
    assert upgraded == [
        (1, "lock", "s_holder", "unknown"),
        (2, "lock", "s_buyer", "unknown"),
        (3, "book", "s_buyer", "unknown"),
        (4, "block", "admin", "unknown"),
        (5, "unblock", "admin", "unknown"),
        (6, "unlock", "s_gone", "unknown"),
    ]
    store = SeatStore(engine)
    replay = await store.replay("old-show", after=0, limit=10)
    assert replay is not None
    assert [event.change.origin.value for event in replay[1]][:2] == ["lock", "lock"]
    swept = await store.expire("old-show", 100, lambda claims, bookings: plan_sweep(claims, bookings, 100))
    assert [event.seq for event in swept.events] == [7]
    async with engine.connect() as conn:
        logged = (await conn.execute(text(f"{LOGGED} WHERE seq = 7"))).one()
    assert tuple(logged) == (7, "hold_expired", "system", "system")
    await engine.dispose()
