"""Idempotency keys, the pure part: what makes two requests the same, and what a key already used means.

A client sends a key with a request it may have to retry (a double click, a timeout, a webhook delivered
twice). The first request with the key is run and its answer kept; a later one with the same key and the same
request gets that answer again and changes nothing; one with the same key and another request is refused.
The adapters keep the answers in the database (``server.storage.idempotency``) and wait for a first request
still being answered (``server.idempotency``); this module decides.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import Enum

from server.core.errors import ErrorCode

__all__ = ["KeyRecord", "Stored", "Verdict", "backoff", "fingerprint", "keeps", "verdict"]

# Rejections that say nothing of the request itself but of the server's state or load: trying again may go
# otherwise, so their answers are not kept and the key is free again.
PASSING = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.NOT_READY, ErrorCode.INTERNAL_ERROR})


@dataclass(frozen=True, slots=True)
class Stored:
    """A finished request's answer, as it went out: an HTTP status, and the body (or the socket's frame)."""

    status_code: int
    body: str


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key as the database has it; ``answer`` is None while its first request is being answered."""

    fingerprint: str
    answer: Stored | None
    expires_at: int


class Verdict(Enum):
    REPLAY = "replay"  # the same request, answered: send its answer again
    REUSED = "reused"  # the key was used for another request: refuse (idempotency_key_reused)
    IN_PROGRESS = "in_progress"  # the same request, still being answered: wait for its answer
    LAPSED = "lapsed"  # the key expired: it is free, as if never used


def fingerprint(method: str, target: str, body: bytes) -> str:
    """What identifies a request: its method, its target (the path, or the socket message's type) and its body.

    A JSON body counts as canonical JSON (keys sorted, no spaces): the same object sent with its keys in
    another order or spaced otherwise is the same request. A body that is not JSON counts byte for byte.
    """
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError), or nested too deep
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), target.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no two splits give the same bytes
        digest.update(part)
    return digest.hexdigest()


def verdict(found: KeyRecord, fingerprint: str, now: int) -> Verdict:
    """What a request that found its key already claimed should do."""
    if found.expires_at <= now:
        return Verdict.LAPSED
    if found.fingerprint != fingerprint:
        return Verdict.REUSED
    return Verdict.IN_PROGRESS if found.answer is None else Verdict.REPLAY


def keeps(code: ErrorCode | None) -> bool:
    """Whether an answer is kept for the key: every success (None) and every refusal of the request itself.

    A refusal for the server's load or health (rate_limited, not_ready, internal_error) is not: the request
    was not judged, so a retry with the same key must be able to run.
    """
    return code not in PASSING


def backoff(total_seconds: float, first: float = 0.01, most: float = 0.5) -> tuple[float, ...]:
    """Pauses between looks at a key being answered elsewhere: doubling from ``first`` up to ``most`` each,
    adding up to ``total_seconds`` at most. Counted out beforehand, so the wait is bounded whatever the clock."""
    pauses: list[float] = []
    pause, left = first, total_seconds
    while left > 0:
        pauses.append(min(pause, left))
        left -= pauses[-1]
        pause = min(pause * 2, most)
    return tuple(pauses)
