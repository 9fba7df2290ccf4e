"""The WebSocket adapter: ``/ws/seat-updates``, JSON text frames, one reply per request.

It turns frames into calls and answers back into frames; the rules are elsewhere. A bad message is
answered with an ``error`` and changes nothing; the connection stays open. Only a frame over the hard
size ceiling (``MAX_MESSAGE_BYTES`` x 16) closes it, with 1009, because it must not be read into memory.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import weakref
from collections.abc import Collection
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pydantic_core
from pydantic import TypeAdapter, ValidationError
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State

from server.connections import PortConnections
from server.core.changes import Accepted
from server.core.clock import Clock
from server.core.errors import ErrorCode, Rejection
from server.core.idempotency import Stored, fingerprint, keeps
from server.core.limits import TokenBucket, origin_allowed
from server.core.origins import Channel
from server.core.proxies import Network, client_address
from server.core.tokens import same_secret
from server.fanout import Fanout
from server.figures import FiguresWatch
from server.idempotency import Answered, Idempotency, Replayed
from server.messages import (
    Ack,
    Authenticate,
    Authenticated,
    Book,
    ClientMessage,
    ConnectionEstablished,
    ErrorMessage,
    Extend,
    Lock,
    Ping,
    Pong,
    RequestId,
    ServerEnvelope,
    Subscribe,
    SubscribeFigures,
    Unlock,
    Unsubscribe,
    Unsubscribed,
    client_message,
    describe,
    keyed_reply,
)
from server.metrics import Metrics
from server.rejections import STATUS_OF, Refusals
from server.service import SeatService
from server.sessions import Session, Sessions
from server.settings import LimitSettings, TransportSettings
from server.subscriptions import Dropped, Joined, Subscriptions

__all__ = ["PATH", "SeatSocket", "WebSocketOutlet"]

log = logging.getLogger(__name__)

PATH = "/ws/seat-updates"

# A frame waiting to be answered, a refusal waiting for its turn, or None: the connection is gone.
Pending = str | bytes | ServerEnvelope | None


class WebSocketOutlet:
    """Fan-out's way to the clients: like ``websockets``' broadcast, which never awaits, but the frame is also
    serialized once for all. A server's frames are not masked and this server negotiates no extension
    (compression is off), so every connection is sent the same bytes; one that had an extension would be sent
    its own through ``broadcast``. The bytes go to the transport, in order with what the connection writes
    itself (``websockets`` hands its protocol's output to the transport as soon as it makes any)."""

    def send(self, targets: Collection[ServerConnection], frame: str) -> None:
        data = Frame(Opcode.TEXT, frame.encode()).serialize(mask=False)
        for connection in targets:
            # What broadcast skips: a connection closing, or one in the middle of a fragmented message.
            if connection.protocol.state is not State.OPEN or connection.send_in_progress is not None:
                continue
            if connection.protocol.extensions or connection.transport is None:
                broadcast((connection,), frame)
            else:
                connection.transport.write(data)

    def buffered(self, connection: ServerConnection) -> int:
        transport = connection.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def drop(self, connection: ServerConnection) -> None:
        log.warning("dropping a slow consumer at %s", connection.remote_address)
        if connection.transport is not None:
            connection.transport.abort()


@dataclass(slots=True)
class Client:
    connection: ServerConnection
    session_id: str
    messages: TokenBucket
    admin: bool = False  # sent the admin key (``authenticate``): may follow figures


def _ip(connection: ServerConnection, proxies: tuple[Network, ...]) -> str:
    address, headers = connection.remote_address, connection.request.headers if connection.request else Headers()
    peer = str(address[0]) if address else "unknown"
    return client_address(peer, headers.get_all("X-Forwarded-For"), headers.get_all("Forwarded"), proxies)


def _token(request: Request | None) -> str | None:
    """The session token a reconnecting client passes as ``?token=``."""
    tokens = parse_qs(urlsplit(request.path if request else "").query).get("token")
    return tokens[0] if tokens else None


class SeatSocket:
    def __init__(
        self,
        service: SeatService,
        subscriptions: Subscriptions[ServerConnection],
        fanout: Fanout[ServerConnection],
        sessions: Sessions,
        refusals: Refusals,
        metrics: Metrics,
        clock: Clock,
        transport: TransportSettings,
        limits: LimitSettings,
        http_port: int,
        connections: PortConnections,
        idempotency: Idempotency,
        figures: FiguresWatch[ServerConnection] | None = None,
        admin_key: str = "",
        hard_size_factor: int = 16,
        ack_wait_seconds: float = 2.0,
    ) -> None:
        self._service = service
        self._subscriptions = subscriptions
        self._fanout = fanout
        self._sessions = sessions
        self._refusals = refusals
        self._metrics = metrics
        self._clock = clock
        self._transport = transport
        self._limits = limits
        self._http_port = http_port  # where the server's own pages are, for the origin check
        self._hard_size_factor = hard_size_factor  # frames this many times the limit are never read
        self._ack_wait = ack_wait_seconds  # at most, for the changes an ack follows (a gap is read in 0.2 s)
        self._proxies = transport.trusted_networks
        self._connections = connections  # one budget per address with the HTTP port
        self._idempotency = idempotency  # lock, unlock and book with an idempotencyKey run once
        self._figures = figures  # None: no dashboards on this socket
        self._admin_key = admin_key  # empty: nobody may authenticate
        self._accepted: weakref.WeakSet[ServerConnection] = weakref.WeakSet()  # from TCP accept on
        metrics.watch(lambda: self._connections.count, fanout.subscription_count)

    async def serve(self, sock: socket.socket) -> Server:
        accepted = self._accepted

        class Connection(ServerConnection):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                super().connection_made(transport)
                accepted.add(self)

        return await serve(
            self.handle,
            sock=sock,
            create_connection=Connection,
            open_timeout=self._transport.handshake_timeout_seconds,
            process_request=self._admit,
            max_size=self._limits.max_message_bytes * self._hard_size_factor,
            # Deflate would compress every broadcast once per subscriber; seat messages are tiny anyway.
            compression=None,
            ping_interval=self._transport.ping_interval_seconds,
            ping_timeout=self._transport.ping_timeout_seconds,
        )

    def abort_handshakes(self) -> None:
        """Cut off connections that have not completed their handshake: at shutdown they have nothing to lose."""
        for connection in list(self._accepted):
            if connection.protocol.state is State.CONNECTING and connection.transport is not None:
                connection.transport.abort()

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse, before the upgrade: other paths, foreign browser origins, and IPs over their quota."""
        if urlsplit(request.path).path != PATH:
            return self._refuse(connection, Rejection(ErrorCode.NOT_FOUND, f"the WebSocket endpoint is {PATH}"))
        origins, hosts = request.headers.get_all("Origin"), request.headers.get_all("Host")
        origin = origins[0] if origins else None
        single = len(origins) <= 1 and len(hosts) == 1  # repeated headers are ambiguous: refuse them
        if not single or not origin_allowed(origin, hosts[0], self._http_port, self._transport.origins):
            return self._refuse(connection, Rejection(ErrorCode.ORIGIN_NOT_ALLOWED, f"origin {origin} is not allowed"))
        ip = _ip(connection, self._proxies)
        if refused := self._connections.refusal(ip) or self._sessions.admit(_token(request), ip):
            return self._refuse(connection, refused)
        return None

    def _refuse(self, connection: ServerConnection, rejection: Rejection) -> Response:
        """A refused handshake, with a problem body like the REST API's, and a log line saying why."""
        problem = self._refusals.problem(rejection)
        ip, path = _ip(connection, self._proxies), urlsplit(connection.request.path if connection.request else "").path
        log.info(
            "refused a WebSocket handshake from %s for %s: %d %s: %s", ip, path, problem.status, rejection.code,
            rejection.message, extra={"ip": ip, "path": path, "status": problem.status, "code": rejection.code.value},
        )  # fmt: skip
        response = connection.respond(HTTPStatus(problem.status), problem.to_json())
        del response.headers["Content-Type"]  # Headers is a multidict: assigning would add a second one
        response.headers["Content-Type"] = "application/problem+json"
        return response

    async def handle(self, connection: ServerConnection) -> None:
        session, resumed = self._sessions.start(_token(connection.request))
        limits = self._limits
        bucket = TokenBucket.full(limits.messages_per_second, limits.message_burst, self._clock.monotonic())
        client = Client(connection, session.id, bucket)
        ip = _ip(connection, self._proxies)
        self._connections.open(ip)
        # Per connection, a DEBUG line: at INFO a storm of connects would cost a formatted write each;
        # seat_connections counts them.
        log.debug("connection opened", extra={"session": session.id, "ip": ip, "resumed": resumed})
        # Frames read but not answered yet, and refusals waiting for their turn: answered in order by one task.
        pending: asyncio.Queue[Pending] = asyncio.Queue(limits.max_pending_messages)
        answering = asyncio.create_task(self._answer_in_turn(client, pending))
        try:
            self._welcome(connection, session, resumed)
            async for frame in connection:
                await pending.put(self._admit_frame(client, frame, pending.full()))
        except ConnectionClosed:
            pass
        finally:
            log.debug("connection closed", extra={"session": session.id, "ip": ip, "code": connection.close_code})
            # Work not started is dropped: nobody waits for its answer. What is under way finishes (a change
            # may be committing) before the connection is forgotten.
            while not pending.empty():
                pending.get_nowait()
            pending.put_nowait(None)
            await answering
            self._fanout.forget(connection)
            if self._figures is not None:
                self._figures.forget(connection)
            self._connections.close(ip)

    def _welcome(self, connection: ServerConnection, session: Session, resumed: bool) -> None:
        """Send ``connection_established``: the first frame, so without waiting (and kept by nobody after)."""
        hello = ConnectionEstablished(
            session_id=session.id, token=session.token, resumed=resumed, timestamp=self._clock.now()
        )
        self._fanout.send(connection, [hello.to_json()])

    def _admit_frame(self, client: Client, frame: str | bytes, full: bool) -> Pending:
        """The frame to answer, or its refusal when it comes too fast or too much is waiting already."""
        if wait := client.messages.take(self._clock.monotonic()):
            limited = Rejection(ErrorCode.RATE_LIMITED, "too many messages; slow down", retry_after_ms=wait)
        elif full:
            limited = Rejection(ErrorCode.RATE_LIMITED, "too many messages waiting; wait for the replies")
        else:
            return frame
        return self._refusals.error_message(limited).model_copy(update=_request_id_of(frame))

    async def _answer_in_turn(self, client: Client, pending: asyncio.Queue[Pending]) -> None:
        connection = client.connection
        while (item := await pending.get()) is not None:
            if connection.state is not State.OPEN:
                continue  # gone: nobody waits for the answer, so the work is not done
            if self._fanout.overloaded(connection):  # it asks but does not read the answers
                self._fanout.evict(connection)
                continue
            reply = item if isinstance(item, ServerEnvelope) else await self._answer(client, item)
            # Written without waiting, like broadcasts and in order with them: a client that asks but does
            # not read is cut off past the slow-consumer limit instead of stalling its own line.
            if reply is not None and self._fanout.send(connection, [reply.to_json()]):
                self._metrics.messages_sent.labels("reply").inc()

    async def _answer(self, client: Client, frame: str | bytes) -> ServerEnvelope | None:
        """The reply to one frame, carrying the frame's requestId; None when the reply was already sent."""
        message = self._parse(frame)
        if isinstance(message, Rejection):
            self._metrics.messages_received.labels("invalid").inc()
            return self._refusals.error_message(message).model_copy(update=_request_id_of(frame))
        self._metrics.messages_received.labels(message.type).inc()
        try:
            reply = await self._dispatch(client, message)
        except Exception:
            log.exception("failed to answer a message from session %s", client.session_id)
            reply = Rejection(ErrorCode.INTERNAL_ERROR, "the server failed to handle this message; nothing changed")
        if reply is None:
            return None
        answer = self._refusals.error_message(reply) if isinstance(reply, Rejection) else reply
        return answer if message.request_id is None else answer.model_copy(update={"request_id": message.request_id})

    async def _ack(self, client: Client, outcome: Accepted | Rejection) -> Ack | Rejection:
        """The ack, once the changes it caused went out to a requester that follows the showtime."""
        if isinstance(outcome, Rejection):
            return outcome
        if outcome.seq is not None and outcome.showtime_id in self._fanout.subscriptions_of(client.connection):
            try:
                await asyncio.wait_for(self._fanout.delivered(outcome.showtime_id, outcome.seq), self._ack_wait)
            except TimeoutError:
                log.warning("acked before its change was delivered", extra={"showtime": outcome.showtime_id})
        return Ack.of(outcome)

    def _parse(self, frame: str | bytes) -> ClientMessage | Rejection:
        if isinstance(frame, bytes):
            return Rejection(ErrorCode.INVALID_MESSAGE, "send JSON messages in text frames")
        most = self._limits.max_message_bytes
        # Characters are at most four bytes: count the bytes only when the characters leave it open.
        if len(frame) * 4 > most and len(frame.encode()) > most:
            return Rejection(ErrorCode.MESSAGE_TOO_LARGE, f"messages are limited to {most} bytes")
        try:
            return client_message.validate_json(frame, by_name=False)  # the wire names only
        except ValidationError as error:
            return Rejection(ErrorCode.INVALID_MESSAGE, describe(error, "message"))

    async def _dispatch(self, client: Client, message: ClientMessage) -> ServerEnvelope | Rejection | None:
        session_id = client.session_id
        match message:
            case Subscribe():
                joined = await self._subscriptions.subscribe(
                    client.connection,
                    session_id,
                    message.showtime_id,
                    message.last_seq,
                    message.request_id,
                    message.batch,
                    message.audience,
                )
                if isinstance(joined, Joined):
                    self._fanout.send(client.connection, joined.frames)
                    return None
                if isinstance(joined, Dropped):
                    self._fanout.send(client.connection, [joined.notice])
                    return joined.rejection
                return joined
            case Unsubscribe():
                self._subscriptions.unsubscribe(client.connection, message.showtime_id)
                return Unsubscribed(showtime_id=message.showtime_id)
            case Lock() | Extend() | Unlock() | Book() if message.idempotency_key is not None:
                return await self._change_once(client, message, message.idempotency_key)
            case Lock() | Extend() | Unlock() | Book():
                return await self._change(client, message)
            case Ping():
                return Pong(timestamp=self._clock.now())
            case Authenticate():
                if not same_secret(message.admin_key, self._admin_key):
                    return Rejection(ErrorCode.UNAUTHORIZED, "that is not the admin key")
                client.admin = True
                return Authenticated()
            case SubscribeFigures():
                if not client.admin or self._figures is None:
                    return Rejection(ErrorCode.UNAUTHORIZED, "send authenticate with the admin key first")
                reply = await self._figures.follow(client.connection, message.showtime_id, message.request_id)
                if isinstance(reply, Rejection):
                    return reply
                self._fanout.send(client.connection, [reply])
                return None

    async def _change(self, client: Client, message: Lock | Extend | Unlock | Book) -> Ack | Rejection:
        """Carry out a seat change, logged as asked over the socket."""
        session_id, selection = client.session_id, message.selection()
        match message:
            case Lock():
                outcome = await self._service.lock(session_id, message.showtime_id, selection, Channel.SOCKET)
            case Extend():
                outcome = await self._service.extend(session_id, message.showtime_id, selection, Channel.SOCKET)
            case Unlock():
                outcome = await self._service.unlock(session_id, message.showtime_id, selection, Channel.SOCKET)
            case Book():
                outcome = await self._service.book(
                    session_id, message.showtime_id, selection, message.new_booking(), Channel.SOCKET
                )
        return await self._ack(client, outcome)

    async def _change_once(
        self, client: Client, message: Lock | Extend | Unlock | Book, key: str
    ) -> Ack | ErrorMessage | Rejection:
        """A change with an idempotency key: done once per key in the session, its reply frame kept and sent
        again (with the new message's requestId) to the same message with the same key."""
        # The message as sent, but for what only names this attempt of it.
        body = message.model_dump_json(by_alias=True, exclude={"request_id", "idempotency_key"}).encode()

        async def run() -> Answered[Ack | ErrorMessage]:
            reply = await self._change(client, message)
            if isinstance(reply, Ack):
                return Answered(reply, Stored(int(HTTPStatus.OK), reply.to_json()))
            error = self._refusals.error_message(reply)
            kept = Stored(int(STATUS_OF[reply.code]), error.to_json()) if keeps(reply.code) else None
            return Answered(error, kept)

        found = await self._idempotency.once(client.session_id, key, fingerprint("WS", message.type, body), run)
        return keyed_reply.validate_json(found.answer.body, strict=False) if isinstance(found, Replayed) else found


REQUEST_ID: TypeAdapter[str | int] = TypeAdapter(RequestId)


def _request_id_of(frame: str | bytes) -> dict[str, str | int | None]:
    """The requestId of a frame refused before or in validation, as an update of its error.

    Read from the parsed JSON: ``{}`` (the error carries none) when there is none or it is null; None (the
    error carries ``"requestId": null``) when the frame is not JSON or its requestId is not a valid one.
    """
    try:
        value = pydantic_core.from_json(frame)  # the parser of validate_json: the same JSON, the same limits
    except ValueError:
        return {"request_id": None}
    if not isinstance(value, dict) or value.get("requestId") is None:
        return {}
    try:
        return {"request_id": REQUEST_ID.validate_python(value["requestId"], strict=True)}
    except ValidationError:
        return {"request_id": None}
