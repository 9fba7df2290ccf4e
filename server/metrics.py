"""Prometheus metrics of one server instance, served at ``/metrics``.

Each server has its own registry, so several instances in one process (as in the tests) stay apart.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry()
        self.connections = Gauge("seat_connections", "Open WebSocket connections", registry=registry)
        self.subscriptions = Gauge(
            "seat_subscriptions", "Showtime subscriptions of open connections", registry=registry
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

    def watch(self, connections: Callable[[], float], subscriptions: Callable[[], float]) -> None:
        """Read the gauges from their owners when scraped, so they cannot drift."""
        self.connections.set_function(connections)
        self.subscriptions.set_function(subscriptions)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
