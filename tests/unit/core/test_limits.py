"""Token buckets and the origin policy, driven with an explicit clock."""

from __future__ import annotations

import pytest

from server.core.limits import RateLimiter, TokenBucket, origin_allowed


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    bucket = TokenBucket.full(rate=2, burst=3, now=0)
    assert [bucket.take(0) for _ in range(3)] == [0, 0, 0]
    assert bucket.take(0) == 500  # one token comes back every 500 ms
    assert bucket.take(499) == 1
    assert bucket.take(500) == 0
    assert bucket.take(500) == 500


def test_a_bucket_never_saves_more_than_its_burst() -> None:
    bucket = TokenBucket.full(rate=10, burst=2, now=0)
    assert [bucket.take(60_000) for _ in range(3)] == [0, 0, 100]


def test_the_limiter_keeps_keys_apart_and_forgets_idle_ones() -> None:
    limiter = RateLimiter(rate=1, burst=1, sweep_every=2)
    assert limiter.take("a", 0) == 0
    assert limiter.take("a", 0) == 1000
    assert limiter.take("b", 0) == 0
    assert limiter.take("c", 5_000) == 0  # sweeps: a and b are full again and forgotten
    assert limiter.take("a", 5_000) == 0
    assert limiter.take("a", 5_000) == 1000


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "expected"),
    [
        (None, "127.0.0.1:8080", frozenset(), True),  # not a browser
        ("http://127.0.0.1:8000", "127.0.0.1:8080", frozenset(), True),  # the demo page on HTTP_PORT
        ("http://localhost:8000", "localhost:8080", frozenset(), True),
        ("https://tickets.example.com", "tickets.example.com", frozenset(), True),  # same origin behind a proxy
        ("http://127.0.0.1:9999", "127.0.0.1:8080", frozenset(), False),
        ("https://evil.example", "127.0.0.1:8080", frozenset(), False),
        ("null", "127.0.0.1:8080", frozenset(), False),
        ("http://127.0.0.1:8000", None, frozenset(), False),
        ("https://shop.example", "ws.example", frozenset({"https://shop.example"}), True),
        ("https://shop.example/", "ws.example", frozenset({"https://shop.example"}), True),
        ("http://127.0.0.1:8000", "127.0.0.1:8080", frozenset({"https://shop.example"}), False),
        ("https://anything.example", "ws.example", frozenset({"*"}), True),
        ("http://127.0.0.1:abc", "127.0.0.1:8080", frozenset(), False),  # malformed headers: refused, not raised
        ("http://127.0.0.1:99999", "127.0.0.1:8080", frozenset(), False),
        ("http://[", "127.0.0.1:8080", frozenset(), False),
        ("http://127.0.0.1:8000", "[", frozenset(), False),
    ],
)
def test_origin_policy(origin: str | None, host: str | None, allowed: frozenset[str], expected: bool) -> None:
    assert origin_allowed(origin, host, 8000, allowed) is expected
