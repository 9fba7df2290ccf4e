"""The WebSocket adapter: ``/ws/seat-updates``, JSON text frames, one reply per request.

It turns frames into messages, asks the service, and turns answers back into frames. A bad message is
answered with an ``error`` and changes nothing; the connection stays open. Only a frame over the hard
size ceiling (``MAX_MESSAGE_BYTES`` x 16) closes it, with 1009, because it must not be read into memory.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pydantic_core
from pydantic import ValidationError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from server.core.errors import ErrorCode, Rejection
from server.core.limits import TokenBucket, origin_allowed
from server.core.proxies import Network, client_address
from server.fanout import Fanout, encode_event, send_now
from server.messages import (
    Book,
    ClientMessage,
    ConnectionEstablished,
    ErrorMessage,
    Lock,
    Ping,
    Pong,
    Problem,
    ServerEnvelope,
    Subscribe,
    Subscribed,
    Unlock,
    Unsubscribe,
    Unsubscribed,
    client_message,
    describe,
)
from server.service import SeatService
from server.sessions import Sessions
from server.settings import Settings

__all__ = ["PATH", "SCAN_LIMIT", "SeatSocket", "error_message"]

log = logging.getLogger(__name__)

PATH = "/ws/seat-updates"
JOIN_ATTEMPTS = 5
HARD_SIZE_FACTOR = 16


@dataclass(slots=True)
class Client:
    connection: ServerConnection
    session_id: str
    messages: TokenBucket
    subscriptions: set[str] = field(default_factory=set)


def error_message(rejection: Rejection) -> ErrorMessage:
    return ErrorMessage(
        code=rejection.code,
        message=rejection.message,
        conflicting_seats=list(rejection.seats) or None,
        retry_after_ms=rejection.retry_after_ms,
    )


def _refuse(connection: ServerConnection, status: HTTPStatus, code: ErrorCode, message: str) -> Response:
    """A refused handshake, with a problem body like the REST API's."""
    problem = Problem(title=status.phrase, status=status, code=code, message=message)
    response = connection.respond(status, problem.to_json())
    del response.headers["Content-Type"]  # Headers is a multidict: assigning would add a second one
    response.headers["Content-Type"] = "application/problem+json"
    return response


def _ip(connection: ServerConnection, proxies: tuple[Network, ...]) -> str:
    address, headers = connection.remote_address, connection.request.headers if connection.request else Headers()
    peer = str(address[0]) if address else "unknown"
    return client_address(peer, headers.get_all("X-Forwarded-For"), headers.get_all("Forwarded"), proxies)


class SeatSocket:
    def __init__(self, service: SeatService, fanout: Fanout, sessions: Sessions, settings: Settings) -> None:
        self._service = service
        self._metrics = service.metrics
        self._fanout = fanout
        self._sessions = sessions
        self._settings = settings
        self._max_message_bytes = settings.max_message_bytes
        self._proxies = settings.trusted_networks
        # Where the server's own pages are, for the origin check; the app sets it once the port is bound.
        self.http_port = settings.http_port
        self._connections_per_ip: Counter[str] = Counter()
        self._metrics.watch(lambda: self._connections_per_ip.total(), fanout.subscription_count)

    async def serve(self, host: str, port: int) -> Server:
        return await serve(
            self.handle,
            host,
            port,
            process_request=self._admit,
            max_size=self._max_message_bytes * HARD_SIZE_FACTOR,
            # Deflate would compress every broadcast once per subscriber; seat messages are tiny anyway.
            compression=None,
            ping_interval=self._settings.ping_interval_seconds,
            ping_timeout=self._settings.ping_timeout_seconds,
        )

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse, before the upgrade: other paths, foreign browser origins, and IPs over their quota."""
        if urlsplit(request.path).path != PATH:
            return _refuse(connection, HTTPStatus.NOT_FOUND, ErrorCode.NOT_FOUND, f"the WebSocket endpoint is {PATH}")
        origins, hosts = request.headers.get_all("Origin"), request.headers.get_all("Host")
        origin = origins[0] if origins else None
        single = len(origins) <= 1 and len(hosts) == 1  # repeated headers are ambiguous: refuse them
        if not single or not origin_allowed(origin, hosts[0], self.http_port, self._settings.origins):
            return _refuse(
                connection, HTTPStatus.FORBIDDEN, ErrorCode.ORIGIN_NOT_ALLOWED, f"origin {origin} is not allowed"
            )
        if self._connections_per_ip[_ip(connection, self._proxies)] >= self._settings.max_connections_per_ip:
            return _refuse(
                connection,
                HTTPStatus.TOO_MANY_REQUESTS,
                ErrorCode.TOO_MANY_CONNECTIONS,
                "too many connections from this address",
            )
        tokens = parse_qs(urlsplit(request.path).query).get("token")
        if wait := self._sessions.admit(tokens[0] if tokens else None, _ip(connection, self._proxies)):
            return _refuse(
                connection, HTTPStatus.TOO_MANY_REQUESTS, ErrorCode.RATE_LIMITED,
                f"too many new sessions from this address; retry in {wait} ms",
            )  # fmt: skip
        return None

    async def handle(self, connection: ServerConnection) -> None:
        tokens = parse_qs(urlsplit(connection.request.path if connection.request else "").query).get("token")
        session, resumed = self._sessions.start(tokens[0] if tokens else None)
        settings = self._settings
        bucket = TokenBucket.full(settings.messages_per_second, settings.message_burst, self._service.now())
        client = Client(connection, session.id, bucket)
        ip = _ip(connection, self._proxies)
        self._connections_per_ip[ip] += 1
        log.info("connection opened", extra={"session": session.id, "ip": ip, "resumed": resumed})
        try:
            await connection.send(
                ConnectionEstablished(
                    session_id=session.id, token=session.token, resumed=resumed, timestamp=self._service.now()
                ).to_json()
            )
            async for frame in connection:
                if self._fanout.overloaded(connection):  # it asks but does not read the answers
                    self._fanout.evict(connection)
                    break
                reply = await self._answer(client, frame)
                if reply is not None:
                    if isinstance(reply, ErrorMessage):
                        self._metrics.errors.labels(reply.code.value).inc()
                    self._metrics.messages_sent.labels("reply").inc()
                    await connection.send(reply.to_json())
        except ConnectionClosed:
            pass
        finally:
            log.info("connection closed", extra={"session": session.id, "ip": ip, "code": connection.close_code})
            self._fanout.forget(connection, client.subscriptions)
            self._connections_per_ip[ip] -= 1
            if not self._connections_per_ip[ip]:
                del self._connections_per_ip[ip]

    async def _answer(self, client: Client, frame: str | bytes) -> ServerEnvelope | None:
        """The reply to one frame, carrying the frame's requestId; None when the reply was already sent."""
        request_id = None
        if wait := client.messages.take(self._service.now()):
            limited = Rejection(ErrorCode.RATE_LIMITED, "too many messages; slow down", retry_after_ms=wait)
            return error_message(limited).model_copy(update={"request_id": _request_id_of(frame)})
        try:
            message = self._parse(frame)
            if isinstance(message, Rejection):
                self._metrics.messages_received.labels("invalid").inc()
                request_id = _request_id_of(frame)
                return error_message(message).model_copy(update={"request_id": request_id})
            self._metrics.messages_received.labels(message.type).inc()
            request_id = message.request_id
            reply = await self._dispatch(client, message)
        except Exception:
            log.exception("failed to answer a message from session %s", client.session_id)
            reply = Rejection(ErrorCode.INTERNAL_ERROR, "the server failed to handle this message; nothing changed")
        if reply is None:
            return None
        answer = error_message(reply) if isinstance(reply, Rejection) else reply
        return answer.model_copy(update={"request_id": request_id})

    def _parse(self, frame: str | bytes) -> ClientMessage | Rejection:
        if isinstance(frame, bytes):
            return Rejection(ErrorCode.INVALID_MESSAGE, "send JSON messages in text frames")
        # Characters are at most four bytes: count the bytes only when the characters leave it open.
        if len(frame) * 4 > self._max_message_bytes and len(frame.encode()) > self._max_message_bytes:
            return Rejection(ErrorCode.MESSAGE_TOO_LARGE, f"messages are limited to {self._max_message_bytes} bytes")
        try:
            return client_message.validate_json(frame, by_name=False)  # the wire names only
        except ValidationError as error:
            return Rejection(ErrorCode.INVALID_MESSAGE, describe(error, "message"))

    async def _dispatch(self, client: Client, message: ClientMessage) -> ServerEnvelope | Rejection | None:
        match message:
            case Subscribe():
                return await self._subscribe(client, message)
            case Unsubscribe():
                self._fanout.leave(message.showtime_id, client.connection)
                client.subscriptions.discard(message.showtime_id)
                return Unsubscribed(showtime_id=message.showtime_id)
            case Lock():
                return await self._service.lock(client.session_id, message)
            case Unlock():
                return await self._service.unlock(client.session_id, message)
            case Book():
                return await self._service.book(client.session_id, message)
            case Ping():
                return Pong(timestamp=self._service.now())

    async def _subscribe(self, client: Client, message: Subscribe) -> Rejection | None:
        """Join the showtime's fan-out and bring the client up to date, with no change lost or doubled.

        With ``lastSeq``, the changes the client missed are replayed from the event log when it still holds
        them; otherwise (or without ``lastSeq``) a full snapshot is sent. Subscribing again is how a client
        resyncs. Everything is sent without awaiting, so it stays in order with the broadcasts.
        """
        limit = self._settings.max_subscriptions_per_connection
        if message.showtime_id not in client.subscriptions and len(client.subscriptions) >= limit:
            return Rejection(ErrorCode.TOO_MANY_SUBSCRIPTIONS, f"at most {limit} subscriptions per connection")
        if isinstance(layout := await self._service.layout(message.showtime_id), Rejection):
            return layout  # before taking the showtime's lock: unknown ids must not create locks
        async with self._service.serialized(message.showtime_id):
            # On a connection already subscribed, what was sent is on its way (TCP keeps order): continue
            # after it. Live changes stop while the catch-up is read, or the replay would repeat them.
            sent = self._fanout.sent_upto(message.showtime_id, client.connection)
            self._fanout.leave(message.showtime_id, client.connection)
            for _ in range(JOIN_ATTEMPTS):
                frames = None
                if message.last_seq is not None:
                    frames = await self._replayed(client, message, max(message.last_seq, sent or 0))
                if frames is None:
                    frames = await self._snapshot(client, message)
                if isinstance(frames, Rejection):
                    return frames
                if frames:  # empty: changes arrived meanwhile that the fan-out no longer keeps; try again
                    if self._fanout.overloaded(client.connection):
                        self._fanout.evict(client.connection)
                        return None
                    client.subscriptions.add(message.showtime_id)
                    for frame in frames:
                        send_now(client.connection, frame)
                    return None
        return Rejection(ErrorCode.INTERNAL_ERROR, "could not catch up with this showtime; subscribe again")

    async def _replayed(self, client: Client, message: Subscribe, after: int) -> list[str] | Rejection | None:
        """The changes after ``after``, then ``subscribed`` with recovered: true; None if they cannot be replayed."""
        replay = await self._service.replay(message.showtime_id, after)
        if replay is None or isinstance(replay, Rejection):
            return replay
        seq, events = replay
        later = self._fanout.join(message.showtime_id, client.connection, seq)
        if later is None:
            return []
        reply = Subscribed(
            request_id=message.request_id, showtime_id=message.showtime_id, recovered=True, seq=seq + len(later)
        )
        return [*(encode_event(event) for event in events), *later, reply.to_json()]

    async def _snapshot(self, client: Client, message: Subscribe) -> list[str] | Rejection:
        """``subscribed`` (recovered: false if a replay was asked for), then the current state."""
        snapshot = await self._service.snapshot(client.session_id, message.showtime_id)
        if isinstance(snapshot, Rejection):
            return snapshot
        later = self._fanout.join(message.showtime_id, client.connection, snapshot.seq)
        if later is None:
            return []
        recovered = None if message.last_seq is None else False
        reply = Subscribed(request_id=message.request_id, showtime_id=message.showtime_id, recovered=recovered)
        return [reply.to_json(), snapshot.to_json(), *later]


def _request_id_of(frame: str | bytes) -> str | int | None:
    """The requestId of a message that failed validation, so that its error can carry it.

    Parsed like the message itself; a frame no parser takes (nested too deeply, say) has its first
    ``SCAN_LIMIT`` characters scanned for a ``requestId`` key at the top level of an object.
    """
    text = frame.decode(errors="replace") if isinstance(frame, bytes) else frame
    try:
        value = pydantic_core.from_json(text).get("requestId")
    except (ValueError, AttributeError):
        value = _scan_request_id(text[:SCAN_LIMIT])
    if isinstance(value, str):
        valid = len(value) <= 128 and value.encode(errors="replace") == value.encode(errors="ignore")
    else:
        valid = isinstance(value, int) and not isinstance(value, bool)
    return value if valid else None


SCAN_LIMIT = 8192  # characters; bounds the work a hostile frame can cause (a few ms at worst)
STRUCTURE = re.compile(r'["\[\]{}]')
STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"')
# A short string, or an integer that is not the start of a number with a fraction or an exponent.
SCALAR = re.compile(r'\s*("(?:[^"\\]|\\.){0,256}"|-?\d{1,64}(?![\d.eE]))')


def _scan_request_id(text: str) -> object:
    """One pass, left to right, from bracket to quote: track the depth, skip strings, stop at a top-level
    ``"requestId":``. Each character is looked at once, so hostile input costs no more than its length."""
    depth, position = 0, 0
    while (found := STRUCTURE.search(text, position)) is not None:
        if found.group() != '"':
            depth += 1 if found.group() in "[{" else -1
            position = found.end()
            continue
        string = STRING.match(text, found.start())
        if string is None:  # never closed: nothing after it is JSON
            return None
        if depth == 1 and string.group() == '"requestId"':
            rest = text[string.end() :].lstrip()
            value = SCALAR.match(rest, 1) if rest.startswith(":") else None
            try:
                return json.loads(value.group(1)) if value else None
            except ValueError:
                return None
        position = string.end()
    return None
