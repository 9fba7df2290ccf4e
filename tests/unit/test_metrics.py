"""Prometheus metrics: one registry per instance, counters in the exposition, gauges read when scraped, and the
sales totals read from the database at each scrape."""

from __future__ import annotations

import asyncio

from server.core.stats import SalesTotals
from server.metrics import Metrics


def lines(metrics: Metrics) -> set[str]:
    return set(metrics.exposition().decode().splitlines())


def test_the_exposition_carries_the_counters_with_their_labels() -> None:
    metrics = Metrics()
    metrics.requests.labels("lock", "ok").inc(2)
    metrics.errors.labels("seat_unavailable").inc()
    metrics.expiries.inc(3)
    exposed = lines(metrics)
    assert 'seat_requests_total{action="lock",outcome="ok"} 2.0' in exposed
    assert 'seat_errors_total{code="seat_unavailable"} 1.0' in exposed
    assert "seat_hold_expiries_total 3.0" in exposed


def test_instances_count_apart() -> None:
    counted, other = Metrics(), Metrics()
    counted.changes.labels("locked").inc()
    assert 'seat_changes_total{status="locked"} 1.0' in lines(counted)
    assert not any(line.startswith("seat_changes_total{") for line in lines(other))


def test_the_gauges_are_read_from_their_owners_at_each_scrape() -> None:
    metrics = Metrics()
    open_connections = [3]
    metrics.watch(lambda: open_connections[0], lambda: 7)
    assert {"seat_connections 3.0", "seat_subscriptions 7.0"} <= lines(metrics)
    open_connections[0] = 1
    assert "seat_connections 1.0" in lines(metrics)


def test_the_audience_gauge_is_read_from_the_audience_counts_at_each_scrape() -> None:
    metrics = Metrics()
    audience = [12]
    metrics.watch_audience(lambda: audience[0])
    assert "seat_audience 12.0" in lines(metrics)
    audience[0] = 4
    assert "seat_audience 4.0" in lines(metrics)


async def test_the_sales_totals_are_read_afresh_at_each_scrape_as_gauges() -> None:
    metrics = Metrics()
    totals = [SalesTotals({"pending": 2, "confirmed": 5}, {"EUR": 9000, "GBP": 0})]

    async def read() -> SalesTotals:
        return totals[0]

    metrics.watch_sales(read, timeout=5)
    exposed = set((await metrics.scrape()).decode().splitlines())
    assert {
        "# TYPE seat_bookings_total gauge",
        'seat_bookings_total{status="pending"} 2.0',
        'seat_bookings_total{status="confirmed"} 5.0',
        'seat_revenue_cents_total{currency="EUR"} 9000.0',
        'seat_revenue_cents_total{currency="GBP"} 0.0',
    } <= exposed
    totals[0] = SalesTotals({"pending": 1, "confirmed": 6}, {"EUR": 10_200})  # a payment came in
    exposed = set((await metrics.scrape()).decode().splitlines())
    assert {'seat_bookings_total{status="pending"} 1.0', 'seat_revenue_cents_total{currency="EUR"} 10200.0'} <= exposed


async def test_without_an_answer_from_the_database_the_totals_are_left_out_and_the_rest_served() -> None:
    metrics = Metrics()
    metrics.expiries.inc()
    answered = [SalesTotals({"confirmed": 1}, {"EUR": 100})]
    hang = asyncio.Event()

    async def read() -> SalesTotals:
        if not answered:
            await hang.wait()  # never set: a database that does not answer
        return answered.pop()

    metrics.watch_sales(read, timeout=0.01)
    assert "seat_bookings_total" in (await metrics.scrape()).decode()
    for _ in range(2):  # it times out; then the next scrape tries again (and times out again)
        exposed = (await metrics.scrape()).decode()
        assert "seat_bookings_total" not in exposed  # not the stale figures
        assert "seat_revenue_cents_total" not in exposed
        assert "seat_hold_expiries_total 1.0" in exposed


async def test_an_instance_not_watching_sales_exposes_no_totals() -> None:
    assert "seat_bookings_total" not in (await Metrics().scrape()).decode()
