"""Webhook signatures in the Stripe scheme, so a receiver's existing Stripe-style verifier works unchanged.

The header is ``Seat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>``.
The timestamp is signed together with the body: a captured delivery replayed later than the receiver's
tolerance no longer verifies, and altering either breaks the signature.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["HEADER", "TOLERANCE_SECONDS", "sign", "verify"]

HEADER = "Seat-Signature"
SCHEME = "v1"
TOLERANCE_SECONDS = 300  # Stripe's default: how far a signature's time may lie from the receiver's clock


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Seat-Signature`` value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    return f"t={timestamp},{SCHEME}={_digest(secret, body, timestamp)}"


def verify(secret: str, body: bytes, header: str, now: int, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` signs exactly ``body`` with ``secret``, at a time within ``tolerance`` seconds of
    ``now`` (Unix seconds). Any ``v1`` entry may match, as in Stripe's scheme; a malformed header is False."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = _digest(secret, body, timestamp)
    # compare_digest: the time taken says nothing about how much of a forged signature was right.
    return any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in signatures)
