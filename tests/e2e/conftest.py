"""Fixtures of the browser tests (the demo page's and the dashboard's): one Chromium per module, and the tabs
of one test, closed before its servers stop and checked for script errors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.browser import ARTIFACTS, CHROMIUM_ARGS, Buyers, chromium_executable
from tests.conftest import StartServer


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_executable()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        yield launched
        await launched.close()


@pytest.fixture
async def buyers(browser: Browser, start_server: StartServer, request: pytest.FixtureRequest) -> AsyncIterator[Buyers]:
    # Depends on start_server so that the tabs close before the servers stop.
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
    opened = Buyers(browser, folder)
    yield opened
    await opened.close()
    opened.check()
