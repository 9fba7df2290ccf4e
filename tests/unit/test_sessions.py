"""Sessions: admission of new ones per address by the monotonic clock, tokens that expire by the wall clock,
and the signing key (from SECRET_KEY, or made once beside a SQLite database; never empty or short)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.core.errors import ErrorCode
from server.sessions import Sessions, load_secret
from server.settings import SessionSettings, Settings
from tests.fakes import ManualClock


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def secret_of(settings: Settings) -> tuple[SessionSettings, str]:
    return settings.sessions, settings.database.database_url


def test_a_key_is_made_once_beside_the_database_and_kept(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'seats.db'}"
    first = load_secret(*secret_of(settings(database_url=database)))
    assert len(first) >= 32
    assert load_secret(*secret_of(settings(database_url=database))) == first
    assert (tmp_path / "seats.db.secret").stat().st_mode & 0o777 == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["seats.db.secret"]  # no draft left behind


def test_an_empty_key_file_is_refused_not_used(tmp_path: Path) -> None:
    (tmp_path / "seats.db.secret").write_text("")
    with pytest.raises(SystemExit, match="no usable key"):
        load_secret(*secret_of(settings(database_url=f"sqlite:///{tmp_path / 'seats.db'}")))


def test_a_short_secret_key_is_refused() -> None:
    with pytest.raises(SystemExit, match="at least 16"):
        load_secret(*secret_of(settings(secret_key="short")))


def test_new_sessions_are_admitted_by_the_monotonic_clock_whichever_way_the_wall_clock_steps() -> None:
    clock = ManualClock()
    sessions = Sessions(b"a-secret-of-sixteen-or-more", SessionSettings(new_sessions_per_minute_per_ip=1), clock)
    assert sessions.admit(None, "10.0.0.1") is None
    clock.step_wall(-600_000)  # ten minutes back: no bucket may count a negative time
    refused = sessions.admit(None, "10.0.0.1")
    assert refused is not None
    assert (refused.code, refused.retry_after_ms) == (ErrorCode.RATE_LIMITED, 60_000)
    clock.step_wall(+3_600_000)  # an hour forward: not a refill either
    assert sessions.admit(None, "10.0.0.1") is not None
    clock.advance(60_000)
    assert sessions.admit(None, "10.0.0.1") is None
    assert sessions.admit(None, "10.0.0.2") is None  # each address has its own budget


def test_a_token_expires_by_the_wall_clock_and_resuming_is_always_admitted() -> None:
    clock = ManualClock()
    sessions = Sessions(b"a-secret-of-sixteen-or-more", SessionSettings(session_ttl_seconds=60), clock)
    session, resumed = sessions.start()
    assert resumed is False
    assert sessions.verify(session.token) == session.id
    assert sessions.admit(session.token, "10.0.0.1") is None
    clock.step_wall(60_000)
    assert sessions.verify(session.token) is None
    again, resumed = sessions.start(session.token)
    assert (again.id == session.id, resumed) == (False, False)  # an expired token starts a new session
