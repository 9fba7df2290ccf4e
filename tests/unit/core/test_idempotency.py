"""Idempotency keys, the pure part: what counts as the same request, what a claimed key means, how long to wait."""

from __future__ import annotations

import pytest

from server.core.errors import ErrorCode
from server.core.idempotency import KeyRecord, Stored, Verdict, backoff, fingerprint, keeps, verdict

BODY = b'{"showtimeId":"st","seatIds":["A1","A2"],"customer":{"name":"Ada","email":"ada@example.com"}}'


@pytest.mark.parametrize(
    "same",
    [
        BODY,
        b'{"seatIds":["A1","A2"],"customer":{"email":"ada@example.com","name":"Ada"},"showtimeId":"st"}',
        b'{ "showtimeId" : "st",\n "seatIds" : [ "A1", "A2" ], "customer": {"name": "Ada", "email": "ada@example.com"} }',
        b'{"showtimeId":"\\u0073t","seatIds":["A1","A2"],"customer":{"name":"Ada","email":"ada@example.com"}}',
    ],
    ids=["itself", "keys reordered", "spaced", "escaped"],
)
def test_the_same_json_spelled_otherwise_is_the_same_request(same: bytes) -> None:
    assert fingerprint("POST", "/api/bookings", same) == fingerprint("POST", "/api/bookings", BODY)


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("POST", "/api/bookings", BODY.replace(b"A2", b"A3")),  # another seat
        ("POST", "/api/bookings", BODY.replace(b'"A1","A2"', b'"A2","A1"')),  # order of a list counts
        ("DELETE", "/api/bookings", BODY),
        ("POST", "/api/seat-locks", BODY),
        ("WS", "book", BODY),  # the socket's book is not the REST one
        ("POST", "/api/bookings", BODY + b" x"),  # not JSON any more
    ],
)
def test_another_method_target_or_body_is_another_request(method: str, target: str, body: bytes) -> None:
    assert fingerprint(method, target, body) != fingerprint("POST", "/api/bookings", BODY)


def test_the_parts_cannot_be_shifted_into_each_other() -> None:
    assert fingerprint("POST", "/a", b"b") != fingerprint("POST", "/ab", b"")
    assert fingerprint("POS", "T/a", b"1") != fingerprint("POST", "/a", b"1")


@pytest.mark.parametrize("body", [b"", b"{nope", b"\xff\xfe", b"[" * 100_000, b"NaN"])
def test_any_body_has_a_fingerprint_and_it_is_stable(body: bytes) -> None:
    assert fingerprint("POST", "/x", body) == fingerprint("POST", "/x", body)
    assert len(fingerprint("POST", "/x", body)) == 64


ANSWER = Stored(201, '{"type":"ack"}')


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        (KeyRecord("f", ANSWER, expires_at=2000), Verdict.REPLAY),
        (KeyRecord("f", None, expires_at=2000), Verdict.IN_PROGRESS),
        (KeyRecord("g", ANSWER, expires_at=2000), Verdict.REUSED),
        (KeyRecord("g", None, expires_at=2000), Verdict.REUSED),  # refused at once, not after the wait
        (KeyRecord("f", ANSWER, expires_at=1000), Verdict.LAPSED),
        (KeyRecord("g", None, expires_at=999), Verdict.LAPSED),
    ],
)
def test_the_verdict_on_a_key_already_claimed(found: KeyRecord, expected: Verdict) -> None:
    assert verdict(found, "f", now=1000) is expected


def test_answers_are_kept_unless_the_refusal_was_for_the_servers_state() -> None:
    assert keeps(None)
    for code in (ErrorCode.SEAT_UNAVAILABLE, ErrorCode.NOT_LOCK_OWNER, ErrorCode.UNKNOWN_SHOWTIME):
        assert keeps(code), code
    for code in (ErrorCode.RATE_LIMITED, ErrorCode.NOT_READY, ErrorCode.INTERNAL_ERROR):
        assert not keeps(code), code


def test_the_backoff_doubles_up_to_its_most_and_adds_up_to_the_total() -> None:
    pauses = backoff(10.0)
    assert pauses[:4] == (0.01, 0.02, 0.04, 0.08)
    assert max(pauses) == 0.5
    assert sum(pauses) == pytest.approx(10.0)
    assert backoff(0.025) == pytest.approx((0.01, 0.015))
    assert backoff(0) == ()
