"""The REST adapter (aiohttp): JSON in and out, errors as RFC 9457 problem bodies with a 4xx.

Every endpoint is one row of ``ENDPOINTS``: the same rows register the routes and describe them in
the OpenAPI document, so the document cannot drift from what is served.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler as RequestHandler
from aiohttp.typedefs import Middleware
from pydantic import BaseModel, TypeAdapter, ValidationError

from server.core.checkout import unknown
from server.core.errors import ErrorCode, Rejection
from server.core.idempotency import Stored, fingerprint, keeps
from server.core.limits import origin_allowed
from server.core.origins import Channel
from server.core.proxies import client_address
from server.core.records import SeatMap
from server.core.tokens import same_secret
from server.core.venues import Bounds
from server.idempotency import Answered, Idempotency, Replayed
from server.layout_file import layout_json_schema
from server.messages import (
    MAX_ID_LENGTH,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    PRINTABLE,
    Ack,
    BookingRequest,
    BookingView,
    CancelRequest,
    Health,
    IdempotencyKey,
    Model,
    Problem,
    ReadyStatus,
    SeatsRequest,
    SessionCreated,
    ShowtimeLayout,
    ShowtimeSummary,
    WebConfig,
    ack,
    booking_view,
    describe,
)
from server.metrics import Metrics
from server.openapi import Endpoint, openapi_document
from server.rejections import Refusals
from server.seat_maps import SeatMaps
from server.service import ADMIN, SeatService
from server.sessions import Sessions
from server.settings import SeatSettings, TransportSettings
from server.websocket import PATH as WEBSOCKET_PATH

__all__ = [
    "ENDPOINTS",
    "FINISHED",
    "IDEMPOTENCY_KEY",
    "REPLAYED",
    "Keys",
    "ProblemError",
    "Routes",
    "bearer_token",
    "booking_id_of",
    "create_app",
    "holds_key",
    "parse_body",
    "printable",
    "read_body",
]

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
# client_demo/ of a source checkout, or else the copy a wheel carries inside the package.
DEMO_DIR = PACKAGE.parent / "client_demo" if (PACKAGE.parent / "client_demo").is_dir() else PACKAGE / "client_demo"

M = TypeVar("M", bound=BaseModel)
Readiness = Callable[[], Awaitable[dict[str, str]]]  # each dependency's name and "ok" or what is wrong
EndpointHandler = Callable[["Api", web.Request], Awaitable[Model | Sequence[Model] | web.Response | Rejection]]
Routes = tuple[Any, Sequence[Endpoint[Any]]]  # a handler object, and the endpoints its methods serve
IDEMPOTENCY_KEY = "Idempotency-Key"  # request header of idempotent endpoints (Endpoint.idempotent)
REPLAYED = "Idempotent-Replayed"  # response header: "true" on a kept answer sent again
KEY: TypeAdapter[str] = TypeAdapter(IdempotencyKey)


class ProblemError(Exception):
    def __init__(
        self, rejection: Rejection, headers: Mapping[str, str] | None = None, status: HTTPStatus | None = None
    ) -> None:
        self.rejection = rejection
        self.headers = headers or {}
        self.status = status  # when the transport's status is more precise than the code's


def problem_response(problem: Problem, headers: Mapping[str, str] | None = None) -> web.Response:
    response = web.Response(
        status=problem.status, text=problem.to_json(), headers=headers, content_type="application/problem+json"
    )
    if problem.retry_after_ms is not None:
        response.headers["Retry-After"] = str(-(-problem.retry_after_ms // 1000))  # whole seconds, rounded up
    return response


class Api:
    """The handlers. Each returns a model, or a Rejection that becomes a problem response."""

    def __init__(
        self,
        service: SeatService,
        seat_maps: SeatMaps,
        sessions: Sessions,
        transport: TransportSettings,
        seats: SeatSettings,
        websocket_port: int,
        readiness: Readiness,
        admin_key: str = "",
        demo_payments: bool = False,
    ) -> None:
        self.service = service
        self.admin_key = admin_key  # the operator's, who may read and cancel any booking
        self.demo_payments = demo_payments  # the demo's payment endpoint is mounted
        self.seat_maps = seat_maps
        self.readiness = readiness
        self.sessions = sessions
        self.transport = transport
        self.seats = seats
        self.websocket_port = websocket_port
        self.proxies = transport.trusted_networks

    def session_of(self, request: web.Request) -> str:
        token = bearer_token(request)
        session_id = self.sessions.verify(token) if token else None
        if session_id is None:
            # RFC 6750 section 3: name the error only when a token was sent
            challenge = 'Bearer error="invalid_token"' if token else "Bearer"
            refused = Rejection(ErrorCode.UNAUTHORIZED, "send Authorization: Bearer <session token>")
            raise ProblemError(refused, {"WWW-Authenticate": challenge})
        return session_id

    def client_of(self, request: web.Request) -> str:
        """The client's address, which the per-address limits count (see server.core.proxies)."""
        forwarded = request.headers.getall("X-Forwarded-For", []), request.headers.getall("Forwarded", [])
        return client_address(request.remote or "unknown", *forwarded, self.proxies)

    async def create_session(self, request: web.Request) -> SessionCreated | Rejection:
        if refused := self.sessions.admit(None, self.client_of(request)):
            return refused
        session, _ = self.sessions.start()
        return SessionCreated(session_id=session.id, token=session.token, expires_at=session.expires_at)

    async def lock(self, request: web.Request) -> Ack | Rejection:
        session_id, body = self.session_of(request), await self._body(request, SeatsRequest)
        return ack(await self.service.lock(session_id, body.showtime_id, body.selection(), Channel.REST))

    async def unlock(self, request: web.Request) -> Ack | Rejection:
        session_id, body = self.session_of(request), await self._body(request, SeatsRequest)
        return ack(await self.service.unlock(session_id, body.showtime_id, body.selection(), Channel.REST))

    async def book(self, request: web.Request) -> Ack | Rejection:
        session_id, body = self.session_of(request), await self._body(request, BookingRequest)
        order = body.new_booking()
        return ack(await self.service.book(session_id, body.showtime_id, body.selection(), order, Channel.REST))

    async def _body(self, request: web.Request, model: type[M]) -> M:
        return parse_body(await read_body(request, self.transport), model)

    def caller(self, request: web.Request) -> str:
        """``ADMIN`` for the operator's key, else the session of a buyer's token; 401 for neither."""
        return ADMIN if holds_key(request, self.admin_key) else self.session_of(request)

    async def get_booking(self, request: web.Request) -> BookingView | Rejection:
        caller = self.caller(request)
        return booking_view(await self.service.booking(caller, booking_id_of(request)))

    async def cancel_booking(self, request: web.Request) -> BookingView | Rejection:
        caller, booking_id = self.caller(request), booking_id_of(request)
        body = await self._body(request, CancelRequest)
        return booking_view(await self.service.cancel(caller, booking_id, body.reason, Channel.REST))

    async def showtimes(self, request: web.Request) -> list[ShowtimeSummary]:
        return [ShowtimeSummary.of(record) for record in await self.service.showtimes()]

    async def showtime(self, request: web.Request) -> ShowtimeLayout | web.Response | Rejection:
        if refused := self.seat_maps.admit(self.client_of(request)):
            return refused
        showtime_id = request.match_info["showtime_id"]
        if not printable(showtime_id):
            return Rejection(ErrorCode.UNKNOWN_SHOWTIME, f"no such showtime: {showtime_id}")
        if "viewport" in request.query:  # a part of a large hall: built for the request, not cached
            view = _viewport(request.query["viewport"])
            if isinstance(view, Rejection):
                return view
            details = await self.service.showtime(showtime_id)
            if isinstance(details, Rejection):
                return details
            status = await self.service.status("", showtime_id)
            if isinstance(status, Rejection):
                return status
            return ShowtimeLayout.from_map(SeatMap(replace(details, hall=details.hall.within(view)), status))
        found = await self.seat_maps.get(showtime_id)
        if isinstance(found, Rejection):
            return found
        reply = await found.reply(request.headers)
        return web.Response(status=reply.status, headers=reply.headers, body=reply.body)

    async def config(self, request: web.Request) -> WebConfig:
        url = self.transport.public_websocket_url
        if not url:
            scheme = "wss" if request.secure else "ws"
            url = f"{scheme}://{request.url.host}:{self.websocket_port}{WEBSOCKET_PATH}"
        return WebConfig(
            websocket_url=url,
            hold_ttl_seconds=self.seats.hold_ttl_seconds,
            max_seats_per_request=self.seats.max_seats_per_request,
            demo_payments=self.demo_payments,
        )

    async def health(self, request: web.Request) -> Health:
        return Health(status="ok")

    async def ready(self, request: web.Request) -> ReadyStatus | Rejection:
        checks = await self.readiness()
        if all(state == "ok" for state in checks.values()):
            return ReadyStatus(status="ready", checks=checks)
        failing = ", ".join(f"{name}: {state}" for name, state in checks.items() if state != "ok")
        return Rejection(ErrorCode.NOT_READY, f"not ready: {failing}")


async def read_body(request: web.Request, transport: TransportSettings) -> bytes:
    """The body's bytes. A body that arrives too slowly or does not decode is refused; one too large too (413)."""
    seconds = transport.http_body_timeout_seconds
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        late = Rejection(ErrorCode.INVALID_MESSAGE, f"the body did not arrive within {seconds:g} s")
        raise ProblemError(late, status=HTTPStatus.REQUEST_TIMEOUT) from None
    except web.RequestPayloadError:
        unreadable = "the body does not decode as its Content-Encoding or Transfer-Encoding says"
        raise ProblemError(Rejection(ErrorCode.INVALID_MESSAGE, unreadable)) from None


def parse_body(body: bytes, model: type[M]) -> M:
    try:
        return model.model_validate_json(body, by_name=False)  # the wire names only
    except ValidationError as error:
        raise ProblemError(Rejection(ErrorCode.INVALID_MESSAGE, describe(error, "body"))) from None


def _viewport(text: str) -> Bounds | Rejection:
    """``x,y,width,height``: four finite numbers, width and height not negative."""
    try:
        x, y, width, height = (float(part) for part in text.split(","))
    except ValueError:
        x = y = width = height = math.nan
    if not all(math.isfinite(n) for n in (x, y, width, height)) or width < 0 or height < 0:
        return Rejection(ErrorCode.INVALID_MESSAGE, "viewport: give x,y,width,height as numbers, width and height >= 0")
    return Bounds(x, y, width, height)


def bearer_token(request: web.Request) -> str:
    """The token of ``Authorization: Bearer <token>``; empty when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def holds_key(request: web.Request, key: str) -> bool:
    """Whether the request carries the operator's key (none is set: nobody does)."""
    return same_secret(bearer_token(request), key)


def booking_id_of(request: web.Request) -> str:
    """The path's booking id; one that could name nothing is not found, like any unknown booking."""
    booking_id = request.match_info["booking_id"]
    if not printable(booking_id):
        raise ProblemError(unknown())
    return booking_id


def printable(identifier: str) -> bool:
    """Whether a path's id could name anything: ids never hold control characters."""
    return len(identifier) <= MAX_ID_LENGTH and re.fullmatch(PRINTABLE, identifier) is not None


FINISHED = (ErrorCode.BOOKING_EXPIRED, ErrorCode.BOOKING_CANCELLED, ErrorCode.BOOKING_CONFIRMED)
SEAT_ERRORS = (
    ErrorCode.INVALID_MESSAGE,
    ErrorCode.UNAUTHORIZED,
    ErrorCode.UNKNOWN_SHOWTIME,
    ErrorCode.UNKNOWN_SEAT,
    ErrorCode.TOO_MANY_SEATS,
    ErrorCode.RATE_LIMITED,
)

ENDPOINTS: tuple[Endpoint[EndpointHandler], ...] = (
    Endpoint(
        "POST", "/api/sessions", "Start a buyer session", Api.create_session, SessionCreated, HTTPStatus.CREATED,
        errors=(ErrorCode.RATE_LIMITED,), operation_id="createSession", tag="sessions",
    ),
    Endpoint(
        "POST", "/api/seat-locks", "Hold seats, all or none", Api.lock, Ack,
        body=SeatsRequest, authenticated=True, idempotent=True,
        errors=(*SEAT_ERRORS, ErrorCode.SEAT_UNAVAILABLE, ErrorCode.HOLD_LIMIT_REACHED),
        operation_id="lockSeats", tag="seats",
    ),
    Endpoint(
        "DELETE", "/api/seat-locks", "Release held seats", Api.unlock, Ack,
        body=SeatsRequest, authenticated=True, idempotent=True, errors=(*SEAT_ERRORS, ErrorCode.NOT_LOCK_OWNER),
        operation_id="unlockSeats", tag="seats",
    ),
    Endpoint(
        "POST", "/api/bookings", "Book seats this session holds", Api.book, Ack, HTTPStatus.CREATED,
        body=BookingRequest, authenticated=True, idempotent=True, errors=(*SEAT_ERRORS, ErrorCode.NOT_LOCK_OWNER),
        operation_id="createBooking", tag="bookings",
    ),
    Endpoint(
        "GET", "/api/bookings/{booking_id}", "A booking: its status, seats and prices, customer, payment, history",
        Api.get_booking, BookingView, authenticated=True, admin=True,
        errors=(ErrorCode.UNAUTHORIZED, ErrorCode.NOT_FOUND), operation_id="getBooking", tag="bookings",
    ),
    Endpoint(
        "POST", "/api/bookings/{booking_id}/cancel",
        "Cancel a booking, its seats freed at once: the buyer its pending one; the shop any (a refund)",
        Api.cancel_booking, BookingView, body=CancelRequest, authenticated=True, admin=True, idempotent=True,
        errors=(ErrorCode.UNAUTHORIZED, ErrorCode.NOT_FOUND, *FINISHED, ErrorCode.RATE_LIMITED),
        operation_id="cancelBooking", tag="bookings",
    ),
    Endpoint(
        "GET", "/api/showtimes", "All showtimes", Api.showtimes, ShowtimeSummary, many=True,
        operation_id="listShowtimes", tag="showtimes",
    ),
    Endpoint(
        "GET", "/api/showtimes/{showtime_id}", "A showtime's layout and each seat's status", Api.showtime,
        ShowtimeLayout, errors=(ErrorCode.UNKNOWN_SHOWTIME, ErrorCode.RATE_LIMITED, ErrorCode.INVALID_MESSAGE),
        query=("viewport",), operation_id="getShowtime", tag="showtimes",
    ),
    Endpoint(
        "GET", "/api/config", "Where the page finds the WebSocket", Api.config, WebConfig,
        operation_id="getConfig", tag="operations",
    ),
    Endpoint(
        "GET", "/healthz", "Liveness: the process answers", Api.health, Health,
        operation_id="health", tag="operations",
    ),
    Endpoint(
        "GET", "/readyz", "Readiness: the database (and Redis, when used) answer", Api.ready, ReadyStatus,
        errors=(ErrorCode.NOT_READY,), operation_id="ready", tag="operations",
    ),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Keys:
    """What endpoints taking an Idempotency-Key need: where keys are kept, and whose scope a request is in."""

    idempotency: Idempotency
    sessions: Sessions
    admin_key: str
    transport: TransportSettings
    refusals: Refusals

    def scope_of(self, request: web.Request) -> str | None:
        """``admin`` for the operator's key, else the session of the bearer token; None for neither."""
        if holds_key(request, self.admin_key):
            return ADMIN
        token = bearer_token(request)
        return self.sessions.verify(token) if token else None


def _route(owner: Any, endpoint: Endpoint[Any], keys: Keys) -> RequestHandler:
    async def handle(request: web.Request) -> web.StreamResponse:
        result = await endpoint.handler(owner, request)
        if isinstance(result, Rejection):
            raise ProblemError(result)
        return _encoded(endpoint, result)

    async def handle_once(request: web.Request) -> web.StreamResponse:
        sent = request.headers.getall(IDEMPOTENCY_KEY, [])
        scope = keys.scope_of(request) if sent else None
        if scope is None:  # no key; or no caller the handler accepts, which it tells
            return await handle(request)
        key = sent[0]
        if len(sent) > 1 or not _well_formed(key):  # repeated: which one would name the request?
            malformed = f"send one {IDEMPOTENCY_KEY} of 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters"
            raise ProblemError(Rejection(ErrorCode.INVALID_MESSAGE, malformed))
        body = await read_body(request, keys.transport)

        async def run() -> Answered[web.Response]:
            result = await endpoint.handler(owner, request)
            if not isinstance(result, Rejection):
                response = _encoded(endpoint, result)
                return Answered(response, Stored(response.status, response.text or ""))
            problem = keys.refusals.problem(result)
            kept = Stored(problem.status, problem.to_json()) if keeps(result.code) else None
            return Answered(problem_response(problem), kept)

        found = await keys.idempotency.once(scope, key, fingerprint(request.method, request.path, body), run)
        if isinstance(found, Rejection):
            raise ProblemError(found)
        if isinstance(found, Replayed):
            stored = found.answer
            json = "application/json" if stored.status_code < HTTPStatus.BAD_REQUEST else "application/problem+json"
            return web.Response(
                status=stored.status_code, text=stored.body, content_type=json, headers={REPLAYED: "true"}
            )
        return found

    return handle_once if endpoint.idempotent else handle


def _well_formed(key: str) -> bool:
    try:
        KEY.validate_python(key)
    except ValidationError:
        return False
    return True


def _encoded(endpoint: Endpoint[Any], result: Model | Sequence[Model] | web.Response) -> web.Response:
    if isinstance(result, web.Response):  # already encoded (the seat map)
        return result
    text = result.to_json() if isinstance(result, Model) else "[" + ",".join(i.to_json() for i in result) + "]"
    return web.Response(status=endpoint.status, text=text, content_type="application/json")


def problems(refusals: Refusals) -> Middleware:
    """Every failure becomes a counted problem body: a typed rejection, an HTTP error of aiohttp's, or a bug."""

    @web.middleware
    async def middleware(request: web.Request, handler: RequestHandler) -> web.StreamResponse:
        status = None
        headers: dict[str, str] = {}
        try:
            return await handler(request)
        except ProblemError as problem:
            rejection, headers, status = problem.rejection, dict(problem.headers), problem.status
        except web.HTTPException as error:
            if error.status < 400:
                raise
            status = HTTPStatus(error.status)
            code = AIOHTTP_ERRORS.get(error.status, ErrorCode.INVALID_MESSAGE)
            rejection = Rejection(code, error.reason)
            if "Allow" in error.headers:  # a 405 names the methods the path accepts
                headers["Allow"] = error.headers["Allow"]
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            rejection = Rejection(ErrorCode.INTERNAL_ERROR, "the server failed; nothing changed")
        response = problem_response(refusals.problem(rejection, status), headers)
        if not request.content.is_eof():  # a body that broke off or stalls: this connection carries no more
            response.force_close()
        return response

    return middleware


AIOHTTP_ERRORS = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 413: ErrorCode.MESSAGE_TOO_LARGE}


def cors(transport: TransportSettings, refusals: Refusals) -> Middleware:
    """Answer preflights and label responses for the browser origins the socket accepts too."""

    @web.middleware
    async def middleware(request: web.Request, handler: RequestHandler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = origin is not None and _origin_allowed(request, origin, transport)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if not allowed:
                refused = Rejection(ErrorCode.ORIGIN_NOT_ALLOWED, f"origin {origin} is not allowed")
                return problem_response(refusals.problem(refused))
            response: web.StreamResponse = web.Response(status=HTTPStatus.NO_CONTENT)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE"
            response.headers["Access-Control-Allow-Headers"] = f"Authorization, Content-Type, {IDEMPOTENCY_KEY}"
            response.headers["Access-Control-Max-Age"] = "600"
        else:
            response = await handler(request)
        if allowed:
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Access-Control-Expose-Headers"] = f"Retry-After, {REPLAYED}"
        if origin is not None:
            response.headers["Vary"] = ", ".join(filter(None, (response.headers.get("Vary"), "Origin")))
        return response

    return middleware


def _origin_allowed(request: web.Request, origin: str, transport: TransportSettings) -> bool:
    try:
        port = request.url.port or transport.http_port
    except ValueError:  # a Host header that names no port we could be on
        return False
    return origin_allowed(origin, request.host, port, transport.origins)


def create_app(
    api: Api,
    transport: TransportSettings,
    refusals: Refusals,
    metrics: Metrics,
    max_body: int,
    *more: Routes,
    idempotency: Idempotency,
) -> web.Application:
    """The REST app: ``api``'s endpoints and ``more`` tables."""
    app = web.Application(middlewares=[cors(transport, refusals), problems(refusals)], client_max_size=max_body)
    keys = Keys(idempotency, api.sessions, api.admin_key, transport, refusals)
    tables: tuple[Routes, ...] = ((api, ENDPOINTS), *more)
    for owner, endpoints in tables:
        for endpoint in endpoints:
            app.router.add_route(endpoint.method, endpoint.path, _route(owner, endpoint, keys))
    document = openapi_document(endpoint for _, endpoints in tables for endpoint in endpoints)
    layout_schema = layout_json_schema()

    async def openapi(request: web.Request) -> web.Response:
        # Generated clients call the server as this caller reached it.
        return web.json_response({**document, "servers": [{"url": f"{request.scheme}://{request.host}"}]})

    async def prometheus(request: web.Request) -> web.Response:
        return web.Response(body=await metrics.scrape(), content_type="text/plain", charset="utf-8")

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(DEMO_DIR / "index.html")

    async def dashboard(request: web.Request) -> web.FileResponse:
        # The operator's page asks for the admin key itself: the page is no secret, the data it reads is.
        return web.FileResponse(DEMO_DIR / "admin" / "index.html")

    async def to_dashboard(request: web.Request) -> web.Response:
        raise web.HTTPFound("/admin/")

    async def layout_file_schema(request: web.Request) -> web.Response:
        return web.json_response(layout_schema)

    app.router.add_get("/api/openapi.json", openapi)
    app.router.add_get("/api/layout.schema.json", layout_file_schema)
    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/", index)
    app.router.add_get("/admin/", dashboard)
    app.router.add_get("/admin", to_dashboard)
    app.router.add_static("/static", DEMO_DIR)
    return app
