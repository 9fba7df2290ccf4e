"""Sales figures read from SQLite and PostgreSQL: seats by standing and the money, per category and section.

Every hold, block and booking (confirmed at once, awaiting payment, paid, cancelled by its buyer or the operator,
lapsed unpaid) is made through the seat service, as buyers, the shop, the operator and the sweeper make them.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.admin_messages import ShowtimeStats
from server.core.changes import Accepted, Customer, NewBooking, Selection
from server.core.errors import Rejection
from server.core.stats import SalesTotals, SeatCounts
from server.core.venues import CategoryInfo, HallLayout, RowPlan, SeatPlace, SectionPlan
from server.metrics import Metrics
from server.service import ADMIN, SeatService
from server.settings import SeatSettings
from server.storage import venues
from server.storage.stats import all_showtime_figures, read_sales_totals, read_showtime_figures
from server.storage.store import SeatStore
from tests.fakes import ManualClock
from tests.sales import recount

PRICES = {"stalls": 3000, "balcony": 1500}
TTL = 600_000  # the default HOLD_TTL_SECONDS, in ms
PAYMENT = 900_000  # the default PAYMENT_TIMEOUT_SECONDS, in ms


def row(label: str, category: str, y: int) -> RowPlan:
    return RowPlan(label, tuple(SeatPlace(f"{label}{n}", str(n), n, y, category) for n in range(1, 5)))


# Two sections across two categories: A and C are stalls, B and D balcony; A and B on the left.
HALL = HallLayout(
    categories=(CategoryInfo("stalls", "Stalls"), CategoryInfo("balcony", "Balcony")),
    sections=(
        SectionPlan("left", "Left", (row("A", "stalls", 0), row("B", "balcony", 1))),
        SectionPlan("right", "Right", (row("C", "stalls", 2), row("D", "balcony", 3))),
    ),
)


@pytest.fixture
def engine(migrated_engine: AsyncEngine) -> AsyncEngine:
    return migrated_engine


async def new_showtime(engine: AsyncEngine, currency: str = "EUR", starts_at: int = 0) -> str:
    hall = secrets.token_hex(4)
    saved = await venues.save_layout(
        engine, HALL, venue_id="v_" + hall, venue_name="Old Vic", hall_id="h_" + hall, hall_name="Main", now=0
    )
    return await venues.create_showtime(engine, venues.NewShowtime(saved.id, "Hamlet", starts_at, currency, PRICES))


def seat_service(engine: AsyncEngine, clock: ManualClock) -> SeatService:
    return SeatService(SeatStore(engine), SeatSettings(), lambda events: None, Metrics(), clock)


async def sell(service: SeatService, showtime_id: str, *seats: str, pending: bool = False) -> tuple[str, str]:
    """Hold and book ``seats`` as a buyer of its own: a confirmed booking, or one awaiting payment if ``pending``.
    The buyer's session and the booking's id."""
    buyer, selection = "s_" + secrets.token_hex(4), Selection(seats)
    accepted(await service.lock(buyer, showtime_id, selection))
    order = NewBooking(Customer("Ada", "ada@example.com"), pending=pending)
    booked = accepted(await service.book(buyer, showtime_id, selection, order)).booking
    assert booked is not None
    return buyer, booked.id


async def pay(service: SeatService, showtime_id: str, *seats: str) -> None:
    """Book ``seats`` awaiting payment, and confirm it as the shop does once paid."""
    _, booking_id = await sell(service, showtime_id, *seats, pending=True)
    assert not isinstance(await service.confirm(booking_id, "pi_" + booking_id, "stripe"), Rejection)


async def cancel(service: SeatService, actor: str, booking_id: str) -> None:
    assert not isinstance(await service.cancel(actor, booking_id, None), Rejection)


async def lapse_unpaid(service: SeatService, clock: ManualClock, showtime_id: str, *seats: str) -> None:
    """Book ``seats`` awaiting payment and let the payment lapse: the sweeper expires the booking."""
    await sell(service, showtime_id, *seats, pending=True)
    clock.advance(PAYMENT)
    assert await service.expire_lapsed() == len(seats)


def accepted(outcome: Accepted | Rejection) -> Accepted:
    assert isinstance(outcome, Accepted), outcome
    return outcome


async def test_a_new_showtime_has_every_seat_available_and_no_money(engine: AsyncEngine) -> None:
    showtime_id = await new_showtime(engine, "GBP", starts_at=5)
    figures = await read_showtime_figures(engine, showtime_id, now=0)
    assert figures is not None
    assert (figures.showtime_id, figures.title, figures.starts_at, figures.currency, figures.seq) == (
        showtime_id, "Hamlet", 5, "GBP", 0,
    )  # fmt: skip
    assert (figures.counts, figures.bookings, figures.average_seats_per_booking) == (SeatCounts(16, 16), 0, 0)
    assert figures.by_category == {"balcony": SeatCounts(8, 8), "stalls": SeatCounts(8, 8)}
    assert figures.by_section == {"left": SeatCounts(8, 8), "right": SeatCounts(8, 8)}
    assert await read_showtime_figures(engine, "st_nobody", now=0) is None


async def test_every_standing_is_counted_where_its_seat_is_and_sales_bring_their_prices(engine: AsyncEngine) -> None:
    showtime_id = await new_showtime(engine)
    clock = ManualClock()
    service = seat_service(engine, clock)
    await lapse_unpaid(service, clock, showtime_id, "D3")  # its seat is free again
    accepted(await service.lock("s_gone", showtime_id, Selection(["C1"])))
    clock.advance(TTL)  # C1's hold lapses exactly now; the sweeper has not released it
    accepted(await service.lock("s_here", showtime_id, Selection(["A1", "A2"])))
    await sell(service, showtime_id, "B1", "B2")
    await pay(service, showtime_id, "D1")
    accepted(await service.block(showtime_id, Selection(["C4"]), "camera"))
    await sell(service, showtime_id, "A3", "D2", pending=True)
    await cancel(service, *await sell(service, showtime_id, "A4", pending=True))  # by its buyer: free again
    await cancel(service, ADMIN, (await sell(service, showtime_id, "B3"))[1])  # refunded: free again

    figures = await read_showtime_figures(engine, showtime_id, clock.now())
    assert figures is not None
    # A change per seat: D3 locked, pending, expired; C1; A1, A2; B1, B2 locked and booked; D1 locked, pending,
    # confirmed; C4 blocked; A3, D2 locked and pending; A4 locked, pending, cancelled; B3 locked, booked, cancelled.
    assert figures.seq == 3 + 1 + 2 + 4 + 3 + 1 + 4 + 3 + 3
    assert figures.counts == SeatCounts(
        total_seats=16, available=8, held=2, pending=2, booked=3, blocked=1,
        revenue_cents=4500, pending_revenue_cents=4500,
    )  # fmt: skip
    assert (figures.bookings, figures.average_seats_per_booking) == (2, 1.5)
    assert figures.by_category == {
        "stalls": SeatCounts(8, available=4, held=2, pending=1, blocked=1, pending_revenue_cents=3000),
        "balcony": SeatCounts(8, available=4, pending=1, booked=3, revenue_cents=4500, pending_revenue_cents=1500),
    }
    assert figures.by_section == {
        "left": SeatCounts(8, 3, held=2, pending=1, booked=2, revenue_cents=3000, pending_revenue_cents=3000),
        "right": SeatCounts(8, 5, pending=1, booked=1, blocked=1, revenue_cents=1500, pending_revenue_cents=1500),
    }
    counted = await recount(engine, showtime_id, clock.now())  # the independent count agrees
    wire = ShowtimeStats.of(figures).model_dump(by_alias=True)
    assert {name: wire[name] for name in counted} == counted


async def test_every_showtime_is_listed_with_its_headline_figures_by_start(engine: AsyncEngine) -> None:
    later, earlier = await new_showtime(engine, "GBP", starts_at=2000), await new_showtime(engine, starts_at=1000)
    clock = ManualClock()
    service = seat_service(engine, clock)
    await sell(service, later, "A1", "A2", "B1")
    await sell(service, earlier, "B4", pending=True)

    listed = await all_showtime_figures(engine, clock.now())
    assert [figures.showtime_id for figures in listed] == [earlier, later]
    for figures in listed:
        alone = await read_showtime_figures(engine, figures.showtime_id, clock.now())
        assert alone is not None
        assert (figures.by_category, figures.by_section) == ({}, {})
        assert (figures.counts, figures.seq, figures.bookings, figures.currency) == (
            alone.counts, alone.seq, alone.bookings, alone.currency,
        )  # fmt: skip
    assert listed[0].counts == SeatCounts(16, 15, pending=1, pending_revenue_cents=1500)
    assert listed[1].counts == SeatCounts(16, 13, booked=3, revenue_cents=7500)
    assert (listed[1].bookings, listed[1].seq) == (1, 6)


async def test_sales_totals_count_every_showtimes_bookings_and_confirmed_money_per_currency(
    engine: AsyncEngine,
) -> None:
    euro, pound = await new_showtime(engine, "EUR"), await new_showtime(engine, "GBP")
    assert await read_sales_totals(engine) == SalesTotals(
        dict.fromkeys(("pending", "confirmed", "cancelled", "expired"), 0), {}
    )
    clock = ManualClock()
    service = seat_service(engine, clock)
    await lapse_unpaid(service, clock, pound, "D2")
    await sell(service, euro, "A1", "B1")
    await pay(service, pound, "C1")
    await sell(service, euro, "A2", pending=True)
    await cancel(service, ADMIN, (await sell(service, pound, "C2", pending=True))[1])
    assert await read_sales_totals(engine) == SalesTotals(
        bookings={"pending": 1, "confirmed": 2, "cancelled": 1, "expired": 1},
        revenue_cents={"EUR": 4500, "GBP": 3000},
    )


async def test_figures_never_see_a_change_half_written(engine: AsyncEngine) -> None:
    """Each change holds one more seat and adds one to seq, so every read must count as many held seats as its seq."""
    showtime_id = await new_showtime(engine)
    clock = ManualClock()
    service = seat_service(engine, clock)
    seats = [f"{row}{n}" for row in "ABCD" for n in range(1, 5)]

    async def lock_one_by_one() -> None:  # a transaction each, so that reads fall between them
        for seat in seats:
            await service.lock(f"s{seat}", showtime_id, Selection([seat]))

    locking = asyncio.create_task(lock_one_by_one())
    reads = []
    while not locking.done():
        reads.append(await read_showtime_figures(engine, showtime_id, clock.now()))
    await locking
    reads.append(await read_showtime_figures(engine, showtime_id, clock.now()))
    found = [figures for figures in reads if figures is not None]
    assert len(found) == len(reads)
    assert [figures.counts.held for figures in found] == [figures.seq for figures in found]
    assert found[-1].seq == len(seats)
