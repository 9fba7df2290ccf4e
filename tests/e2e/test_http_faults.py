"""The HTTP port under attack and faults: slow or half-open connections, the file limit, undecodable requests.

Attackers connect from other loopback addresses than the client they must not disturb (127.0.0.1), by binding
their sockets' source address: the per-address limits see them as different hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import os
import resource
import socket
import sys
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.client import SeatClient
from tests.conftest import Running, StartServer, eventually
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]
ATTACKER, OTHER_ATTACKER = "127.0.0.2", "127.0.0.3"
PARTIAL_HEAD = b"GET /api/showtimes HTTP/1.1\r\nHost: 127.0.0.1\r\n"


async def open_from(source: str, port: int, timeout: float = 5) -> socket.socket:
    """A raw TCP connection to ``port`` from the loopback address ``source``."""
    raw = socket.socket()
    raw.setblocking(False)
    raw.bind((source, 0))
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", port)), timeout)
    except BaseException:
        raw.close()
        raise
    return raw


async def read_until_closed(raw: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection; fails if it is still open after ``timeout``."""
    received = b""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        while chunk := await loop.sock_recv(raw, 65536):
            received += chunk
    return received


# --- Slow and half-open connections -------------------------------------------------------------------------


async def slow_requests(port: int, count: int) -> list[socket.socket]:
    """Up to ``count`` connections from the attacker, each with a request head begun and not finished."""
    opened: list[socket.socket] = []

    async def start_one() -> None:
        with contextlib.suppress(OSError, TimeoutError):
            raw = await open_from(ATTACKER, port, timeout=2)
            opened.append(raw)
            with contextlib.suppress(OSError):
                await asyncio.get_running_loop().sock_sendall(raw, PARTIAL_HEAD + b"X-Slow: ")

    for _ in range(count // 100):  # in waves, as fast as the server accepts them
        await asyncio.gather(*(start_one() for _ in range(100)))
    return opened


@dataclass
class Served:
    pid: int
    ws_port: int
    http_port: int
    log: Path  # what it wrote to stderr


@contextlib.asynccontextmanager
async def served(tmp_path: Path, files: int, **env: str) -> AsyncIterator[Served]:
    """``python -m server`` on SQLite with its demo data.

    Its soft and hard open-file limits are set to ``files``; to ``-files`` only the soft one, when negative.
    """
    ws_port, http_port = free_port(), free_port()
    environment = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}} | {
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "WEBSOCKET_SERVER_PORT": str(ws_port),
        "HTTP_PORT": str(http_port),
        **env,
    }

    def limit_files() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (abs(files), hard if files < 0 else files))

    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server", cwd=tmp_path, env=environment, preexec_fn=limit_files,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                if process.returncode is not None:
                    pytest.fail(f"the server exited at start: {log.read_text()}")
                try:
                    async with http.get(f"http://127.0.0.1:{http_port}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("the server did not start in time")
        yield Served(process.pid, ws_port, http_port, log)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_a_slowloris_from_one_address_does_not_stop_anyone_else(tmp_path: Path) -> None:
    """Hundreds of requests whose headers never end, from one address, on a server with 256 files at most.

    Each stays open as long as the server lets it; every half second one more header byte is sent on each.
    Meanwhile another address opens a socket, holds a seat and calls the REST API.
    """
    async with served(tmp_path, 256) as server:
        ws_port, http_port = server.ws_port, server.http_port
        attack: list[socket.socket] = []
        stop = asyncio.Event()

        async def drip() -> None:
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                for raw in list(attack):
                    try:
                        await loop.sock_sendall(raw, b"X")
                    except OSError:  # refused or timed out by the server
                        attack.remove(raw)
                        raw.close()
                await asyncio.sleep(0.5)

        try:
            attack += await slow_requests(http_port, 400)
            dripping = asyncio.create_task(drip())
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                async with http.get(f"http://127.0.0.1:{http_port}/api/showtimes") as response:
                    assert response.status == 200
                    showtime = (await response.json())[0]["id"]
                client = await SeatClient.connect(f"ws://127.0.0.1:{ws_port}/ws/seat-updates")
                ack = await client.request("lock", showtimeId=showtime, seatIds=["E7"])
                assert ack["type"] == "ack", ack
                headers = {"Authorization": f"Bearer {client.token}"}
                body = {"showtimeId": showtime, "seatIds": ["E8"]}
                async with http.post(f"http://127.0.0.1:{http_port}/api/seat-locks", json=body, headers=headers) as r:
                    assert r.status == 200, await r.text()
                await client.close()
            stop.set()
            await dripping
        finally:
            stop.set()
            for raw in attack:
                raw.close()


async def test_running_out_of_files_is_logged_as_a_line_now_and_then(tmp_path: Path) -> None:
    """With the limits lifted, a flood does exhaust the descriptors: the failed accepts are logged, throttled."""
    lifted = {"MAX_CONNECTIONS": "100000", "MAX_CONNECTIONS_PER_IP": "100000"}
    async with served(tmp_path, 256, **lifted) as server:
        attack = await slow_requests(server.http_port, 400)
        try:
            await asyncio.sleep(3)  # asyncio retries a failed accept every second
        finally:
            for raw in attack:
                raw.close()
    log = server.log.read_text()
    exhausted = [line for line in log.splitlines() if "Too many open files" in line]
    assert len(exhausted) == 1, log
    assert "Traceback" not in log, log


async def test_the_soft_file_limit_is_raised_to_the_hard_limit_at_start(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard <= 512:
        pytest.skip(f"the hard open-file limit ({hard}) leaves nothing to raise")
    async with served(tmp_path, -512) as server:
        limits = await asyncio.to_thread(Path(f"/proc/{server.pid}/limits").read_text)
    soft, hard_seen = next(line.split()[3:5] for line in limits.splitlines() if line.startswith("Max open files"))
    assert soft == hard_seen, limits


async def test_a_connection_whose_headers_never_end_is_closed(start_server: StartServer) -> None:
    running = await start_server(http_idle_timeout_seconds=1)
    raw = await open_from(ATTACKER, running.server.http_port)
    try:
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(raw, PARTIAL_HEAD)

        async def drip() -> None:
            with contextlib.suppress(OSError):
                for _ in range(100):
                    await loop.sock_sendall(raw, b"X-Slow: 1\r\n")
                    await asyncio.sleep(0.1)

        dripping = asyncio.create_task(drip())
        assert await read_until_closed(raw, 10) == b""  # closed without an answer
        await dripping
    finally:
        raw.close()


async def test_a_body_that_does_not_arrive_in_time_is_refused(start_server: StartServer) -> None:
    running = await start_server(http_body_timeout_seconds=1)
    _, token = await running.session()
    raw = await open_from(ATTACKER, running.server.http_port)
    try:
        head = (
            "POST /api/seat-locks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n"
        )
        await asyncio.get_running_loop().sock_sendall(raw, head.encode() + b'{"showtimeId":')
        answer = await read_until_closed(raw, 20)
    finally:
        raw.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert orjson.loads(answer.partition(b"\r\n\r\n")[2])["code"] == "invalid_message"


async def test_one_connection_budget_per_address_covers_both_ports(start_server: StartServer) -> None:
    running = await start_server(max_connections_per_ip=3)
    http_port = running.server.http_port

    async def socket_from(source: str) -> SeatClient:
        connection = await connect(running.ws_url, local_addr=(source, 0), open_timeout=10)
        return SeatClient(connection, orjson.loads(await asyncio.wait_for(connection.recv(), 10)))

    async def http_answer_from(source: str) -> bytes:
        raw = await open_from(source, http_port)
        try:
            await asyncio.get_running_loop().sock_sendall(raw, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            return await read_until_closed(raw, 10)  # closed: a refusal, or the idle timeout
        except TimeoutError:
            return b"still open"
        finally:
            raw.close()

    sockets = [await socket_from(OTHER_ATTACKER) for _ in range(2)]
    held = await open_from(OTHER_ATTACKER, http_port)  # the third: an idle HTTP connection
    try:
        refused = await http_answer_from(OTHER_ATTACKER)
        assert refused.startswith(b"HTTP/1.1 429 "), refused
        assert orjson.loads(refused.partition(b"\r\n\r\n")[2])["code"] == "too_many_connections"
        with pytest.raises(InvalidStatus) as handshake:
            await socket_from(OTHER_ATTACKER)
        assert handshake.value.response.status_code == 429
        # Another address is not affected.
        async with running.http.get(f"{running.http_url}/healthz") as response:
            assert response.status == 200
        assert (await (await running.client()).request("ping"))["type"] == "pong"
    finally:
        held.close()
    # The idle HTTP connection closed: its slot is free for a socket again.
    await eventually(lambda: _handshake_succeeds(socket_from, OTHER_ATTACKER))
    for client in sockets:
        await client.close()


async def _handshake_succeeds(open_socket: Callable[[str], Awaitable[SeatClient]], source: str) -> bool:
    try:
        client = await open_socket(source)
    except InvalidStatus:
        return False
    await client.close()
    return True


# --- Undecodable requests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_an_undecodable_compressed_body_is_a_400_problem(
    running: Running, encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    showtime = await running.showtime()
    _, token = await running.session()
    valid = orjson.dumps({"showtimeId": showtime, "seatIds": ["A1"]})
    garbage = b"\x1f\x8b\x08\x00not really compressed" if encoding == "gzip" else b"\x78\x9cnot deflate either"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Content-Encoding": encoding}
    with caplog.at_level(logging.WARNING):
        async with running.http.post(
            f"{running.http_url}/api/seat-locks", data=garbage, headers=headers, compress=False
        ) as response:
            problem = await response.json(content_type=None)
    assert (response.status, problem["code"]) == (400, "invalid_message"), problem
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    # The same body, compressed properly, is read.
    encoded = gzip.compress(valid) if encoding == "gzip" else zlib.compress(valid)
    async with running.http.post(f"{running.http_url}/api/seat-locks", data=encoded, headers=headers) as response:
        assert response.status == 200, await response.text()


async def test_malformed_requests_are_logged_as_one_rate_limited_warning(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    sent = 20
    with caplog.at_level(logging.DEBUG):
        for number in range(sent):
            raw = await open_from(ATTACKER, running.server.http_port)
            try:
                await asyncio.get_running_loop().sock_sendall(raw, f"GET / HTTX/{number}\r\n\r\n".encode())
                answer = await read_until_closed(raw, 10)
            finally:
                raw.close()
            assert answer.split(b" ", 2)[1] == b"400", answer  # HTTP/1.0: the request's version is unknown
            assert orjson.loads(answer.partition(b"\r\n\r\n")[2])["code"] == "invalid_message"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "malformed" in r.getMessage()]
    assert 1 <= len(warnings) < sent, [r.getMessage() for r in warnings]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in warnings)
