"""Abuse limits as plain arithmetic: token buckets keyed by connection or session, and the origin policy."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["RateLimiter", "TokenBucket", "origin_allowed"]


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up. Each request takes one."""

    rate: float
    burst: float
    tokens: float
    updated: int  # ms

    @classmethod
    def full(cls, rate: float, burst: float, now: int) -> TokenBucket:
        return cls(rate, burst, burst, now)

    def take(self, now: int) -> int:
        """Take a token: 0 if there was one, else how many milliseconds until there will be."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate / 1000)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        return max(1, round((1 - self.tokens) * 1000 / self.rate))

    def idle(self, now: int) -> bool:
        """Refilled completely: forgetting it changes nothing."""
        return self.tokens + (now - self.updated) * self.rate / 1000 >= self.burst


class RateLimiter:
    """One bucket per key, created full and forgotten once full again, so memory follows active keys."""

    def __init__(self, rate: float, burst: float, sweep_every: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self._sweep_every = sweep_every

    def take(self, key: str, now: int) -> int:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._sweep_every:
                self._buckets = {k: b for k, b in self._buckets.items() if not b.idle(now)}
            bucket = self._buckets[key] = TokenBucket.full(self.rate, self.burst, now)
        return bucket.take(now)


def origin_allowed(origin: str | None, host: str | None, http_port: int, allowed: frozenset[str]) -> bool:
    """May a browser page from ``origin`` use this server?

    No Origin header means no browser page (native apps, servers), which cross-site hijacking cannot
    involve. ``allowed`` lists origins, or holds ``*``; when empty, only the server's own pages may: the
    origin of the host the request was sent to (as a proxy forwards it), or that host on ``HTTP_PORT``.
    """
    if origin is None:
        return True
    if "*" in allowed:
        return True
    if allowed:
        return origin.rstrip("/") in allowed
    try:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or host is None:
            return False
        requested = urlsplit(f"//{host}")
        same_authority = parts.netloc.lower() == host.lower()
        demo_page = parts.hostname == requested.hostname and (parts.port or _default_port(parts.scheme)) == http_port
    except ValueError:  # a malformed header (a bad port, an unclosed bracket) names no origin we serve
        return False
    return same_authority or demo_page


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
