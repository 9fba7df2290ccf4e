"""Webhook signatures: Stripe's scheme, exactly; verification refuses anything altered, late or malformed."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from server.core.signatures import TOLERANCE_SECONDS, sign, verify

SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"seat.blocked"}'
NOW = 1_800_000_000


def test_the_header_is_stripes_t_and_v1_over_time_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, NOW) == f"t=1800000000,v1={expected}"


def test_a_signature_verifies_within_the_tolerance_either_side() -> None:
    header = sign(SECRET, BODY, NOW)
    for now in (NOW, NOW + TOLERANCE_SECONDS, NOW - TOLERANCE_SECONDS):
        assert verify(SECRET, BODY, header, now)
    assert verify(SECRET, BODY, header, NOW + 1000, tolerance=1000)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("whsec_other", BODY, NOW),  # another secret
        (SECRET, BODY.replace(b"blocked", b"unblocked"), NOW),  # an altered body
        (SECRET, BODY + b" ", NOW),  # a byte more
        (SECRET, BODY, NOW + TOLERANCE_SECONDS + 1),  # replayed too late
        (SECRET, BODY, NOW - TOLERANCE_SECONDS - 1),  # from too far in the future
    ],
)
def test_anything_altered_or_late_does_not_verify(secret: str, body: bytes, now: int) -> None:
    assert not verify(secret, body, sign(SECRET, BODY, NOW), now)


def test_a_forged_timestamp_breaks_the_signature() -> None:
    signature = sign(SECRET, BODY, NOW).partition(",")[2]
    assert not verify(SECRET, BODY, f"t={NOW + 60},{signature}", NOW + 60)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"t={NOW}",
        "v1=abc",
        f"t=abc,v1={'0' * 64}",
        "t=\uff11\uff18,v1=" + f"{'0' * 64}",
        f"t={NOW},v0=abc",
    ],
)
def test_a_malformed_header_does_not_verify(header: str) -> None:
    assert not verify(SECRET, BODY, header, NOW)


def test_any_of_several_v1_signatures_may_match_as_in_stripes_scheme() -> None:
    """A receiver rotating secrets, or a sender signing with two, lists several v1 entries."""
    good = sign(SECRET, BODY, NOW).partition(",")[2]
    assert verify(SECRET, BODY, f"t={NOW}, v1={'0' * 64}, {good}, v0=ignored", NOW)
