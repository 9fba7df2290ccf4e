"""The operator's dashboard in a real browser: the admin key typed in once, every showtime's figures updating
while a load generator (a few socket clients) holds and books seats, and the seat map coloured by status.

Driven through Debian's chromium by Playwright, like the demo page; every wait is bounded (``SOON_MS`` unless
said otherwise), none is a speed assertion.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser import SOON_MS, Buyer, Buyers
from tests.client import SeatClient
from tests.conftest import Running, StartServer
from tests.e2e.test_demo_browser import THEATRE_PRICES, example_showtime

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

KEY = "operator-key-for-the-dashboard-test"
CUSTOMER = {"name": "Ada Lovelace", "email": "ada@example.com"}


async def sign_in(page: Page, key: str) -> None:
    await page.get_by_label("Admin key").fill(key)
    await page.get_by_role("button", name="Open the dashboard").click()


def row(page: Page, showtime_id: str) -> Locator:
    return page.locator(f'#showtimes [data-showtime="{showtime_id}"]')


async def operator(buyers: Buyers, running: Running) -> Buyer:
    tab = await buyers.new("operator", viewport={"width": 1400, "height": 900})
    await tab.page.goto(f"{running.http_url}/admin/")
    await sign_in(tab.page, KEY)
    await expect(tab.page.locator("#dashboard")).to_be_visible(timeout=SOON_MS)
    await expect(tab.connection).to_have_attribute("data-state", "connected", timeout=SOON_MS)
    return tab


async def test_a_wrong_key_is_refused_and_the_right_one_kept_for_the_tab(
    start_server: StartServer, buyers: Buyers
) -> None:
    running = await start_server(admin_api_key=KEY)
    tab = await buyers.new("operator")
    page = tab.page
    await page.goto(f"{running.http_url}/admin")  # redirected to /admin/
    await sign_in(page, "not-the-key")
    await expect(page.locator("#key-error")).to_have_text(re.compile(r"not the admin key"), timeout=SOON_MS)
    await expect(page.locator("#dashboard")).to_be_hidden()
    assert await page.evaluate("sessionStorage.getItem('seat-admin:key')") is None
    await sign_in(page, KEY)
    await expect(page.locator("#dashboard")).to_be_visible(timeout=SOON_MS)
    # Kept for the tab: a reload opens the dashboard without asking.
    await page.reload()
    await expect(page.locator("#dashboard")).to_be_visible(timeout=SOON_MS)
    await expect(tab.connection).to_have_attribute("data-state", "connected", timeout=SOON_MS)
    # A saved key the server no longer takes is forgotten, and the page says so.
    await page.evaluate("sessionStorage.setItem('seat-admin:key', 'an-old-key')")
    await page.reload()
    await expect(page.locator("#key-error")).to_have_text(re.compile(r"no longer accepted"), timeout=SOON_MS)
    # The key went in headers and a socket message only, never in an address a proxy would log.
    assert [url for url in tab.requests if KEY in url] == []


async def test_the_dashboard_follows_a_load_generator_live(start_server: StartServer, buyers: Buyers) -> None:
    running = await start_server(admin_api_key=KEY)
    quiet, busy = await running.showtime(), await running.showtime()
    tab = await operator(buyers, running)
    page = tab.page
    await expect(row(page, busy).locator(".counts")).to_have_text(re.compile(r"^0 of 15 sold · 0 held"))
    await expect(row(page, busy).locator('.categories [data-category="premium"]')).to_have_count(1, timeout=SOON_MS)

    # The load generator: three buyers on the socket hold seats, two of them book.
    clients = [await running.client() for _ in range(3)]
    for client, seats in zip(clients, (["A1", "A2"], ["B1", "B2", "B3"], ["C1"]), strict=True):
        assert (await client.request("lock", showtimeId=busy, seatIds=seats))["type"] == "ack"
    await expect(row(page, busy).locator(".counts")).to_have_text(
        re.compile(r"^0 of 15 sold · 6 held"), timeout=SOON_MS
    )
    await book(clients[0], busy, ["A1", "A2"])
    await book(clients[1], busy, ["B1", "B2", "B3"])
    counts = row(page, busy).locator(".counts")
    await expect(counts).to_have_text(re.compile(r"^5 of 15 sold · 1 held"), timeout=SOON_MS)
    # Row A is premium (1500), the rest standard (1000): €60.00 in all, €30.00 of it premium.
    await expect(row(page, busy).locator(".revenue")).to_have_text("€60.00")
    premium = row(page, busy).locator('.categories [data-category="premium"]')
    await expect(premium).to_contain_text("€30.00")
    bar = row(page, busy).locator(".showtime-pick .bar")
    await expect(bar.locator('[data-status="booked"]')).to_have_attribute("data-count", "5")
    await expect(bar).to_have_attribute("aria-label", re.compile(r"^5 booked, 0 awaiting payment, 1 held, 0 blocked"))
    await expect(row(page, quiet).locator(".counts")).to_have_text(re.compile(r"^0 of 15 sold · 0 held"))

    # The seat map of the busy showtime, coloured by status, live too.
    await row(page, busy).locator(".showtime-pick").click()
    await expect(page.locator("#map-frame")).to_have_attribute("data-stale", "false", timeout=SOON_MS)
    for seat, state in {"A1": "booked", "B3": "booked", "C1": "held", "C2": "available"}.items():
        await tab.expect_seat(seat, state)
    await clients[2].request("unlock", showtimeId=busy, seatIds=["C1"])
    await tab.expect_seat("C1", "available")
    await expect(page.locator("#detail-figures")).to_contain_text("0 held", timeout=SOON_MS)
    for client in clients:
        await client.close()


async def book(buyer: SeatClient, showtime: str, seats: list[str]) -> None:
    assert (await buyer.request("book", showtimeId=showtime, seatIds=seats, customer=CUSTOMER))["type"] == "ack"


async def test_the_dashboard_in_the_readme(start_server: StartServer, buyers: Buyers) -> None:
    """docs/dashboard.png: the theatre half sold, a second showtime starting, the seat map of the first."""
    running = await start_server(admin_api_key=KEY)
    theatre, hall = await example_showtime(running, "theatre", THEATRE_PRICES)
    matinee, _ = await example_showtime(running, "theatre", THEATRE_PRICES)
    seats = [seat.id for seat in hall.seats() if seat.id not in hall.blocked and not seat.id.startswith("box")]
    clients = [await running.client() for _ in range(4)]

    async def sell(buyer: SeatClient, showtime: str, mine: list[str], held: int) -> None:
        for start in range(0, len(mine) - held, 4):
            await buyer.request("lock", showtimeId=showtime, seatIds=mine[start : start + 4])
            await book(buyer, showtime, mine[start : start + 4])
        await buyer.request("lock", showtimeId=showtime, seatIds=mine[len(mine) - held :])

    await asyncio.gather(
        sell(clients[0], theatre, seats[0:120:2], 6),
        sell(clients[1], theatre, seats[200:260], 4),
        sell(clients[2], theatre, seats[300:330], 3),
        sell(clients[3], matinee, seats[10:40:3], 2),
    )
    tab = await operator(buyers, running)
    await row(tab.page, theatre).locator(".showtime-pick").click()
    await expect(tab.page.locator("#map-frame")).to_have_attribute("data-stale", "false", timeout=SOON_MS)
    await expect(row(tab.page, theatre).locator(".categories li")).to_have_count(len(hall.categories))
    await tab.screenshot(buyers.folder / "dashboard.png", full_page=True)
    for client in clients:
        await client.close()


async def test_the_bookings_of_a_showtime_filtered_and_exported(start_server: StartServer, buyers: Buyers) -> None:
    running = await start_server(admin_api_key=KEY)
    showtime = await running.showtime()
    client = await running.client()
    for seats in (["A1", "A2"], ["B1"]):
        assert (await client.request("lock", showtimeId=showtime, seatIds=seats))["type"] == "ack"
    await book(client, showtime, ["A1", "A2"])
    pending = await client.request("book", showtimeId=showtime, seatIds=["B1"], customer=CUSTOMER, payment="pending")
    assert (pending["type"], pending["status"]) == ("ack", "pending")
    tab = await operator(buyers, running)
    page = tab.page
    await row(page, showtime).locator(".showtime-pick").click()
    table = page.locator("#bookings tbody tr")
    await expect(table).to_have_count(2, timeout=SOON_MS)
    confirmed = page.locator('#bookings tr[data-status="confirmed"]')
    await expect(confirmed).to_contain_text("A1, A2")
    await expect(confirmed).to_contain_text("€30.00")
    await page.locator("#booking-status").select_option("pending")
    await expect(table).to_have_count(1, timeout=SOON_MS)
    await expect(table).to_contain_text(pending["bookingId"])

    # The export is the list as filtered, fetched with the key and saved from a Blob.
    async with page.expect_download(timeout=SOON_MS) as started:
        await page.locator("#bookings-csv").click()
    download = await started.value
    assert download.suggested_filename == f"bookings-{showtime}.csv"
    lines = (await download.path()).read_text().splitlines()
    assert lines[0].startswith("id,showtimeId,status,seatIds")
    assert [line.split(",")[:3] for line in lines[1:]] == [[pending["bookingId"], showtime, "pending"]]

    # A new booking shows up without a refresh: the figures change, and the list is read again.
    await page.locator("#booking-status").select_option("")
    assert (await client.request("lock", showtimeId=showtime, seatIds=["C1"]))["type"] == "ack"
    await book(client, showtime, ["C1"])
    await expect(table).to_have_count(3, timeout=SOON_MS)
    await client.close()


async def test_a_seat_chosen_on_the_map_shows_its_history(start_server: StartServer, buyers: Buyers) -> None:
    running = await start_server(admin_api_key=KEY)
    showtime = await running.showtime()
    client = await running.client()
    assert (await client.request("lock", showtimeId=showtime, seatIds=["A1"]))["type"] == "ack"
    assert (await client.request("unlock", showtimeId=showtime, seatIds=["A1"]))["type"] == "ack"
    assert (await client.request("lock", showtimeId=showtime, seatIds=["A1"]))["type"] == "ack"
    await book(client, showtime, ["A1"])
    tab = await operator(buyers, running)
    page = tab.page
    await row(page, showtime).locator(".showtime-pick").click()
    await expect(page.locator("#map-frame")).to_have_attribute("data-stale", "false", timeout=SOON_MS)
    await page.locator('#seatmap [data-seat="A1"]').click()
    history = page.locator("#history tbody tr")
    await expect(history).to_have_count(4, timeout=SOON_MS)
    origins = [await entry.get_attribute("data-origin") for entry in await history.all()]
    assert origins == ["lock", "unlock", "lock", "book"]
    await expect(history.last).to_contain_text("socket")
    await expect(page.locator("#history-title")).to_have_text("History of seat A1")

    # A seat nobody touched says so; closing hides the panel.
    await page.locator('#seatmap [data-seat="B2"]').click()
    await expect(page.locator("#history-note")).to_contain_text("Never changed", timeout=SOON_MS)
    await expect(page.locator("#history")).to_be_hidden()
    await page.locator("#history-close").click()
    await expect(page.locator("#seat-history")).to_be_hidden()
    await client.close()
