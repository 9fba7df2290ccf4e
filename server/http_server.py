"""The HTTP port's connections: which ones aiohttp gets, how long a silent one may stay, how garbage is answered.

Each accepted connection is counted against its peer's address in the budget it shares with the
WebSocket port, from accept to close; over budget, it is answered 429 and closed at once, before a byte is
read, so a flood from one address cannot use up the server's file descriptors. A trusted proxy's connections
carry many clients: they count toward the server's ceiling only (the socket counts each client by address).

aiohttp's keep-alive timer doubles as the header timeout: it starts when the connection opens and after each
response, and only a complete request head stops it, so headers sent a byte at a time do not keep a
connection open longer than an idle one. A request that cannot be parsed is answered with a problem body
and logged as one warning line, at most every few seconds, instead of a traceback per request.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from server.connections import PortConnections
from server.core.errors import ErrorCode, Rejection
from server.core.proxies import Network, is_trusted
from server.http import problem_response
from server.logs import Throttled
from server.rejections import Refusals
from server.settings import TransportSettings

__all__ = ["listen"]

log = logging.getLogger(__name__)

MALFORMED = Rejection(ErrorCode.INVALID_MESSAGE, "the request could not be read as HTTP/1.1")


class HttpConnection(web.RequestHandler):
    """aiohttp's handler of one connection, counted in the budget and refused at once when over it."""

    def __init__(
        self,
        server: web.Server,
        connections: PortConnections,
        refusals: Refusals,
        proxies: tuple[Network, ...],
        malformed: Throttled,
        keepalive_timeout: float,
    ) -> None:
        super().__init__(server, loop=asyncio.get_running_loop(), keepalive_timeout=keepalive_timeout)
        self._connections = connections
        self._refusals = refusals
        self._proxies = proxies
        self._malformed = malformed
        self._counted_as: str | None = None
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "unknown"
        counted_as = None if is_trusted(address, self._proxies) else address
        if refused := self._connections.refusal(counted_as):
            problem = self._refusals.problem(refused)
            body = problem.to_json().encode()
            head = (
                f"HTTP/1.1 {problem.status} {HTTPStatus(problem.status).phrase}\r\n"
                f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(head.encode() + body)
            transport.close()  # aiohttp never sees it
            return
        self._connections.open(counted_as)
        self._counted_as, self._counted = counted_as, True
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._counted:  # refused in connection_made
            return
        self._connections.close(self._counted_as)
        self._counted = False
        super().connection_lost(exc)

    def handle_error(
        self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        """A request aiohttp could not parse: a 400 problem and a warning line, not an error with a traceback."""
        if status != HTTPStatus.BAD_REQUEST or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)
        self._malformed_request(exc)
        response = problem_response(self._refusals.problem(MALFORMED))
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        """A body that broke off or does not decode surfaces here too, once answered: the client's fault."""
        error = kwargs.get("exc_info")
        if isinstance(error, web.RequestPayloadError | HttpProcessingError):
            self._malformed_request(error)
        else:
            super().log_exception(*args, **kwargs)

    def _malformed_request(self, error: BaseException | None) -> None:
        peer = self.peername[0] if isinstance(self.peername, tuple) else self.peername
        reason = " ".join(str(error).split())[:200]  # aiohttp's messages span lines and quote the bytes
        self._malformed.warning("malformed HTTP request from %s: %s", peer, reason)


async def listen(
    runner: web.AppRunner,
    sock: socket.socket,
    connections: PortConnections,
    refusals: Refusals,
    transport: TransportSettings,
) -> asyncio.Server:
    """Serve ``runner``'s application on ``sock``, which is already bound and listening."""
    server, proxies, idle = runner.server, transport.trusted_networks, transport.http_idle_timeout_seconds
    assert server is not None, "the runner is set up first"
    malformed = Throttled(log, interval=10.0)
    return await asyncio.get_running_loop().create_server(
        lambda: HttpConnection(server, connections, refusals, proxies, malformed, idle), sock=sock
    )
