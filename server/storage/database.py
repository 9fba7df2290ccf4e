"""Engines for the URLs people already use: ``sqlite:///x.db``, Prisma's ``file:./x.db``, ``postgresql://``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["WRITE", "create_engine", "is_sqlite", "sqlalchemy_url", "sqlite_path", "take_over_sqlite_transactions"]

# Execution option marking a transaction that reads then writes: on SQLite it begins with
# BEGIN IMMEDIATE, taking the write lock up front instead of failing to upgrade a read lock later.
WRITE = {"seat_write": True}


def sqlalchemy_url(url: str) -> str:
    """Translate a user-facing database URL into the async SQLAlchemy URL that serves it."""
    if url.startswith("file:"):
        return "sqlite+aiosqlite:///" + url.removeprefix("file:").removeprefix("//")
    scheme, _, rest = url.partition("://")
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        return "sqlite+aiosqlite://" + rest
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        return _asyncpg_url(rest)
    raise ValueError(f"unsupported DATABASE_URL scheme {scheme!r}: use sqlite:///path, file:path or postgresql://")


def _asyncpg_url(rest: str) -> str:
    parts = urlsplit("postgresql+asyncpg://" + rest)
    # Prisma's ?schema= means nothing to asyncpg; libpq's sslmode is spelled ssl there.
    query = [("ssl" if key == "sslmode" else key, value) for key, value in parse_qsl(parts.query) if key != "schema"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_path(url: str) -> str | None:
    """The file behind a SQLite URL, or None for another database or an in-memory one."""
    translated = sqlalchemy_url(url)
    if not translated.startswith("sqlite"):
        return None
    path = translated.partition(":///")[2].partition("?")[0]
    return path if path and path != ":memory:" else None


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    translated = sqlalchemy_url(url)
    if not translated.startswith("sqlite"):
        return create_async_engine(translated, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    engine = create_async_engine(translated, pool_size=pool_size, max_overflow=0)
    take_over_sqlite_transactions(engine.sync_engine)
    return engine


def take_over_sqlite_transactions(engine: Engine, *pragmas: str) -> None:
    """Let SQLAlchemy emit BEGIN itself, as SQLAlchemy's SQLite docs recommend, with the server's pragmas, then
    ``pragmas`` (which may set one of them otherwise)."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000", "foreign_keys=ON", *pragmas):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get("seat_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
