"""The documented nginx configuration, for real: Debian's nginx in front of two instances on one PostgreSQL and
one Redis, a browser through it, and per-client limits through it.

``deploy/nginx.conf`` is rendered, not copied: its upstreams and port are pointed at this test's processes,
and nginx runs unprivileged with its pid, logs and temporary files in a directory of the test's own.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from playwright.async_api import async_playwright
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from server.core.clock import SystemClock
from server.storage.database import create_engine
from server.storage.seed import create_showtime
from tests.browser import ARTIFACTS, CHROMIUM_ARGS, Buyers, chromium_executable
from tests.cluster import ROOT, Instance, redis_reachable, start_instance, unique_prefix
from tests.services import IN_CI, free_port

CONFIG = ROOT / "deploy" / "nginx.conf"
UPSTREAM = re.compile(r"server seats-(\d):(8000|8080);")
PER_CLIENT_CONNECTIONS = 2  # per instance


def render(instances: list[Instance], port: int, directory: Path) -> str:
    """deploy/nginx.conf pointed at ``instances`` and listening on ``port``, writing only into ``directory``."""
    text = CONFIG.read_text()

    def upstream(match: re.Match[str]) -> str:
        instance = instances[int(match[1]) - 1]
        return f"server 127.0.0.1:{instance.http_port if match[2] == '8000' else instance.ws_port};"

    text, upstreams = UPSTREAM.subn(upstream, text)
    text, listens = re.subn(r"^(\s*)listen 80;", rf"\1listen 127.0.0.1:{port};", text, flags=re.MULTILINE)
    paths = "".join(f"    {kind}_temp_path {directory / kind};\n" for kind in ("client_body", "proxy", "fastcgi"))
    paths += "".join(f"    {kind}_temp_path {directory / kind};\n" for kind in ("uwsgi", "scgi"))
    text, blocks = re.subn(
        r"^http \{\n", f"http {{\n    access_log {directory / 'access.log'};\n{paths}", text, flags=re.M
    )
    assert (upstreams, listens, blocks) == (4, 1, 1), "deploy/nginx.conf no longer has the shape this test renders"
    return text


def nginx_executable() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    reason = "this test needs Debian's nginx package (scripts/bootstrap installs it)"
    if IN_CI:
        pytest.fail(f"nginx is missing on CI: {reason}")
    pytest.skip(reason)


class Nginx:
    """nginx in the foreground, as an unprivileged user, everything it writes in a directory of its own."""

    def __init__(self, instances: list[Instance], port: int) -> None:
        self.port = port
        self.directory = Path(tempfile.mkdtemp(prefix="seat-nginx-"))
        self.directory.chmod(0o755)
        self.config = self.directory / "nginx.conf"
        self.config.write_text(render(instances, self.port, self.directory))
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        as_nobody: list[str] = []
        if os.geteuid() == 0:  # root in a container or CI: drop to nobody, as nginx should never run as root here
            nobody = pwd.getpwnam("nobody")
            os.chown(self.directory, nobody.pw_uid, nobody.pw_gid)
            as_nobody = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        self.process = await asyncio.create_subprocess_exec(
            *as_nobody, nginx_executable(), "-e", "stderr", "-p", str(self.directory), "-c", str(self.config),
            "-g", f"daemon off; pid {self.directory / 'nginx.pid'};",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                if self.process.returncode is not None:
                    assert self.process.stderr is not None
                    pytest.fail(f"nginx exited: {(await self.process.stderr.read()).decode()}")
                try:
                    async with http.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
        pytest.fail("nginx did not start")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def proxy_port() -> int:
    return free_port()


@pytest.fixture
async def instances(postgres_url: str, proxy_port: int) -> AsyncIterator[list[Instance]]:
    redis_url = await redis_reachable()
    prefix = unique_prefix()
    settings = {
        "TRUSTED_PROXIES": "127.0.0.1",  # where nginx connects from
        "PUBLIC_WEBSOCKET_URL": f"ws://127.0.0.1:{proxy_port}/ws/seat-updates",
        "MAX_CONNECTIONS_PER_IP": str(PER_CLIENT_CONNECTIONS),
    }
    started = [await start_instance(postgres_url, redis_url, prefix, **settings) for _ in range(2)]
    yield started
    await asyncio.gather(*(instance.stop() for instance in started))


@pytest.fixture
async def nginx(instances: list[Instance], proxy_port: int) -> AsyncIterator[Nginx]:
    proxy = Nginx(instances, proxy_port)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def open_socket(url: str, source: str, headers: dict[str, str] | None = None) -> ClientConnection | str:
    """A socket through the proxy from the loopback address ``source``; the refusal's status and code if refused."""
    try:
        connection = await connect(url, local_addr=(source, 0), additional_headers=headers)
    except InvalidStatus as refused:
        return f"{refused.response.status_code} {orjson.loads(refused.response.body)['code']}"
    assert orjson.loads(await connection.recv())["type"] == "connection_established"
    return connection


async def connections(instance: Instance) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{instance.http_url}/metrics") as response:
        found = re.search(r"^seat_connections (\S+)$", await response.text(), re.MULTILINE)
    assert found is not None
    return float(found[1])


async def test_pages_sockets_changes_and_limits_through_nginx(
    instances: list[Instance], nginx: Nginx, postgres_url: str, request: pytest.FixtureRequest
) -> None:
    engine = create_engine(postgres_url)
    try:
        showtime = await create_showtime(
            engine,
            rows=3,
            seats_per_row=6,
            title="Proxy " + secrets.token_hex(3),
            starts_at=SystemClock().now() + 3_600_000,
        )
    finally:
        await engine.dispose()
    socket_url = f"ws://127.0.0.1:{nginx.port}/ws/seat-updates"

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{nginx.url}/") as page:
            assert (page.status, page.content_type) == (200, "text/html")
        async with http.get(f"{nginx.url}/api/config") as config:
            assert (await config.json())["websocketUrl"] == socket_url

    # A buyer's browser, through the proxy, with ALLOWED_ORIGINS left empty: the origin check passes only
    # because nginx forwards the Host with its port.
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_executable(), args=list(CHROMIUM_ARGS))
        buyers = Buyers(browser, ARTIFACTS / request.node.name)
        try:
            buyer = await buyers.new("through-nginx")
            await buyer.open(nginx.url, showtime)
            counts = [await connections(instance) for instance in instances]
            assert sorted(counts) == [0, 1], counts
            # A seat held through the instance the browser is not on reaches it through Redis and the proxy.
            elsewhere = instances[counts.index(0)]
            holder = await elsewhere.client()
            assert (await holder.request("lock", showtimeId=showtime, seatIds=["B3"]))["type"] == "ack"
            await buyer.expect_seat("B3", "held")
            await holder.close()
        finally:
            await buyers.close()
            await browser.close()
        buyers.check()

    # Per-client limits through the proxy: clients on other loopback addresses than nginx's own.
    opened: list[ClientConnection] = []
    refusals = 0
    for _ in range(12):  # nginx spreads them over both instances; each takes PER_CLIENT_CONNECTIONS of this client
        attempt = await open_socket(socket_url, "127.0.0.2")
        if isinstance(attempt, str):
            assert attempt == "429 too_many_connections"
            refusals += 1
        else:
            opened.append(attempt)
        if len(opened) == 2 * PER_CLIENT_CONNECTIONS:
            break
    assert len(opened) == 2 * PER_CLIENT_CONNECTIONS, f"the client got {len(opened)} sockets, {refusals} refusals"
    # Full on both instances: a forged X-Forwarded-For or Forwarded does not make it someone else.
    for forged in ({"X-Forwarded-For": "198.51.100.9"}, {"Forwarded": "for=198.51.100.9"}):
        assert await open_socket(socket_url, "127.0.0.2", forged) == "429 too_many_connections"
    # Another client behind the same proxy is not affected.
    for _ in range(PER_CLIENT_CONNECTIONS):
        other = await open_socket(socket_url, "127.0.0.3")
        assert not isinstance(other, str), "a second client was refused for the first one's connections"
        opened.append(other)
    for connection in opened:
        await connection.close()
