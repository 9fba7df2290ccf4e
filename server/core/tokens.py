"""Session tokens: ``<session id>.<expiry ms>.<signature>``, signed with HMAC-SHA256.

A token proves which session its bearer is, until it expires. The server keeps no token table, so any
instance that shares ``SECRET_KEY`` can check any token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["issue_token", "new_session_id", "same_secret", "verify_token"]


def new_session_id() -> str:
    return "s_" + secrets.token_hex(12)


def issue_token(session_id: str, expires_at: int, secret: bytes) -> str:
    payload = f"{session_id}.{expires_at}"
    return f"{payload}.{_sign(payload, secret)}"


def verify_token(token: str, now: int, secret: bytes) -> str | None:
    """Return the session id the token names, or None if it is malformed, forged or expired."""
    session_id, _, rest = token.partition(".")
    expiry, _, signature = rest.partition(".")
    if not (session_id and expiry.isascii() and expiry.isdigit() and signature):
        return None
    # Compared as bytes: compare_digest refuses non-ASCII str, and a token is untrusted input.
    if not hmac.compare_digest(signature.encode(), _sign(f"{session_id}.{expiry}", secret).encode()):
        return None
    return session_id if int(expiry) > now else None


def _sign(payload: str, secret: bytes) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def same_secret(given: str, expected: str) -> bool:
    """Whether an untrusted ``given`` is the configured ``expected`` secret; never when none is configured.

    compare_digest takes as long whatever the first wrong byte, so the secret cannot be guessed byte by byte.
    """
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
