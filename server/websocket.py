"""The WebSocket adapter: ``/ws/seat-updates``, JSON text frames, one reply per request.

It turns frames into messages, asks the service, and turns answers back into frames. A bad message is
answered with an ``error`` and changes nothing; the connection stays open. Only a frame over the hard
size ceiling (``MAX_MESSAGE_BYTES`` x 16) closes it, with 1009, because it must not be read into memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import orjson
from pydantic import ValidationError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from server.core.errors import ErrorCode, Rejection
from server.fanout import Fanout, send_now
from server.messages import (
    Book,
    ClientMessage,
    ConnectionEstablished,
    ErrorMessage,
    Lock,
    Ping,
    Pong,
    ServerEnvelope,
    Subscribe,
    Subscribed,
    Unlock,
    Unsubscribe,
    Unsubscribed,
    client_message,
)
from server.service import SeatService
from server.sessions import Sessions
from server.settings import Settings

__all__ = ["PATH", "SeatSocket", "error_message"]

log = logging.getLogger(__name__)

PATH = "/ws/seat-updates"
HARD_SIZE_FACTOR = 16


@dataclass(slots=True)
class Client:
    connection: ServerConnection
    session_id: str
    subscriptions: set[str] = field(default_factory=set)


def error_message(rejection: Rejection) -> ErrorMessage:
    return ErrorMessage(code=rejection.code, message=rejection.message, conflicting_seats=list(rejection.seats) or None)


class SeatSocket:
    def __init__(self, service: SeatService, fanout: Fanout, sessions: Sessions, settings: Settings) -> None:
        self._service = service
        self._fanout = fanout
        self._sessions = sessions
        self._max_message_bytes = settings.max_message_bytes

    async def serve(self, host: str, port: int) -> Server:
        return await serve(
            self.handle,
            host,
            port,
            process_request=self._check_path,
            max_size=self._max_message_bytes * HARD_SIZE_FACTOR,
            # Deflate would compress every broadcast once per subscriber; seat messages are tiny anyway.
            compression=None,
        )

    @staticmethod
    def _check_path(connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, f"WebSocket endpoint is {PATH}\n")
        return None

    async def handle(self, connection: ServerConnection) -> None:
        tokens = parse_qs(urlsplit(connection.request.path if connection.request else "").query).get("token")
        session, resumed = self._sessions.start(tokens[0] if tokens else None)
        client = Client(connection, session.id)
        try:
            await connection.send(
                ConnectionEstablished(
                    session_id=session.id, token=session.token, resumed=resumed, timestamp=self._service.now()
                ).to_json()
            )
            async for frame in connection:
                reply = await self._answer(client, frame)
                if reply is not None:
                    await connection.send(reply.to_json())
        except ConnectionClosed:
            pass
        finally:
            self._fanout.forget(connection, client.subscriptions)

    async def _answer(self, client: Client, frame: str | bytes) -> ServerEnvelope | None:
        """The reply to one frame, carrying the frame's requestId; None when the reply was already sent."""
        request_id = None
        try:
            message = self._parse(frame)
            if isinstance(message, Rejection):
                request_id = _request_id_of(frame)
                return error_message(message).model_copy(update={"request_id": request_id})
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
        if len(frame) > self._max_message_bytes:
            return Rejection(ErrorCode.MESSAGE_TOO_LARGE, f"messages are limited to {self._max_message_bytes} bytes")
        try:
            return client_message.validate_json(frame)
        except ValidationError as error:
            return Rejection(ErrorCode.INVALID_MESSAGE, _describe(error))

    async def _dispatch(self, client: Client, message: ClientMessage) -> ServerEnvelope | Rejection | None:
        match message:
            case Subscribe():
                return await self._subscribe(client, message)
            case Unsubscribe():
                self._fanout.unsubscribe(message.showtime_id, client.connection)
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
        """Join the showtime's fan-out and send its snapshot, with no change slipping in between.

        Subscribing again is allowed: it sends a fresh snapshot, which is how a client resyncs.
        """
        async with self._service.serialized(message.showtime_id):
            snapshot = await self._service.snapshot(client.session_id, message.showtime_id)
            if isinstance(snapshot, Rejection):
                return snapshot
            self._fanout.subscribe(message.showtime_id, client.connection)
            client.subscriptions.add(message.showtime_id)
            send_now(
                client.connection, Subscribed(request_id=message.request_id, showtime_id=message.showtime_id).to_json()
            )
            send_now(client.connection, snapshot.to_json())
        return None


def _request_id_of(frame: str | bytes) -> str | int | None:
    """Best effort: the requestId of a message that failed validation, so its error can carry it."""
    try:
        value = orjson.loads(frame).get("requestId")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    valid = (isinstance(value, str) and len(value) <= 128) or (isinstance(value, int) and not isinstance(value, bool))
    return value if valid else None


def _describe(error: ValidationError) -> str:
    """A short, readable summary of what was wrong, without echoing the client's input back."""
    problems = []
    for detail in error.errors(include_input=False, include_url=False)[:3]:
        where = ".".join(str(part) for part in detail["loc"]) or "message"
        problems.append(f"{where}: {detail['msg']}")
    return "; ".join(problems)
