"""Logging: one JSON object per line with the extras, or readable text; the level from the settings; throttled
lines, at most one per interval."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from types import TracebackType

import pytest

from server.logs import JsonFormatter, Throttled, configure_logging
from server.settings import LogSettings

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def record(message: str, *args: object, failure: ExcInfo | None = None, **extra: object) -> logging.LogRecord:
    return logging.getLogger().makeRecord(
        "server.test", logging.WARNING, __file__, 1, message, args, failure, extra=extra
    )


def test_a_record_is_one_json_line_with_its_extras() -> None:
    line = JsonFormatter().format(record("seat %s", "locked", showtime="st_1", seq=4))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry.pop("time").endswith("+00:00")
    assert entry == {
        "level": "warning",
        "logger": "server.test",
        "message": "seat locked",
        "showtime": "st_1",
        "seq": 4,
    }


def test_an_exception_goes_into_the_line_and_odd_values_are_stringified() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError as error:
        failed = record("failed", failure=(RuntimeError, error, error.__traceback__), seats=("A1",), at={1})
    entry = json.loads(JsonFormatter().format(failed))
    assert "RuntimeError: boom" in entry["exception"]
    assert (entry["seats"], entry["at"]) == (["A1"], "{1}")


@pytest.fixture
def restored_root_logger() -> Iterator[logging.Logger]:
    root, library = logging.getLogger(), logging.getLogger("websockets.server")
    handlers, level, library_level = root.handlers[:], root.level, library.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)
    library.setLevel(library_level)


def test_configure_logging_follows_the_settings(restored_root_logger: logging.Logger) -> None:
    configure_logging(LogSettings(log_format="json", log_level="debug"))
    assert restored_root_logger.level == logging.DEBUG
    assert [type(h.formatter) for h in restored_root_logger.handlers] == [JsonFormatter]
    configure_logging(LogSettings(log_format="text", log_level="WARNING"))
    assert restored_root_logger.level == logging.WARNING
    assert [type(h.formatter) for h in restored_root_logger.handlers] == [logging.Formatter]


def test_the_librarys_connection_lines_show_at_debug_only(restored_root_logger: logging.Logger) -> None:
    """websockets' "connection open" and "connection closed" double the socket adapter's own lines."""
    library = logging.getLogger("websockets.server")
    configure_logging(LogSettings(log_level="INFO"))
    assert not library.isEnabledFor(logging.INFO)
    assert library.isEnabledFor(logging.WARNING)  # its failed handshakes and handler errors still show
    configure_logging(LogSettings(log_level="DEBUG"))
    assert library.isEnabledFor(logging.DEBUG)


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
