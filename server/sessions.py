"""Buyer sessions: issued and resumed with signed tokens, so no instance needs a session table."""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from server.core.clock import Clock
from server.core.errors import ErrorCode, Rejection
from server.core.limits import RateLimiter
from server.core.tokens import issue_token, new_session_id, verify_token
from server.settings import SessionSettings
from server.storage.database import sqlite_path

__all__ = ["Session", "Sessions", "load_secret"]


MIN_SECRET_LENGTH = 16  # characters of SECRET_KEY: anything shorter can be guessed


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    token: str
    expires_at: int


class Sessions:
    def __init__(self, secret: bytes, settings: SessionSettings, clock: Clock) -> None:
        self._secret = secret
        self._ttl_ms = settings.session_ttl_seconds * 1000
        self._clock = clock
        # New sessions per client address: holds are capped per session, so sessions must not be free.
        per_minute = settings.new_sessions_per_minute_per_ip
        self._new = RateLimiter(per_minute / 60, per_minute)

    def admit(self, resume_token: str | None, address: str) -> Rejection | None:
        """Refuse a client at ``address`` that may not start a session now; socket and REST share the budget.

        Resuming a valid session is always allowed; a new one takes from the address's budget.
        """
        if resume_token and self.verify(resume_token):
            return None
        if wait := self._new.take(address, self._clock.monotonic()):
            return Rejection(
                ErrorCode.RATE_LIMITED,
                f"too many new sessions from this address; retry in {wait} ms",
                retry_after_ms=wait,
            )
        return None

    def start(self, resume_token: str | None = None) -> tuple[Session, bool]:
        """A session for a new connection: the token's own when it is valid, else a fresh one.

        The second value says whether the token was resumed. Either way the session gets a fresh token.
        """
        resumed = self.verify(resume_token) if resume_token else None
        session_id = resumed or new_session_id()
        expires_at = self._clock.now() + self._ttl_ms
        return Session(session_id, issue_token(session_id, expires_at, self._secret), expires_at), bool(resumed)

    def verify(self, token: str) -> str | None:
        return verify_token(token, self._clock.now(), self._secret)


def load_secret(settings: SessionSettings, database_url: str) -> bytes:
    """SECRET_KEY, or on SQLite a key generated once and kept beside the database file."""
    if settings.secret_key:
        if len(settings.secret_key) < MIN_SECRET_LENGTH:
            raise SystemExit(f"SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
        return settings.secret_key.encode()
    database_file = sqlite_path(database_url)
    if database_file is None:
        raise SystemExit(
            "SECRET_KEY must be set for this DATABASE_URL: every instance must share it to accept each other's tokens"
        )
    key_file = Path(database_file + ".secret")
    if not key_file.exists():
        # Written whole under another name, then linked into place: a crash or a second process starting
        # at the same moment can never leave an empty key behind, and the first key written wins.
        draft = key_file.with_name(f"{key_file.name}.{secrets.token_hex(4)}")
        draft.touch(mode=0o600)
        draft.write_text(secrets.token_urlsafe(32))
        with contextlib.suppress(FileExistsError):
            os.link(draft, key_file)
        draft.unlink()
    key = key_file.read_text().strip()
    if len(key) < MIN_SECRET_LENGTH:
        raise SystemExit(f"{key_file} holds no usable key: delete it to have a new one made")
    return key.encode()
