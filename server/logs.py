"""Logging set-up: readable text by default, or one JSON object per line (LOG_FORMAT=json) for collectors."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from server.settings import LogSettings

__all__ = ["JsonFormatter", "Throttled", "configure_logging"]

# websockets logs each connection opened and closed at INFO, with neither session nor address. Here those
# are DEBUG lines, the socket adapter's own, with both: the library's show at DEBUG only, beside them.
LIBRARY_CONNECTION_LOG = "websockets.server"

# Attributes every LogRecord has; anything else was passed with ``extra=`` and belongs in the JSON.
STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {key: value for key, value in vars(record).items() if key not in STANDARD_ATTRIBUTES}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(settings: LogSettings) -> None:
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)
    debug = logging.getLogger().isEnabledFor(logging.DEBUG)
    logging.getLogger(LIBRARY_CONNECTION_LOG).setLevel(logging.NOTSET if debug else logging.WARNING)


class Throttled:
    """A log line that is written at most once per ``interval`` seconds, so a flood cannot flood the log.

    The lines held back in between are counted, and the next line written says how many there were.
    """

    def __init__(self, logger: logging.Logger, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._next = -math.inf
        self._held_back = 0

    def warning(self, message: str, *args: object) -> None:
        now = self._clock()
        if now < self._next:
            self._held_back += 1
            return
        if self._held_back:
            message += f" (and {self._held_back} more like it in the last {self._interval:g} s)"
        self._logger.warning(message, *args)
        self._next, self._held_back = now + self._interval, 0
