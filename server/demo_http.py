"""The demo page's stand-in for a payment provider, mounted only with DEMO_DATA on.

``POST /api/demo/bookings/{id}/pay`` confirms the calling session's own pending booking as a provider's webhook
would reach a shop's backend: provider ``demo``, a made-up payment reference. A real shop confirms through its
own backend (``POST /api/bookings/{id}/confirm`` with the operator's key) once its provider says it was paid.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from aiohttp import web

from server.core.errors import ErrorCode, Rejection
from server.core.origins import Channel
from server.http import FINISHED, Api, booking_id_of
from server.messages import BookingView, booking_view
from server.openapi import Endpoint

__all__ = ["DEMO_ENDPOINTS", "DemoPayments"]

PROVIDER = "demo"


class DemoPayments:
    def __init__(self, api: Api) -> None:
        self.api = api  # whose session check and service the payments use

    async def pay(self, request: web.Request) -> BookingView | Rejection:
        session_id, booking_id = self.api.session_of(request), booking_id_of(request)
        service = self.api.service
        found = await service.booking(session_id, booking_id)  # another session's booking is not found
        if isinstance(found, Rejection):
            return found
        return booking_view(
            await service.confirm(found.id, f"{PROVIDER}_{secrets.token_hex(8)}", PROVIDER, Channel.REST)
        )


DEMO_ENDPOINTS: tuple[Endpoint[Callable[..., object]], ...] = (
    Endpoint(
        "POST", "/api/demo/bookings/{booking_id}/pay",
        "Demo only (DEMO_DATA): pay for this session's pending booking, confirming it as provider demo",
        DemoPayments.pay, BookingView, authenticated=True,
        errors=(ErrorCode.UNAUTHORIZED, ErrorCode.NOT_FOUND, *FINISHED, ErrorCode.RATE_LIMITED),
        operation_id="payDemoBooking", tag="bookings",
    ),
)  # fmt: skip
