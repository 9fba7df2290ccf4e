"""Checkout rules: confirm, cancel and expire a booking (its statuses and moves are in ``server.core.bookings``).

Like the seat rules, each takes the booking as read in the transaction that locked its showtime, the claims on
its seats and ``now``, and returns a :class:`Rejection` or a :class:`Plan`; the plan's transition says what
becomes of the booking, its ``changes`` what is announced. Whichever of two racing moves commits first wins:
the second is decided on the booking as the first left it. A booking's seats are announced under its buyer's
session whoever moves it: ``locked`` while pending, ``booked`` once confirmed, ``unlocked`` when let go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from server.core.bookings import BookingEvent, BookingStatus, Transition
from server.core.errors import ErrorCode, Rejection
from server.core.origins import SYSTEM, Origin
from server.core.records import BookingRecord, TransitionRecord
from server.core.seats import Claim, Plan, SeatChange, SeatState, SeatStatus, plan_expiry

__all__ = ["LATE", "SYSTEM", "advance", "finished", "plan_cancel", "plan_confirm", "plan_sweep", "unknown"]

LATE = "; the payment came too late and its seats are taken: refund it"  # why a late payment is refused


def plan_confirm(
    claims: Mapping[str, Claim], booking: BookingRecord | None, actor: str, reference: str, provider: str, now: int
) -> Rejection | Plan:
    """The shop was paid: a pending booking becomes confirmed.

    A cancelled or expired one is confirmed too when every seat is still free (taken again, lapsed holds on them
    released); when they are not, the payment is recorded as late and the booking stays as it is: the service
    answers with its status' code, and the shop hears ``booking.late_payment`` (it must refund). The same payment
    told again changes nothing: a confirmed booking is simply confirmed, a finished one refused as before.
    """
    if booking is None:
        return unknown()
    if booking.payment_reference == reference and booking.status is not BookingStatus.PENDING:
        return Plan(actor) if booking.status is BookingStatus.CONFIRMED else finished(booking)
    if booking.status is BookingStatus.CONFIRMED:
        return finished(booking, f"; it was paid with {booking.payment_reference}")

    def paid(status: BookingStatus, note: str = "", event: BookingEvent | None = None) -> Transition:
        detail = f"{provider} {reference}{note}"
        return _move(
            booking, status, actor, now, detail, event=event, payment_reference=reference, payment_provider=provider
        )

    if booking.status is BookingStatus.PENDING:
        return _plan(paid(BookingStatus.CONFIRMED), SeatStatus.BOOKED, Origin.CONFIRM)
    if any(not _free(claims.get(seat), now) for seat in booking.items):
        late = paid(booking.status, f" ({booking.status.value}){LATE}", BookingEvent.LATE_PAYMENT)
        return Plan(actor, transitions=(late,))
    retaken = replace(paid(BookingStatus.CONFIRMED, ": late, its seats still free"), take=True)
    lapsed = tuple(seat for seat in booking.items if seat in claims)
    return replace(_plan(retaken, SeatStatus.BOOKED, Origin.CONFIRM), release=lapsed)


def plan_cancel(
    claims: Mapping[str, Claim], booking: BookingRecord | None, actor: str, shop: bool, reason: str | None, now: int
) -> Rejection | Plan:
    """Cancel a booking and let its seats go at once: the buyer's own session its pending booking, the ``shop``
    any pending or confirmed one (a refund). Another session's booking is unknown to a buyer."""
    if booking is None or (not shop and booking.session_id != actor):
        return unknown()
    if booking.status is BookingStatus.PENDING or (shop and booking.status is BookingStatus.CONFIRMED):
        cancel = _move(booking, BookingStatus.CANCELLED, actor, now, reason, cancel_reason=reason)
        return _plan(replace(cancel, free=True), SeatStatus.UNLOCKED, Origin.CANCEL)
    if booking.status is BookingStatus.CONFIRMED:
        return finished(booking, "; only the shop cancels it now (a refund)")
    return finished(booking)


def plan_sweep(claims: Mapping[str, Claim], bookings: Iterable[BookingRecord], now: int) -> Plan:
    """Release the holds that lapsed by ``now`` (``claims``: holds) and expire every pending booking whose payment
    was due by then, letting its seats go. The sweeper acts for nobody."""
    holds = plan_expiry(claims, now)
    overdue = [
        replace(_move(booking, BookingStatus.EXPIRED, SYSTEM, now, f"not paid by {booking.payment_due_at}"), free=True)
        for booking in bookings
        if booking.status is BookingStatus.PENDING and booking.payment_due_at is not None
        if booking.payment_due_at <= now
    ]
    released = tuple(
        SeatChange(seat, SeatStatus.UNLOCKED, move.session_id, Origin.PAYMENT_EXPIRED)
        for move in overdue
        for seat in move.seats
    )
    return replace(holds, transitions=tuple(overdue), changes=holds.changes + released)


def advance(booking: BookingRecord, move: Transition) -> BookingRecord:
    """The booking once ``move`` is made: its status, payment, reason, the time it reached the status, its log."""
    logged = TransitionRecord(move.position, move.status, move.actor, move.at, move.detail)
    moved = replace(
        booking,
        status=move.status,
        payment_reference=move.payment_reference or booking.payment_reference,
        payment_provider=move.payment_provider or booking.payment_provider,
        cancel_reason=booking.cancel_reason if move.cancel_reason is None else move.cancel_reason,
        transitions=(*booking.transitions, logged),
    )
    if move.status is booking.status:  # a late payment: recorded, no status reached
        return moved
    if move.status is BookingStatus.CONFIRMED:
        return replace(moved, confirmed_at=move.at)
    if move.status is BookingStatus.CANCELLED:
        return replace(moved, cancelled_at=move.at)
    return replace(moved, expired_at=move.at)


def unknown() -> Rejection:
    """A booking that does not exist, or is another session's: the same answer, so ids cannot be probed."""
    return Rejection(ErrorCode.NOT_FOUND, "no such booking for this session")


FINISHED = {
    BookingStatus.CONFIRMED: ErrorCode.BOOKING_CONFIRMED,
    BookingStatus.CANCELLED: ErrorCode.BOOKING_CANCELLED,
    BookingStatus.EXPIRED: ErrorCode.BOOKING_EXPIRED,
}


def finished(booking: BookingRecord, why: str = "") -> Rejection:
    """The refusal of a move its status no longer allows, with the code of that status."""
    return Rejection(FINISHED[booking.status], f"booking {booking.id} is {booking.status.value}{why}")


def _move(
    booking: BookingRecord,
    status: BookingStatus,
    actor: str,
    now: int,
    detail: str | None,
    *,
    event: BookingEvent | None = None,
    payment_reference: str | None = None,
    payment_provider: str | None = None,
    cancel_reason: str | None = None,
) -> Transition:
    """``booking``'s next move, to ``status``; told to the shop as reaching that status unless ``event`` says."""
    return Transition(
        booking_id=booking.id,
        session_id=booking.session_id,
        seats=tuple(booking.items),
        status=status,
        event=event or BookingEvent(f"booking.{status.value}"),
        position=len(booking.transitions) + 1,
        actor=actor,
        at=now,
        detail=detail,
        payment_reference=payment_reference,
        payment_provider=payment_provider,
        cancel_reason=cancel_reason,
    )


def _plan(move: Transition, announced: SeatStatus, origin: Origin) -> Plan:
    changes = tuple(SeatChange(seat, announced, move.session_id, origin) for seat in move.seats)
    return Plan(move.actor, transitions=(move,), changes=changes)


def _free(claim: Claim | None, now: int) -> bool:
    """Nobody claims the seat, or only a hold that lapsed (the sweeper has not come by yet)."""
    return claim is None or (claim.state is SeatState.HELD and not claim.is_live_hold(now))
