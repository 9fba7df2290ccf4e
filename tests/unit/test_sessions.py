"""The signing key: from SECRET_KEY, or made once beside a SQLite database; never empty or short."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.sessions import load_secret
from server.settings import SessionSettings, Settings


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
