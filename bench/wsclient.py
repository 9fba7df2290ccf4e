"""A lean WebSocket client for the load generator: one asyncio protocol, no task or queue per connection.

Thousands of ``websockets`` client connections in one process cost a task wake-up and a queue hop per
message; this client parses frames right in ``data_received`` and hands each text message to a callback
with the instant its bytes arrived (``time.monotonic_ns()``, CLOCK_MONOTONIC: one clock for every process
on the machine). It speaks just enough RFC 6455 for the benchmark: the opening handshake (checked),
masked text frames out, unmasked frames in (text, ping answered with pong, close), no extensions.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import struct
import time
from collections.abc import Callable

__all__ = ["HandshakeError", "OnText", "WsClient"]

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_HANDSHAKE_BYTES = 16 * 1024
CONNECT_TIMEOUT = 30.0

# A text message's payload and the monotonic instant (ns) its last bytes were read.
OnText = Callable[[bytes, int], None]


class HandshakeError(ConnectionError):
    pass


class WsClient(asyncio.Protocol):
    def __init__(self, host: str, port: int, path: str, on_text: OnText) -> None:
        self._request_head = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        )
        self._key = base64.b64encode(os.urandom(16))
        self.on_text = on_text
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._upgraded = False

    @classmethod
    async def connect(cls, host: str, port: int, path: str, on_text: OnText) -> WsClient:
        """Open a connection and complete the opening handshake."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(CONNECT_TIMEOUT):
            _, client = await loop.create_connection(lambda: cls(host, port, path, on_text), host, port)
            await asyncio.shield(client.opened)
        return client

    # --- asyncio.Protocol ----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Close with a reset: no TIME_WAIT left behind by thousands of benchmark connections.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        head = self._request_head + f"Sec-WebSocket-Key: {self._key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        transport.write(head.encode())

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        buffer = self._buffer
        buffer += data
        if not self._upgraded and not self._finish_handshake():
            return
        while True:
            available = len(buffer)
            if available < 2:
                return
            first, second = buffer[0], buffer[1]
            length = second & 0x7F
            start = 2
            if length == 126:
                if available < 4:
                    return
                length = int.from_bytes(buffer[2:4], "big")
                start = 4
            elif length == 127:
                if available < 10:
                    return
                length = int.from_bytes(buffer[2:10], "big")
                start = 10
            if second & 0x80:
                self._fail("the server masked a frame")
                return
            end = start + length
            if available < end:
                return
            payload = bytes(buffer[start:end])
            del buffer[:end]
            self._frame(first & 0x80 != 0, first & 0x0F, payload, now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(HandshakeError(f"connection lost during the handshake: {exc!r}"))
        if not self.closed.done():
            self.closed.set_result(None)

    # --- sending -------------------------------------------------------------------------------------------

    def send_text(self, payload: bytes) -> None:
        self._send(OP_TEXT, payload)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    @property
    def is_open(self) -> bool:
        return self.opened.done() and not self.closed.done()

    # --- internals -----------------------------------------------------------------------------------------

    def _send(self, opcode: int, payload: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("the connection is closed")
        length = len(payload)
        if length < 126:
            header = bytes((0x80 | opcode, 0x80 | length))
        elif length < 65536:
            header = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
        else:
            header = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
        mask = os.urandom(4)
        self._transport.write(header + mask + _apply_mask(payload, mask))

    def _finish_handshake(self) -> bool:
        """Consume the server's handshake response from the buffer; False while it is incomplete."""
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HANDSHAKE_BYTES:
                self._fail("handshake response too large")
            return False
        head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        status = head[0].split(" ", 2)
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:])}
        accept = base64.b64encode(hashlib.sha1(self._key + GUID).digest()).decode()
        if len(status) < 2 or status[1] != "101":
            self._fail(f"handshake refused: {head[0]}")
        elif headers.get("sec-websocket-accept") != accept:
            self._fail("handshake: wrong Sec-WebSocket-Accept")
        elif headers.get("sec-websocket-extensions"):
            self._fail("handshake: unexpected extensions")
        else:
            self._upgraded = True
            self.opened.set_result(None)
            return True
        return False

    def _frame(self, fin: bool, opcode: int, payload: bytes, now: int) -> None:
        if opcode in (OP_TEXT, OP_CONTINUATION):
            if not fin:
                self._fragments.append(payload)
                return
            if self._fragments:
                payload = b"".join((*self._fragments, payload))
                self._fragments.clear()
            self.on_text(payload, now)
        elif opcode == OP_PING:
            self._send(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.abort()
        elif opcode == OP_BINARY:
            self._fail("unexpected binary frame")

    def _fail(self, reason: str) -> None:
        if not self.opened.done():
            self.opened.set_exception(HandshakeError(reason))
        self.abort()


def _apply_mask(payload: bytes, mask: bytes) -> bytes:
    length = len(payload)
    if not length:
        return payload
    repeated = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
