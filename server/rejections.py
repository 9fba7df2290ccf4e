"""Refusals on the wire: a core :class:`Rejection` becomes a socket ``error`` or an HTTP problem, counted once.

Both adapters refuse through here, so a code has one HTTP status, one body shape and one metric.
"""

from __future__ import annotations

from http import HTTPStatus

from server.core.errors import ErrorCode, Rejection
from server.messages import ErrorMessage, Problem
from server.metrics import Metrics

__all__ = ["STATUS_OF", "Refusals"]

STATUS_OF = {
    ErrorCode.INVALID_MESSAGE: HTTPStatus.BAD_REQUEST,
    ErrorCode.UNAUTHORIZED: HTTPStatus.UNAUTHORIZED,
    ErrorCode.FORBIDDEN: HTTPStatus.FORBIDDEN,
    ErrorCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    ErrorCode.METHOD_NOT_ALLOWED: HTTPStatus.METHOD_NOT_ALLOWED,
    ErrorCode.UNKNOWN_SHOWTIME: HTTPStatus.NOT_FOUND,
    ErrorCode.UNKNOWN_LAYOUT: HTTPStatus.NOT_FOUND,
    ErrorCode.INVALID_LAYOUT: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.INVALID_VALUE: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.SHOWTIME_EXISTS: HTTPStatus.CONFLICT,
    ErrorCode.HAS_BOOKINGS: HTTPStatus.CONFLICT,
    ErrorCode.UNKNOWN_SEAT: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.UNKNOWN_TABLE: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.TABLE_ONLY: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.SEAT_BLOCKED: HTTPStatus.CONFLICT,
    ErrorCode.NOT_BLOCKED: HTTPStatus.CONFLICT,
    ErrorCode.SALES_CLOSED: HTTPStatus.CONFLICT,
    ErrorCode.SEAT_UNAVAILABLE: HTTPStatus.CONFLICT,
    ErrorCode.NOT_LOCK_OWNER: HTTPStatus.FORBIDDEN,
    ErrorCode.BOOKING_EXPIRED: HTTPStatus.CONFLICT,
    ErrorCode.BOOKING_CANCELLED: HTTPStatus.CONFLICT,
    ErrorCode.BOOKING_CONFIRMED: HTTPStatus.CONFLICT,
    ErrorCode.TOO_MANY_SEATS: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.HOLD_LIMIT_REACHED: HTTPStatus.CONFLICT,
    ErrorCode.TOO_MANY_SUBSCRIPTIONS: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.RATE_LIMITED: HTTPStatus.TOO_MANY_REQUESTS,
    ErrorCode.TOO_MANY_CONNECTIONS: HTTPStatus.TOO_MANY_REQUESTS,
    ErrorCode.ORIGIN_NOT_ALLOWED: HTTPStatus.FORBIDDEN,
    ErrorCode.MESSAGE_TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.NOT_READY: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorCode.INTERNAL_ERROR: HTTPStatus.INTERNAL_SERVER_ERROR,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.IDEMPOTENCY_KEY_IN_USE: HTTPStatus.CONFLICT,
}


class Refusals:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def error_message(self, rejection: Rejection) -> ErrorMessage:
        """The socket's ``error`` reply; the adapter adds the requestId it answers."""
        self._metrics.errors.labels(rejection.code.value).inc()
        return ErrorMessage.of(rejection)

    def problem(self, rejection: Rejection, status: HTTPStatus | None = None) -> Problem:
        """The HTTP problem body; its ``status`` is the code's own unless the transport chose one."""
        self._metrics.errors.labels(rejection.code.value).inc()
        status = status or STATUS_OF[rejection.code]
        return Problem.of(rejection, title=status.phrase, status=status)
