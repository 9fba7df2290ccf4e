"""Every error code has one HTTP status, and every refusal is counted once, on the socket or over HTTP."""

from __future__ import annotations

from http import HTTPStatus

from server.core.errors import ErrorCode, Rejection
from server.metrics import Metrics
from server.rejections import STATUS_OF, Refusals


def counted(metrics: Metrics, code: ErrorCode) -> float:
    value = metrics.registry.get_sample_value("seat_errors_total", {"code": code.value})
    return value or 0.0


def test_every_code_has_a_client_or_server_error_status() -> None:
    assert set(STATUS_OF) == set(ErrorCode)
    assert all(400 <= status < 600 for status in STATUS_OF.values())


def test_a_socket_error_carries_the_rejection_and_is_counted() -> None:
    metrics = Metrics()
    message = Refusals(metrics).error_message(Rejection(ErrorCode.SEAT_UNAVAILABLE, "not available: A1", ("A1",)))
    assert (message.code, message.conflicting_seats, message.request_id) == (ErrorCode.SEAT_UNAVAILABLE, ["A1"], None)
    assert "requestId" not in message.to_json()  # only the adapter knows which request it answers
    assert counted(metrics, ErrorCode.SEAT_UNAVAILABLE) == 1


def test_a_problem_takes_the_codes_status_unless_the_transport_chose_one() -> None:
    metrics = Metrics()
    refusals = Refusals(metrics)
    limited = refusals.problem(Rejection(ErrorCode.RATE_LIMITED, "slow down", retry_after_ms=1500))
    assert (limited.status, limited.title, limited.retry_after_ms) == (429, "Too Many Requests", 1500)
    chosen = refusals.problem(Rejection(ErrorCode.INVALID_MESSAGE, "bad"), HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
    assert (chosen.status, chosen.code) == (431, ErrorCode.INVALID_MESSAGE)
    assert counted(metrics, ErrorCode.RATE_LIMITED) == counted(metrics, ErrorCode.INVALID_MESSAGE) == 1
