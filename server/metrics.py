"""Prometheus metrics of one server instance, served at ``/metrics``.

Each server has its own registry, so several instances in one process (as in the tests) stay apart.

The sales totals are the exception to "of one instance": ``seat_bookings_total{status}`` and
``seat_revenue_cents_total{currency}`` are read from the database at each scrape, so every instance reports
the same figures, those of all instances and all showtimes together. A counter each instance bumped would
count only its own sales, and restart from zero with it. They are gauges despite the ``_total`` in their
names: a pending booking leaves ``pending`` when it is confirmed, and a refund takes revenue away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from server.core.stats import SalesTotals

__all__ = ["Metrics"]

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry()
        self.connections = Gauge("seat_connections", "Open WebSocket connections", registry=registry)
        self.subscriptions = Gauge(
            "seat_subscriptions", "Showtime subscriptions of open connections", registry=registry
        )
        self.audience = Gauge(
            "seat_audience",
            "Subscriptions to all showtimes on all instances, as this instance last heard (the same on every instance)",
            registry=registry,
        )
        self.messages_received = Counter(
            "seat_messages_received", "Client messages received, by type", ["type"], registry=registry
        )
        self.messages_sent = Counter(
            "seat_messages_sent",
            "Messages sent to clients: replies and broadcast deliveries",
            ["kind"],
            registry=registry,
        )
        self.delivery_seconds = Histogram(
            "seat_change_delivery_seconds",
            "From a change's commit to handing it to the subscribers of this instance",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "seat_requests", "Lock, unlock, book, confirm and cancel requests, by outcome (ok or an error code)",
            ["action", "outcome"],
            registry=registry,
        )  # fmt: skip
        self.changes = Counter("seat_changes", "Committed seat changes, by status", ["status"], registry=registry)
        self.expiries = Counter(
            "seat_hold_expiries",
            "Seats released because their hold lapsed or their booking went unpaid",
            registry=registry,
        )
        self.errors = Counter("seat_errors", "Errors answered, by code (socket and REST)", ["code"], registry=registry)
        self.database_seconds = Histogram(
            "seat_database_seconds", "Database transactions, by operation", ["operation"],
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.webhook_deliveries = Counter(
            "seat_webhook_deliveries",
            "Webhook delivery attempts, by outcome: delivered (2xx), retrying (failed, tried again later), "
            "failed (failed, given up)",
            ["outcome"], registry=registry,
        )  # fmt: skip
        self.webhook_backlog = Gauge(
            "seat_webhook_backlog", "Webhook deliveries pending, as the instance delivering last counted (0 elsewhere)",
            registry=registry,
        )  # fmt: skip
        self.webhook_lease = Gauge(
            "seat_webhook_lease", "1 while this instance holds the lease to deliver webhooks", registry=registry
        )

        self._sales = SalesCollector()
        registry.register(self._sales)

    def watch(self, connections: Callable[[], float], subscriptions: Callable[[], float]) -> None:
        """Read the gauges from their owners when scraped, so they cannot drift."""
        self.connections.set_function(connections)
        self.subscriptions.set_function(subscriptions)

    def watch_audience(self, audience: Callable[[], float]) -> None:
        """Read ``seat_audience`` from the audience counts when scraped."""
        self.audience.set_function(audience)

    def watch_sales(self, read: Callable[[], Awaitable[SalesTotals]], timeout: float) -> None:
        """Read the sales totals with ``read`` at each :meth:`scrape`, giving up after ``timeout`` seconds."""
        self._sales.read, self._sales.timeout = read, timeout

    async def scrape(self) -> bytes:
        """The exposition, with the sales totals read just before."""
        await self._sales.refresh()
        return self.exposition()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class SalesCollector(Collector):
    """The sales totals last read from the database; none while the database does not answer."""

    def __init__(self) -> None:
        self.read: Callable[[], Awaitable[SalesTotals]] | None = None
        self.timeout = 2.0  # seconds a read may take before the scrape goes on without the totals
        self.totals: SalesTotals | None = None

    async def refresh(self) -> None:
        if self.read is None:
            return
        try:
            async with asyncio.timeout(self.timeout):
                self.totals = await self.read()
        except Exception as error:  # the other metrics still tell the operator what is wrong
            log.warning("sales totals not read: %r", error)
            self.totals = None  # absent rather than stale

    def describe(self) -> Iterable[Metric]:
        return ()  # nothing to check against the registry's other names until the first read

    def collect(self) -> Iterable[Metric]:
        if self.totals is None:
            return
        bookings = GaugeMetricFamily(
            "seat_bookings_total", "Bookings of all showtimes in the database, by status (every instance's)",
            labels=["status"],
        )  # fmt: skip
        for status, count in self.totals.bookings.items():
            bookings.add_metric([status], count)
        revenue = GaugeMetricFamily(
            "seat_revenue_cents_total",
            "Revenue of the confirmed bookings of all showtimes in the database, in cents, by currency",
            labels=["currency"],
        )
        for currency, cents in self.totals.revenue_cents.items():
            revenue.add_metric([currency], cents)
        yield from (bookings, revenue)
