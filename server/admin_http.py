"""The admin API: layouts, showtimes, blocked seats, bookings, sales figures and webhook deliveries, for the
operator's key alone.

``Authorization: Bearer <ADMIN_API_KEY>``; no key, or a wrong one, is a 401, and a buyer's session token a
403: buyer tokens never reach these handlers. Its endpoints join the REST app's table (``ADMIN_ENDPOINTS``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import dataclasses
import io
import json
import re
from collections.abc import Callable
from http import HTTPStatus

from aiohttp import web

from server.admin_messages import (
    BlockRequest,
    LayoutView,
    NewShowtimeRequest,
    SeatHistory,
    SeatHistoryEntry,
    ShowtimeChanges,
    ShowtimeHeadline,
    ShowtimeSetup,
    ShowtimeStats,
    WebhookDeliveries,
    WebhookDeliveryView,
)
from server.core.bookings import BookingStatus
from server.core.changes import Selection
from server.core.deliveries import DeliveryStatus
from server.core.errors import ErrorCode, FieldError, Rejection
from server.core.history import HistoryQuery
from server.core.origins import Channel, Origin
from server.core.records import BookingRecord, BookingSearch
from server.core.venues import HallLayout
from server.http import FINISHED, ProblemError, bearer_token, booking_id_of, holds_key, parse_body, printable, read_body
from server.layout_file import LayoutDocument, layout_document, load_layout
from server.messages import PRINTABLE, Ack, BookingView, ConfirmRequest, ack, booking_view
from server.openapi import Endpoint
from server.pretix import load_pretix_plan
from server.service import Placement, ScheduledShowtime, SeatService
from server.sessions import Sessions
from server.settings import LimitSettings, TransportSettings
from server.storage.venues import NewShowtime, ShowtimeTerms
from server.storage.webhooks import DeliveryQuery, DeliveryRecord, WebhookStore

__all__ = ["ADMIN_ENDPOINTS", "FORMATS", "AdminApi", "bookings_csv", "read_layout"]

FORMATS = ("native", "pretix")
DELIVERIES_PER_PAGE = 50  # GET /api/admin/webhooks/deliveries without ?limit=
MAX_DELIVERIES_PER_PAGE = 200
HISTORY_PER_PAGE = 100  # GET .../history without ?limit=
MAX_HISTORY_PER_PAGE = 1000


def read_layout(data: bytes, *, pretix: bool, max_seats: int) -> tuple[HallLayout | Rejection, str | None]:
    """A layout file, native or a pretix plan, or an ``invalid_layout`` listing every error at its path; and
    the hall name the file gives, if any (a pretix plan's ``name``)."""
    try:
        document: object = json.loads(data)
    except (ValueError, RecursionError):
        document = data  # the reader says what is wrong with it
    name = document.get("name") if pretix and isinstance(document, dict) else None
    load = load_pretix_plan if pretix else load_layout
    found = load(document, max_seats=max_seats)
    if isinstance(found, HallLayout):
        return found, name if isinstance(name, str) and printable(name) and name.strip() else None
    shown = "; ".join(map(str, found[:5])) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
    return Rejection(ErrorCode.INVALID_LAYOUT, f"the layout is not valid: {shown}", errors=tuple(found)), None


class AdminApi:
    def __init__(
        self,
        service: SeatService,
        sessions: Sessions,
        key: str,
        transport: TransportSettings,
        limits: LimitSettings,
        webhooks: WebhookStore,
    ) -> None:
        self.service = service
        self.webhooks = webhooks
        self.sessions = sessions
        self.key = key
        self.transport = transport
        self.limits = limits

    def authorize(self, request: web.Request) -> None:
        if holds_key(request, self.key):
            return
        token = bearer_token(request)
        if token and self.sessions.verify(token) is not None:
            raise ProblemError(Rejection(ErrorCode.FORBIDDEN, "a buyer's session token cannot call the admin API"))
        challenge = 'Bearer error="invalid_token"' if token else "Bearer"
        refused = Rejection(ErrorCode.UNAUTHORIZED, "send Authorization: Bearer <ADMIN_API_KEY>")
        raise ProblemError(refused, {"WWW-Authenticate": challenge})

    # --- layouts ---------------------------------------------------------------------------------------

    async def import_layout(self, request: web.Request) -> LayoutView | Rejection:
        self.authorize(request)
        query = request.query
        layout_format = query.get("format", "native")
        if layout_format not in FORMATS:
            return _invalid_query("format", f"native or pretix, not {layout_format!r}")
        for name in ("venueId", "hallId", "venueName", "hallName"):
            if name in query and not (0 < len(query[name]) <= 64 and printable(query[name])):
                return _invalid_query(name, "1 to 64 printable characters")
        # The one body allowed over MAX_MESSAGE_BYTES.
        data = await read_body(request.clone(client_max_size=self.limits.max_layout_bytes), self.transport)
        max_seats = self.limits.max_layout_seats
        # Expanding 50,000 seats takes a while: off the event loop, which serves every buyer meanwhile.
        pretix = layout_format == "pretix"
        hall, named = await asyncio.to_thread(lambda: read_layout(data, pretix=pretix, max_seats=max_seats))
        if isinstance(hall, Rejection):
            return hall
        placement = Placement(
            venue_id=query.get("venueId"),
            venue_name=query.get("venueName"),
            hall_id=query.get("hallId"),
            hall_name=query.get("hallName") or named,
        )
        saved = await self.service.import_layout(hall, placement)
        return saved if isinstance(saved, Rejection) else LayoutView.of(saved)

    async def layouts(self, request: web.Request) -> list[LayoutView]:
        self.authorize(request)
        return [LayoutView.of(record) for record in await self.service.layouts()]

    async def layout(self, request: web.Request) -> LayoutDocument | Rejection:
        self.authorize(request)
        layout_id = request.match_info["layout_id"]
        if not printable(layout_id):
            return Rejection(ErrorCode.UNKNOWN_LAYOUT, f"no such layout: {layout_id}")
        found = await self.service.hall_layout(layout_id)
        return found if isinstance(found, Rejection) else layout_document(found)

    # --- showtimes -------------------------------------------------------------------------------------

    async def create_showtime(self, request: web.Request) -> ShowtimeSetup | Rejection:
        self.authorize(request)
        body = parse_body(await read_body(request, self.transport), NewShowtimeRequest)
        new = NewShowtime(
            body.layout_id, body.title, body.starts_at, body.currency, body.prices,
            body.sales_open_at, body.sales_close_at, body.id,
        )  # fmt: skip
        return _setup(await self.service.create_showtime(new))

    async def update_showtime(self, request: web.Request) -> ShowtimeSetup | Rejection:
        self.authorize(request)
        showtime_id = self._showtime_id(request)
        body = parse_body(await read_body(request, self.transport), ShowtimeChanges)
        return _setup(await self.service.update_showtime(showtime_id, _changer(body)))

    async def delete_showtime(self, request: web.Request) -> ShowtimeSetup | Rejection:
        self.authorize(request)
        return _setup(await self.service.delete_showtime(self._showtime_id(request)))

    async def block(self, request: web.Request) -> Ack | Rejection:
        self.authorize(request)
        showtime_id = self._showtime_id(request)
        body = parse_body(await read_body(request, self.transport), BlockRequest)
        seats = Selection(body.seat_ids, body.table_ids)
        return ack(await self.service.block(showtime_id, seats, body.reason, Channel.REST))

    async def unblock(self, request: web.Request) -> Ack | Rejection:
        self.authorize(request)
        showtime_id = self._showtime_id(request)
        body = parse_body(await read_body(request, self.transport), BlockRequest)
        return ack(await self.service.unblock(showtime_id, Selection(body.seat_ids, body.table_ids), Channel.REST))

    # --- webhooks --------------------------------------------------------------------------------------

    async def webhook_deliveries(self, request: web.Request) -> WebhookDeliveries | Rejection:
        self.authorize(request)
        query = request.query
        status = query.get("status")
        if status is not None and status not in set(DeliveryStatus):
            return _invalid_query("status", "pending, delivered or failed")
        for name in ("eventId", "bookingId"):
            if name in query and not printable(query[name]):
                return _invalid_query(name, "printable text of at most 64 characters")
        limit = query.get("limit", str(DELIVERIES_PER_PAGE))
        if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_DELIVERIES_PER_PAGE):
            return _invalid_query("limit", f"a whole number from 1 to {MAX_DELIVERIES_PER_PAGE}")
        after = None
        if "cursor" in query and (after := _read_cursor(query["cursor"])) is None:
            return _invalid_query("cursor", "the nextCursor of a page of this list")
        size = int(limit)
        found = await self.webhooks.deliveries(
            DeliveryQuery(size + 1, status, query.get("eventId"), query.get("bookingId"), after)
        )  # one more than the page: whether there is a next page
        page = found[:size]
        return WebhookDeliveries(
            deliveries=[WebhookDeliveryView.of(record) for record in page],
            next_cursor=_cursor(page[-1]) if len(found) > size else None,
        )

    # --- history ---------------------------------------------------------------------------------------

    async def seat_history(self, request: web.Request) -> SeatHistory | Rejection:
        """One seat's changes, oldest first, a page at a time."""
        self.authorize(request)
        seat = request.match_info["seat_id"]
        if not printable(seat):
            raise ProblemError(Rejection(ErrorCode.UNKNOWN_SEAT, f"no such seat: {seat}"), status=HTTPStatus.NOT_FOUND)
        return await self._history(request, seat)

    async def showtime_history(self, request: web.Request) -> SeatHistory | Rejection:
        """Every seat's changes, oldest first, a page at a time; ``since``/``until`` (epoch ms) and ``origin``."""
        self.authorize(request)
        return await self._history(request, None)

    async def _history(self, request: web.Request, seat: str | None) -> SeatHistory | Rejection:
        showtime_id, query = self._showtime_id(request), request.query
        bounds: dict[str, int] = {}
        for name in ("since", "until", "cursor"):
            if name in query:
                if (value := _whole(query[name], 0, 2**62)) is None:
                    return _invalid_query(name, "a whole number of at least 0" + CURSOR_HINT.get(name, ""))
                bounds[name] = value
        limit = _whole(query.get("limit", str(HISTORY_PER_PAGE)), 1, MAX_HISTORY_PER_PAGE)
        if limit is None:
            return _invalid_query("limit", f"a whole number from 1 to {MAX_HISTORY_PER_PAGE}")
        origins = [name for name in query.get("origin", "").split(",") if name] if "origin" in query else []
        if "origin" in query and (not origins or not set(origins) <= set(Origin)):
            return _invalid_query("origin", f"one or more of {', '.join(Origin)}, comma-separated")
        # One more than the page: whether there is a next page.
        found = await self.service.history(
            HistoryQuery(
                showtime_id, limit + 1, seat, bounds.get("since"), bounds.get("until"),
                tuple(Origin(name) for name in dict.fromkeys(origins)), bounds.get("cursor", 0),
            )
        )  # fmt: skip
        if isinstance(found, Rejection) and found.code is ErrorCode.UNKNOWN_SEAT:
            raise ProblemError(found, status=HTTPStatus.NOT_FOUND)  # a path that names nothing, not a bad body
        if isinstance(found, Rejection):
            return found
        page = found[:limit]
        return SeatHistory(
            showtime_id=showtime_id,
            entries=[SeatHistoryEntry.of(entry) for entry in page],
            next_cursor=str(page[-1].seq) if len(found) > limit else None,
        )

    # --- figures ---------------------------------------------------------------------------------------

    async def showtime_stats(self, request: web.Request) -> ShowtimeStats | Rejection:
        self.authorize(request)
        found = await self.service.figures(self._showtime_id(request))
        return found if isinstance(found, Rejection) else ShowtimeStats.of(found)

    async def stats(self, request: web.Request) -> list[ShowtimeHeadline]:
        self.authorize(request)
        return [ShowtimeHeadline.of(figures) for figures in await self.service.all_figures()]

    # --- bookings ---------------------------------------------------------------------------------------

    async def confirm_booking(self, request: web.Request) -> BookingView | Rejection:
        self.authorize(request)
        booking_id = booking_id_of(request)
        body = parse_body(await read_body(request, self.transport), ConfirmRequest)
        confirmed = await self.service.confirm(booking_id, body.payment_reference, body.provider, Channel.REST)
        return booking_view(confirmed)

    async def showtime_bookings(self, request: web.Request) -> list[BookingView] | web.Response | Rejection:
        """A showtime's bookings, all or those of one ``status``; CSV when the client accepts text/csv."""
        self.authorize(request)
        showtime_id = self._showtime_id(request)
        status = request.query.get("status")
        if status is not None and status not in set(BookingStatus):
            return _invalid_query("status", f"one of {', '.join(BookingStatus)}, not {status!r}")
        if await self.service.state(showtime_id) is None:
            return Rejection(ErrorCode.UNKNOWN_SHOWTIME, f"no such showtime: {showtime_id}")
        found = await self.service.bookings(
            BookingSearch(showtime_id, None if status is None else BookingStatus(status))
        )
        return _listed(request, found, f"bookings-{showtime_id}")

    async def find_bookings(self, request: web.Request) -> list[BookingView] | web.Response | Rejection:
        """Bookings by the shop's order reference, the customer's email, or the showtime: every criterion given."""
        self.authorize(request)
        criteria = {name: request.query[name] for name in SEARCH if name in request.query}
        if not criteria:
            return _invalid_query(SEARCH[0], f"give at least one of {', '.join(SEARCH)}")
        for name, value in criteria.items():
            if not (0 < len(value) <= 254 and re.fullmatch(PRINTABLE, value)):
                return _invalid_query(name, "1 to 254 printable characters")
        search = BookingSearch(criteria.get("showtimeId"), None, criteria.get("orderReference"), criteria.get("email"))
        found = await self.service.bookings(search)
        return _listed(request, found, "bookings")

    @staticmethod
    def _showtime_id(request: web.Request) -> str:
        showtime_id = request.match_info["showtime_id"]
        if not printable(showtime_id):
            raise ProblemError(Rejection(ErrorCode.UNKNOWN_SHOWTIME, f"no such showtime: {showtime_id}"))
        return showtime_id


def _changer(body: ShowtimeChanges) -> Callable[[ShowtimeTerms], ShowtimeTerms]:
    """What a PATCH does to the current terms: the fields it sends replace theirs, prices by category."""

    def change(terms: ShowtimeTerms) -> ShowtimeTerms:
        sent = body.model_fields_set
        return dataclasses.replace(
            terms,
            title=body.title or terms.title,
            starts_at=terms.starts_at if body.starts_at is None else body.starts_at,
            currency=body.currency or terms.currency,
            prices=terms.prices | (body.prices or {}),
            sales_open_at=body.sales_open_at if "sales_open_at" in sent else terms.sales_open_at,
            sales_close_at=body.sales_close_at if "sales_close_at" in sent else terms.sales_close_at,
        )

    return change


def _setup(outcome: ScheduledShowtime | Rejection) -> ShowtimeSetup | Rejection:
    return outcome if isinstance(outcome, Rejection) else ShowtimeSetup.of(outcome)


SEARCH = ("orderReference", "email", "showtimeId")
# The columns of a CSV export: a booking's fields, its seats space-separated, its customer's flattened.
CSV_COLUMNS = (
    "id", "showtimeId", "status", "seatIds", "totalCents", "currency", "customerName", "customerEmail",
    "customerPhone", "notes", "orderReference", "paymentDueAt", "paymentReference", "provider", "cancelReason",
    "createdAt", "confirmedAt", "cancelledAt", "expiredAt",
)  # fmt: skip
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a cell a spreadsheet would run as a formula starts so


def _listed(request: web.Request, found: list[BookingRecord], name: str) -> list[BookingView] | web.Response:
    views = [BookingView.of(record) for record in found]
    if "text/csv" not in request.headers.get("Accept", ""):
        return views
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return web.Response(text=bookings_csv(views), content_type="text/csv", charset="utf-8", headers=headers)


def bookings_csv(views: list[BookingView]) -> str:
    """Bookings as CSV with a header row (RFC 4180). Text a customer typed is defused: a cell that a spreadsheet
    would take for a formula gets a leading apostrophe (OWASP's advice on CSV injection)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for view in views:
        fields = view.model_dump(mode="json", by_alias=True)
        customer = fields.pop("customer")
        fields |= {"seatIds": " ".join(view.seat_ids), "customerName": customer["name"]}
        fields |= {"customerEmail": customer["email"], "customerPhone": customer.get("phone")}
        writer.writerow([_cell(fields.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA) else text


CURSOR_HINT = {"cursor": ": the nextCursor of a page of this history"}


def _whole(text: str, least: int, most: int) -> int | None:
    """``text`` as a whole number from ``least`` to ``most``, or None."""
    if text.isascii() and text.isdigit() and len(text) <= 19 and least <= int(text) <= most:
        return int(text)
    return None


def _invalid_query(name: str, message: str) -> Rejection:
    return Rejection(ErrorCode.INVALID_VALUE, f"{name}: {message}", errors=(FieldError(name, message),))


def _cursor(record: DeliveryRecord) -> str:
    """Where the next page starts: after this delivery in the list's order."""
    key = json.dumps([record.created_at, record.event_id, record.url]).encode()
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def _read_cursor(text: str) -> tuple[int, str, str] | None:
    try:
        key = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
    match key:
        case [int(created_at), str(event_id), str(url)] if 0 <= created_at < 2**63 and printable(event_id):
            return (created_at, event_id, url) if "\x00" not in url else None
    return None


ADMIN_ERRORS = (ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN)
SHOWTIME_ERRORS = (*ADMIN_ERRORS, ErrorCode.UNKNOWN_SHOWTIME)
SEAT_ERRORS = (
    *SHOWTIME_ERRORS, ErrorCode.UNKNOWN_SEAT, ErrorCode.UNKNOWN_TABLE, ErrorCode.SEAT_UNAVAILABLE,
)  # fmt: skip

ADMIN_ENDPOINTS: tuple[Endpoint[Callable[..., object]], ...] = (
    Endpoint(
        "POST", "/api/admin/layouts",
        "Import a layout file as its hall's next version: the native format, or a pretix plan (format=pretix)",
        AdminApi.import_layout, LayoutView, HTTPStatus.CREATED, body=LayoutDocument, admin=True,
        errors=(*ADMIN_ERRORS, ErrorCode.INVALID_LAYOUT, ErrorCode.INVALID_VALUE),
        query=("format", "venueId", "venueName", "hallId", "hallName"), operation_id="importLayout", tag="admin",
    ),
    Endpoint(
        "GET", "/api/admin/layouts", "Every layout version", AdminApi.layouts, LayoutView, many=True, admin=True,
        errors=ADMIN_ERRORS, operation_id="listLayouts", tag="admin",
    ),
    Endpoint(
        "GET", "/api/admin/layouts/{layout_id}", "A layout version in the native format, every seat explicit",
        AdminApi.layout, LayoutDocument, admin=True, errors=(*ADMIN_ERRORS, ErrorCode.UNKNOWN_LAYOUT),
        operation_id="getLayout", tag="admin",
    ),
    Endpoint(
        "POST", "/api/admin/showtimes", "Create a showtime on a layout version, with its prices",
        AdminApi.create_showtime, ShowtimeSetup, HTTPStatus.CREATED, body=NewShowtimeRequest, admin=True,
        errors=(*ADMIN_ERRORS, ErrorCode.UNKNOWN_LAYOUT, ErrorCode.INVALID_VALUE, ErrorCode.SHOWTIME_EXISTS),
        operation_id="createShowtime", tag="admin",
    ),
    Endpoint(
        "PATCH", "/api/admin/showtimes/{showtime_id}",
        "Change a showtime's title, times, currency or prices; the next booking anywhere pays the new price",
        AdminApi.update_showtime, ShowtimeSetup, body=ShowtimeChanges, admin=True,
        errors=(*SHOWTIME_ERRORS, ErrorCode.INVALID_VALUE), operation_id="updateShowtime", tag="admin",
    ),
    Endpoint(
        "DELETE", "/api/admin/showtimes/{showtime_id}", "Delete a showtime nobody has booked",
        AdminApi.delete_showtime, ShowtimeSetup, admin=True, errors=(*SHOWTIME_ERRORS, ErrorCode.HAS_BOOKINGS),
        operation_id="deleteShowtime", tag="admin",
    ),
    Endpoint(
        "POST", "/api/admin/showtimes/{showtime_id}/blocks", "Take free seats out of sale (announced as blocked)",
        AdminApi.block, Ack, body=BlockRequest, admin=True, errors=SEAT_ERRORS,
        operation_id="blockSeats", tag="admin",
    ),
    Endpoint(
        "DELETE", "/api/admin/showtimes/{showtime_id}/blocks", "Put blocked seats back on sale (announced as unlocked)",
        AdminApi.unblock, Ack, body=BlockRequest, admin=True, errors=(*SEAT_ERRORS, ErrorCode.NOT_BLOCKED),
        operation_id="unblockSeats", tag="admin",
    ),
    Endpoint(
        "GET", "/api/admin/webhooks/deliveries",
        "Webhook deliveries, newest event first, each with its attempts; filter by status, eventId or bookingId",
        AdminApi.webhook_deliveries, WebhookDeliveries, admin=True, errors=(*ADMIN_ERRORS, ErrorCode.INVALID_VALUE),
        query=("status", "eventId", "bookingId", "limit", "cursor"), operation_id="listWebhookDeliveries",
        tag="admin",
    ),
    Endpoint(
        "GET", "/api/admin/showtimes/{showtime_id}/stats",
        "A showtime's sales figures: seats by status and revenue, per category and section too, as of one seq",
        AdminApi.showtime_stats, ShowtimeStats, admin=True, errors=SHOWTIME_ERRORS,
        operation_id="getShowtimeStats", tag="admin",
    ),
    Endpoint(
        "GET", "/api/admin/stats", "Every showtime's headline sales figures", AdminApi.stats, ShowtimeHeadline,
        many=True, admin=True, errors=ADMIN_ERRORS, operation_id="listShowtimeStats", tag="admin",
    ),
    Endpoint(
        "GET", "/api/admin/showtimes/{showtime_id}/seats/{seat_id}/history",
        "A seat's history, oldest first: each change's status, origin, actor and channel; a page at a time",
        AdminApi.seat_history, SeatHistory, admin=True,
        errors=(*SHOWTIME_ERRORS, ErrorCode.UNKNOWN_SEAT, ErrorCode.INVALID_VALUE),
        query=("limit", "cursor"), operation_id="getSeatHistory", tag="admin",
    ),
    Endpoint(
        "GET", "/api/admin/showtimes/{showtime_id}/history",
        "Every seat's changes, oldest first; ?since= and ?until= (epoch ms), ?origin= (comma-separated); a page at a "
        "time", AdminApi.showtime_history, SeatHistory, admin=True, errors=(*SHOWTIME_ERRORS, ErrorCode.INVALID_VALUE),
        query=("since", "until", "origin", "limit", "cursor"), operation_id="getShowtimeHistory", tag="admin",
    ),
    Endpoint(
        "GET", "/api/admin/showtimes/{showtime_id}/bookings",
        "A showtime's bookings, oldest first; ?status= one status; Accept: text/csv exports them",
        AdminApi.showtime_bookings, BookingView, many=True, admin=True, csv=True,
        errors=(*SHOWTIME_ERRORS, ErrorCode.INVALID_VALUE), query=("status",),
        operation_id="listShowtimeBookings", tag="admin",
    ),
    Endpoint(
        "GET", "/api/admin/bookings", "Find bookings by orderReference, email or showtimeId (all those given)",
        AdminApi.find_bookings, BookingView, many=True, admin=True, csv=True,
        errors=(*ADMIN_ERRORS, ErrorCode.INVALID_VALUE), query=SEARCH, operation_id="findBookings", tag="admin",
    ),
    Endpoint(
        "POST", "/api/bookings/{booking_id}/confirm",
        "Confirm a booking once paid (the shop's backend, on its payment provider's word)",
        AdminApi.confirm_booking, BookingView, body=ConfirmRequest, admin=True, idempotent=True,
        errors=(*ADMIN_ERRORS, ErrorCode.NOT_FOUND, *FINISHED), operation_id="confirmBooking", tag="bookings",
    ),
)  # fmt: skip
