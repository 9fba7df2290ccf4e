"""Prometheus metrics: one registry per instance, counters in the exposition, gauges read when scraped."""

from __future__ import annotations

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
