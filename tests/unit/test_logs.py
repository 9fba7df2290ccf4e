"""A throttled log line: at most one per interval, and the next one counts those held back."""

from __future__ import annotations

import logging

import pytest

from server.logs import Throttled


def test_a_flood_of_lines_is_one_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttled = Throttled(logging.getLogger("test.throttled"), interval=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.throttled"):
        for second in range(25):
            now[0] = float(second)
            throttled.warning("cannot accept: %s", "EMFILE")
    assert [r.getMessage() for r in caplog.records] == [
        "cannot accept: EMFILE",
        "cannot accept: EMFILE (and 9 more like it in the last 10 s)",
        "cannot accept: EMFILE (and 9 more like it in the last 10 s)",
    ]
