"""Sales figures from tallies of seats: each seat's standing, the sums per showtime, category and section."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.core.stats import (
    SalesTotals,
    SeatCounts,
    SeatStanding,
    SeatTally,
    count_seats,
    sales_totals,
    showtime_figures,
)


@pytest.mark.parametrize(
    ("booking_status", "blocked", "live_hold", "standing"),
    [
        (None, False, False, SeatStanding.AVAILABLE),  # no claim, or a lapsed hold the sweeper has not released
        (None, False, True, SeatStanding.HELD),
        (None, True, False, SeatStanding.BLOCKED),
        (None, True, True, SeatStanding.BLOCKED),  # a block outranks a stray hold
        ("pending", False, False, SeatStanding.PENDING),
        ("confirmed", False, False, SeatStanding.BOOKED),
        ("confirmed", True, True, SeatStanding.BOOKED),  # a sale outranks everything
        ("pending", True, True, SeatStanding.PENDING),
    ],
)
def test_a_seat_stands_as_its_strongest_claim(
    booking_status: str | None, blocked: bool, live_hold: bool, standing: SeatStanding
) -> None:
    assert SeatTally(booking_status, blocked, live_hold).standing is standing


def test_seats_are_counted_by_standing_and_only_sales_bring_money() -> None:
    counts = count_seats(
        [
            SeatTally(None, blocked=False, live_hold=False, seats=5),
            SeatTally(None, blocked=False, live_hold=True, seats=2),
            SeatTally("pending", blocked=False, live_hold=False, seats=3, cents=3600),
            SeatTally("confirmed", blocked=False, live_hold=False, seats=4, cents=5000),
            SeatTally("confirmed", blocked=False, live_hold=False, seats=1, cents=900),
            SeatTally(None, blocked=True, live_hold=False, seats=1),
        ]
    )
    assert counts == SeatCounts(
        total_seats=16, available=5, held=2, pending=3, booked=5, blocked=1,
        revenue_cents=5900, pending_revenue_cents=3600,
    )  # fmt: skip
    assert count_seats([]) == SeatCounts()


def test_a_showtime_is_broken_down_by_category_and_section_when_asked() -> None:
    tallies = [
        SeatTally("confirmed", False, False, seats=2, cents=3000, category="stalls", section="left"),
        SeatTally(None, False, True, seats=1, category="stalls", section="right"),
        SeatTally("pending", False, False, seats=1, cents=900, category="balcony", section="left"),
        SeatTally(None, False, False, seats=6, category="balcony", section="right"),
    ]
    figures = showtime_figures("st", "Hamlet", 7, "GBP", 12, tallies, bookings=1, breakdown=True)
    assert (figures.showtime_id, figures.title, figures.starts_at, figures.currency, figures.seq) == (
        "st", "Hamlet", 7, "GBP", 12,
    )  # fmt: skip
    assert figures.counts == SeatCounts(10, 6, 1, 1, 2, 0, 3000, 900)
    assert figures.by_category == {
        "balcony": SeatCounts(7, 6, 0, 1, 0, 0, 0, 900),
        "stalls": SeatCounts(3, 0, 1, 0, 2, 0, 3000, 0),
    }
    assert figures.by_section == {
        "left": SeatCounts(3, 0, 0, 1, 2, 0, 3000, 900),
        "right": SeatCounts(7, 6, 1, 0, 0, 0, 0, 0),
    }
    assert list(figures.by_category) == ["balcony", "stalls"]  # in a stable order
    headline = showtime_figures("st", "Hamlet", 7, "GBP", 12, tallies, bookings=1, breakdown=False)
    assert (headline.counts, headline.by_category, headline.by_section) == (figures.counts, {}, {})


def test_the_average_booking_is_seats_sold_per_confirmed_booking() -> None:
    sold = [SeatTally("confirmed", False, False, seats=7, cents=7000)]
    assert showtime_figures("st", "", 0, "EUR", 1, sold, bookings=3, breakdown=False).average_seats_per_booking == (
        pytest.approx(7 / 3)
    )
    assert showtime_figures("st", "", 0, "EUR", 0, [], bookings=0, breakdown=False).average_seats_per_booking == 0


tallies = st.builds(
    SeatTally,
    booking_status=st.sampled_from([None, "pending", "confirmed"]),
    blocked=st.booleans(),
    live_hold=st.booleans(),
    seats=st.integers(1, 50),
    cents=st.integers(0, 100_000),
    category=st.sampled_from(["a", "b", "c"]),
    section=st.sampled_from(["x", "y"]),
)


@given(st.lists(tallies, max_size=30))
def test_the_parts_add_up_to_the_whole(groups: list[SeatTally]) -> None:
    figures = showtime_figures("st", "", 0, "EUR", 0, groups, bookings=1, breakdown=True)
    counts = figures.counts
    assert counts.total_seats == sum(tally.seats for tally in groups)
    assert counts.total_seats == counts.available + counts.held + counts.pending + counts.booked + counts.blocked
    for parts in (figures.by_category, figures.by_section):
        for field in SeatCounts.__dataclass_fields__:
            assert sum(getattr(part, field) for part in parts.values()) == getattr(counts, field), field


def test_sales_totals_list_every_status_and_count_only_confirmed_money() -> None:
    totals = sales_totals(
        [
            ("confirmed", "EUR", 3, 4500),
            ("pending", "EUR", 1, 1200),
            ("confirmed", "GBP", 1, 900),
            ("cancelled", "GBP", 2, 2000),
            ("confirmed", "EUR", 1, 100),  # groups may repeat; they add up
        ]
    )
    assert totals == SalesTotals(
        bookings={"pending": 1, "confirmed": 5, "cancelled": 2, "expired": 0},
        revenue_cents={"EUR": 4600, "GBP": 900},
    )
    assert sales_totals([("pending", "USD", 1, 500)]).revenue_cents == {"USD": 0}  # the currency stays listed
    assert sales_totals([]) == SalesTotals({"pending": 0, "confirmed": 0, "cancelled": 0, "expired": 0}, {})
