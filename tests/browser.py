"""Driving the demo page in a real browser: Debian's chromium through Playwright's async API.

Each :class:`Buyer` is a browser context of its own, so its own ``sessionStorage`` and therefore its own
session on the server: two buyers are two people. The page's vocabulary (seats by ``data-seat``, their
state in ``data-state``, the connection indicator, the messages) is spelled out here once.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, WebSocketRoute, expect

__all__ = [
    "ARTIFACTS",
    "CHROMIUM_ARGS",
    "SOON_MS",
    "Buyer",
    "Buyers",
    "SocketTap",
    "chromium_executable",
    "side_by_side",
]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "browser"

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# How long to wait for the page to show something. The page reacts "within a blink"; the bound is
# generous because CI machines are noisy. It is a timeout, never a speed assertion.
SOON_MS = 5_000

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 860}}


def chromium_executable() -> str:
    """Debian's chromium. Without it the browser tests are skipped, except on CI, where they fail."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "the browser tests need Debian's chromium package (scripts/bootstrap installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"chromium is missing on CI: {reason}")
    pytest.skip(reason)


class Buyer:
    """One tab of the demo page, and what the test reads and does on it."""

    def __init__(self, name: str, page: Page) -> None:
        self.name = name
        self.page = page
        self.errors: list[str] = []  # uncaught exceptions in the page's scripts
        self.requests: list[str] = []  # every address the page asked for, WebSockets included
        self.console: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: self.console.append(message.text))
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("websocket", lambda websocket: self.requests.append(websocket.url))

    @property
    def context(self) -> BrowserContext:
        return self.page.context

    @property
    def connection(self) -> Locator:
        return self.page.locator("#connection")

    @property
    def messages(self) -> Locator:
        return self.page.locator("#messages")

    @property
    def countdown(self) -> Locator:
        return self.page.locator("#countdown")

    @property
    def total(self) -> Locator:
        return self.page.locator("#total")

    def seat(self, seat_id: str) -> Locator:
        return self.page.locator(f'#seatmap [data-seat="{seat_id}"]')

    async def open(self, base_url: str, showtime_id: str, timeout: float = SOON_MS) -> None:
        await self.page.goto(f"{base_url}/?showtime={showtime_id}")
        await self.expect_live(timeout)

    async def expect_live(self, timeout: float = SOON_MS) -> None:
        """Connected, and the map drawn from a snapshot taken since."""
        await expect(self.connection).to_have_attribute("data-state", "connected", timeout=timeout)
        await expect(self.page.locator("#map-frame")).to_have_attribute("data-stale", "false", timeout=timeout)

    async def expect_seat(self, seat_id: str, state: str, timeout: float = SOON_MS) -> None:
        await expect(self.seat(seat_id)).to_have_attribute("data-state", state, timeout=timeout)

    async def hold(self, seat_id: str) -> None:
        await self.expect_seat(seat_id, "available")
        await self.seat(seat_id).click()
        await self.expect_seat(seat_id, "mine")

    async def release(self, seat_id: str) -> None:
        await self.expect_seat(seat_id, "mine")
        await self.seat(seat_id).click()
        await self.expect_seat(seat_id, "available")

    async def book(self, name: str, email: str) -> str:
        """Book every seat held (a page without the demo's payment step); the booking reference shown."""
        await self.submit_booking(name, email)
        return await self.reference()

    async def submit_booking(self, name: str, email: str) -> None:
        await self.page.get_by_label("Name", exact=True).fill(name)
        await self.page.get_by_label("Email", exact=True).fill(email)
        await self.page.locator("#book").click()

    async def pay(self) -> str:
        """Pay for the booking awaiting payment; the booking reference shown."""
        await expect(self.page.locator("#payment")).to_be_visible()
        await self.page.locator("#pay").click()
        return await self.reference()

    async def reference(self) -> str:
        reference = self.page.locator("#booking-reference")
        await expect(reference).to_have_text(re.compile(r"^bk_\w+$"), timeout=SOON_MS)
        return await reference.inner_text()

    async def screenshot(self, path: Path, full_page: bool = False) -> bytes:
        path.parent.mkdir(parents=True, exist_ok=True)
        return await self.page.screenshot(path=path, full_page=full_page, animations="disabled")


class Buyers:
    """The buyers of one test. ``close()`` saves a screenshot of each tab, then checks and closes them."""

    def __init__(self, browser: Browser, folder: Path) -> None:
        self.browser = browser
        self.folder = folder
        self.opened: list[Buyer] = []

    async def new(self, name: str, context: BrowserContext | None = None, **options: Any) -> Buyer:
        """A tab in a new browser context (a new buyer), or in ``context`` (still a new sessionStorage)."""
        if context is None:
            context = await self.browser.new_context(
                **(DESKTOP | {"locale": "en-US", "timezone_id": "Europe/Berlin"} | options)
            )
        buyer = Buyer(name, await context.new_page())
        self.opened.append(buyer)
        return buyer

    async def close(self) -> None:
        for buyer in self.opened:
            if not buyer.page.is_closed():
                await buyer.screenshot(self.folder / f"{buyer.name}.png")
        contexts = {id(buyer.context): buyer.context for buyer in self.opened}
        for context in contexts.values():
            await context.close()

    def check(self) -> None:
        """No script error on any page, and nothing fetched from anywhere but this machine's server."""
        for buyer in self.opened:
            assert buyer.errors == [], f"{buyer.name}: errors on the page: {buyer.errors}"
            foreign = [url for url in buyer.requests if not _is_local(url)]
            assert foreign == [], f"{buyer.name}: requests to other hosts: {foreign}"


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"data", "blob"} or parts.hostname == "127.0.0.1"


class SocketTap:
    """Sits between a page and the server's WebSocket, passing every frame on except those it is told to drop.

    Install it before the page opens. ``drop_change(seat)`` swallows the next ``seat_status_change``
    about that seat, as if the network had lost it.
    """

    def __init__(self) -> None:
        self.dropped: list[str] = []
        self._drop: set[str] = set()

    async def install(self, page: Page) -> None:
        await page.route_web_socket(re.compile(r"/ws/seat-updates"), self._route)

    def drop_change(self, seat_id: str) -> None:
        self._drop.add(seat_id)

    def _route(self, client: WebSocketRoute) -> None:
        server = client.connect_to_server()
        server.on_message(self._forwarder(client))

    def _forwarder(self, client: WebSocketRoute) -> Callable[[str | bytes], None]:
        def forward(frame: str | bytes) -> None:
            seat = _changed_seat(frame)
            if seat is not None and seat in self._drop:
                self._drop.discard(seat)
                self.dropped.append(seat)
                return
            client.send(frame)

        return forward


def _changed_seat(frame: str | bytes) -> str | None:
    if not isinstance(frame, str) or '"seat_status_change"' not in frame:
        return None
    found = re.search(r'"seatId":"([^"]+)"', frame)
    return found.group(1) if found else None


async def side_by_side(browser: Browser, shots: list[tuple[str, bytes]], path: Path) -> None:
    """One picture of several tabs next to each other, each under its caption (for the README)."""
    figures = "".join(
        f'<figure><figcaption>{caption}</figcaption><img src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        "</figure>"
        for caption, png in shots
    )
    page = await browser.new_page(viewport={"width": 1000, "height": 400})
    try:
        await page.set_content(
            "<style>"
            "body{margin:0;padding:20px;display:flex;gap:20px;background:#05070f;width:max-content;"
            "font:600 15px system-ui,sans-serif;color:#c9d1ea}"
            "figure{margin:0}figcaption{margin:0 0 10px 4px}"
            "img{display:block;width:960px;border-radius:12px;box-shadow:0 0 0 1px #283150}"
            f"</style>{figures}"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=path, full_page=True)
    finally:
        await page.close()
