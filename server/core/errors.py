"""Typed rejections: the only way the core says no."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ErrorCode", "FieldError", "Rejection"]


class ErrorCode(StrEnum):
    """Error codes of the public protocol, identical on the socket and over HTTP."""

    INVALID_MESSAGE = "invalid_message"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNKNOWN_SHOWTIME = "unknown_showtime"
    UNKNOWN_LAYOUT = "unknown_layout"
    INVALID_LAYOUT = "invalid_layout"
    INVALID_VALUE = "invalid_value"
    SHOWTIME_EXISTS = "showtime_exists"
    HAS_BOOKINGS = "has_bookings"
    UNKNOWN_SEAT = "unknown_seat"
    UNKNOWN_TABLE = "unknown_table"
    TABLE_ONLY = "table_only"
    SEAT_BLOCKED = "seat_blocked"
    NOT_BLOCKED = "not_blocked"
    SALES_CLOSED = "sales_closed"
    SEAT_UNAVAILABLE = "seat_unavailable"
    NOT_LOCK_OWNER = "not_lock_owner"
    BOOKING_EXPIRED = "booking_expired"
    BOOKING_CANCELLED = "booking_cancelled"
    BOOKING_CONFIRMED = "booking_confirmed"
    TOO_MANY_SEATS = "too_many_seats"
    HOLD_LIMIT_REACHED = "hold_limit_reached"
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    MESSAGE_TOO_LARGE = "message_too_large"
    NOT_READY = "not_ready"
    INTERNAL_ERROR = "internal_error"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One thing wrong with a document, at its path ("sections[1].rows[3].seats[7]", "prices.gold")."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused request. It carries everything a client needs and changes nothing."""

    code: ErrorCode
    message: str
    # The seats that caused the refusal, for seat_unavailable, not_lock_owner and unknown_seat.
    seats: tuple[str, ...] = ()
    # For rate_limited: when trying again will succeed.
    retry_after_ms: int | None = None
    # For invalid_layout and invalid_value: everything found wrong, each at its path.
    errors: tuple[FieldError, ...] = ()
