"""The connection budget: per address across ports, and a ceiling for the whole server."""

from __future__ import annotations

from server.connections import RESERVED_FILES, ConnectionBudget, connection_ceiling
from server.core.errors import ErrorCode


def test_an_address_has_one_budget_across_ports() -> None:
    budget = ConnectionBudget(per_address=2, ceiling=100)
    socket, http = budget.port(), budget.port()
    socket.open("192.0.2.1")
    http.open("192.0.2.1")
    refused = http.refusal("192.0.2.1")
    assert refused is not None
    assert refused.code == ErrorCode.TOO_MANY_CONNECTIONS
    assert socket.refusal("192.0.2.1") == refused
    assert socket.refusal("192.0.2.2") is None  # another address
    http.close("192.0.2.1")
    assert socket.refusal("192.0.2.1") is None
    assert (socket.count, http.count, budget.total) == (1, 0, 1)


def test_the_ceiling_counts_every_connection_even_unattributed_ones() -> None:
    budget = ConnectionBudget(per_address=10, ceiling=3)
    port = budget.port()
    port.open(None)  # a trusted proxy's: no address of its own
    port.open(None)
    port.open("192.0.2.1")
    refused = port.refusal("192.0.2.9")
    assert refused is not None
    assert "limit" in refused.message
    assert port.refusal(None) == refused
    port.close(None)
    assert port.refusal("192.0.2.9") is None


def test_the_ceiling_leaves_room_for_the_database_and_files() -> None:
    assert connection_ceiling(1024, 10) == 1024 - RESERVED_FILES - 30
    assert connection_ceiling(20, 10) == 1  # never none at all
