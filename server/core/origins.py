"""Why a seat changed, and how it was asked: what each seat's history records beside its new status.

The rule that decides a change knows its origin (``plan_lock`` locks, ``plan_sweep`` lets a hold or an unpaid
booking go); the adapter that took the request knows its channel. Both end up in the change's row of the event log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["SWEEPER", "SYSTEM", "Channel", "Origin", "Source"]

SYSTEM = "system"  # who acts when nobody asked: the sweeper expiring holds and unpaid bookings


class Origin(StrEnum):
    """What made a seat change."""

    LOCK = "lock"
    UNLOCK = "unlock"
    EXTEND = "extend"  # a hold moved on: announced ``locked`` again (a re-lock through ``lock`` is not logged)
    HOLD_EXPIRED = "hold_expired"
    BOOK = "book"  # sold, confirmed at once
    PAYMENT_PENDING = "payment_pending"  # sold, awaiting payment (announced ``locked``)
    CONFIRM = "confirm"
    CANCEL = "cancel"
    PAYMENT_EXPIRED = "payment_expired"
    BLOCK = "block"
    UNBLOCK = "unblock"


class Channel(StrEnum):
    """How the change was asked for."""

    SOCKET = "socket"
    REST = "rest"
    SYSTEM = "system"  # nobody asked: the sweeper let a hold or an unpaid booking go
    UNKNOWN = "unknown"  # logged before channels were


@dataclass(frozen=True, slots=True)
class Source:
    """Who asked for a change (a session id, ``admin`` or ``system``) and through which channel."""

    actor: str
    channel: Channel


SWEEPER = Source(SYSTEM, Channel.SYSTEM)
