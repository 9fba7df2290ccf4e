"""DATABASE_URL accepts the forms people already use."""

from __future__ import annotations

import pytest

from server.storage.database import sqlalchemy_url, sqlite_path


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///./seats.db", "sqlite+aiosqlite:///./seats.db"),
        ("sqlite:////var/lib/seats.db", "sqlite+aiosqlite:////var/lib/seats.db"),
        ("file:./dev.db", "sqlite+aiosqlite:///./dev.db"),
        ("file:/srv/dev.db", "sqlite+aiosqlite:////srv/dev.db"),
        ("postgresql://user@host:5432/db", "postgresql+asyncpg://user@host:5432/db"),
        ("postgres://user:pw@host/db", "postgresql+asyncpg://user:pw@host/db"),
        ("postgresql://u@h/db?schema=public", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db?sslmode=require", "postgresql+asyncpg://u@h/db?ssl=require"),
    ],
)
def test_translation(given: str, expected: str) -> None:
    assert sqlalchemy_url(given) == expected


def test_other_schemes_are_refused_with_the_forms_that_work() -> None:
    with pytest.raises(ValueError, match="sqlite:///path"):
        sqlalchemy_url("mysql://root@localhost/db")


def test_sqlite_path_finds_the_file_only_for_sqlite() -> None:
    assert sqlite_path("file:./dev.db") == "./dev.db"
    assert sqlite_path("sqlite:///./seats.db") == "./seats.db"
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql://u@h/db") is None
