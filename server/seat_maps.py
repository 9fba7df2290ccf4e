"""The seat map of ``GET /api/showtimes/{id}``, without building it for every request.

A 10,000-seat map is about 1 MB of JSON, and encoding it with one model per seat held the event loop for a
quarter of a second per request: a rush of page loads would stall every buyer. The layout never changes,
so it is encoded once per showtime, every seat available, and cut where each seat's status goes (a
:class:`Template`). The statuses at a ``seq`` make a :class:`Version`: the template with the held and sold
seats' statuses put in and joined, made once per change however many read it, and gzip-compressed once,
off the event loop, when a client asks for that. A request needs the showtime's ``seq`` to know its version
is current, from a read begun after it arrived; a burst of requests shares two such reads (:class:`FreshReads`)
instead of queueing one each for the connections buyers' changes need. A client that has the current
version already gets ``304 Not Modified``.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from server.core.clock import Clock
from server.core.errors import ErrorCode, Rejection
from server.core.limits import RateLimiter
from server.core.records import SeatMap, ShowtimeDetails, StatusView, TermsKey
from server.core.seats import SeatState
from server.layouts import LayoutCache
from server.messages import ShowtimeLayout
from server.service import SeatService
from server.settings import LimitSettings

__all__ = ["FreshReads", "Reply", "SeatMaps", "Template", "Version", "accepts_gzip"]

T = TypeVar("T")

GZIP_LEVEL = 1  # a 10,000-seat map: 62 KB in 4 ms, against 59 KB in 16 ms at the default level
CACHE_CONTROL = "no-cache"  # a cache may keep the map, and must ask (If-None-Match) before each use
# In JSON these can only be structure: a quote inside a string is escaped, so ``,"`` never occurs in one.
SEQ_FIELD = b',"seq":'
STATUS = {state: b',"status":"' + state.value.encode() + b'"}' for state in SeatState}


class FreshReads(Generic[T]):
    """Reads per key that callers share, each caller getting a value read after it asked.

    Callers arriving while a read is under way wait for the next one, which all of them share: a burst of
    any size makes at most two reads, and none of them sees a value older than its own arrival.
    """

    def __init__(self, read: Callable[[str], Coroutine[Any, Any, T]]) -> None:
        self._read = read
        self._next: dict[str, asyncio.Future[T]] = {}  # the read that callers join: not begun yet
        self._running: set[str] = set()

    async def get(self, key: str) -> T:
        joined = self._next.get(key)
        if joined is None:
            joined = self._next[key] = asyncio.get_running_loop().create_future()
            if key not in self._running:
                self._begin(key)
        return await asyncio.shield(joined)  # a caller that gives up does not cancel the others' read

    def _begin(self, key: str) -> None:
        result = self._next.pop(key)
        self._running.add(key)

        def finished(read: asyncio.Task[T]) -> None:
            self._running.discard(key)
            if read.cancelled():
                result.cancel()
            elif (error := read.exception()) is not None:
                result.set_exception(error)
            else:
                result.set_result(read.result())
            if key in self._next:
                self._begin(key)

        asyncio.create_task(self._read(key)).add_done_callback(finished)


class Template:
    """A showtime's seat map with every seat available, in parts: a status goes in one slot per seat."""

    SEQ_SLOT = 1

    def __init__(self, parts: list[bytes], slots: dict[str, int], terms: TermsKey) -> None:
        self.parts = parts
        self.slots = slots  # seat id -> the index of its status in ``parts``
        self.terms = terms  # the prices and times it shows: a PATCH of the showtime makes a new template
        self.digest = hashlib.blake2b(b"".join(parts), digest_size=8).hexdigest()

    @classmethod
    def of(cls, found: ShowtimeDetails) -> Template:
        """Encode the map once with the wire models, then cut it at the seq and at each seat's status."""
        available = StatusView(found.showtime.id, 0, booked=[], held=[], mine={}, at=0)
        document = ShowtimeLayout.from_map(SeatMap(found, available)).to_json()
        head, seq, tail = document.encode().partition(SEQ_FIELD + b"0")
        pieces = tail.split(STATUS[SeatState.AVAILABLE])
        codes = [seat.id for seat in found.hall.seats()]
        if not seq or len(pieces) != len(codes) + 1:
            raise ValueError(f"the seat map of {found.showtime.id} does not have the shape its template assumes")
        parts = [head + SEQ_FIELD, b"0", pieces[0]]
        for piece in pieces[1:]:
            parts += (STATUS[SeatState.AVAILABLE], piece)
        return cls(parts, {code: 3 + 2 * index for index, code in enumerate(codes)}, found.terms)

    def fill(self, status: StatusView) -> bytes:
        parts = self.parts.copy()
        parts[self.SEQ_SLOT] = str(status.seq).encode()
        stated = ((status.held, SeatState.HELD), (status.booked, SeatState.BOOKED), (status.blocked, SeatState.BLOCKED))
        for codes, state in stated:  # a sale outranks a hold
            for code in codes:
                if (slot := self.slots.get(code)) is not None:
                    parts[slot] = STATUS[state]
        return b"".join(parts)


class Version:
    """The seat map at one seq (and, as holds lapse without a change, one moment), encoded when first asked."""

    def __init__(self, template: Template, status: StatusView) -> None:
        self.template = template
        self.status = status
        # At one seq, holds only lapse: the number still held tells the views of that seq apart.
        self.etag = f'"{template.digest}-{status.seq}-{len(status.held)}"'
        self.gzip_etag = self.etag[:-1] + '-gzip"'  # another representation, so another strong tag
        self._body: bytes | None = None
        self._gzipped: asyncio.Future[bytes] | None = None

    def covers(self, seq: int, now: int) -> bool:
        """Whether this version shows the seats as they are at ``seq`` and ``now`` (or later)."""
        lapses_at = self.status.lapses_at
        return self.status.seq >= seq and (lapses_at is None or now < lapses_at)

    def matches(self, if_none_match: str) -> bool:
        """Whether an ``If-None-Match`` names this version, in either coding (weak comparison, RFC 9110)."""
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or self.etag in tags or self.gzip_etag in tags

    @property
    def body(self) -> bytes:
        if self._body is None:
            self._body = self.template.fill(self.status)
        return self._body

    async def gzipped(self) -> bytes:
        if self._gzipped is None:  # zlib lets go of the GIL: compressing does not hold up the event loop
            self._gzipped = asyncio.ensure_future(asyncio.to_thread(gzip.compress, self.body, GZIP_LEVEL, mtime=0))
        return await asyncio.shield(self._gzipped)

    async def reply(self, headers: Mapping[str, str]) -> Reply:
        """The answer to a request with these headers: gzip if accepted, 304 if the client has this version."""
        gzipped = accepts_gzip(headers.get("Accept-Encoding", ""))
        tag = self.gzip_etag if gzipped else self.etag
        common = {"ETag": tag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
        if self.matches(headers.get("If-None-Match", "")):
            return Reply(304, common, b"")
        common["Content-Type"] = "application/json; charset=utf-8"
        if gzipped:
            return Reply(200, common | {"Content-Encoding": "gzip"}, await self.gzipped())
        return Reply(200, common, self.body)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int  # 200, or 304 when the client has this version already
    headers: dict[str, str]
    body: bytes


class SeatMaps:
    """Each showtime's template, kept for good, and its latest version; and how often an address may read."""

    def __init__(self, service: SeatService, limits: LimitSettings, clock: Clock) -> None:
        self._service = service
        self._clock = clock
        self._templates: LayoutCache[Template] = LayoutCache(self._template)
        self._versions: dict[str, Version] = {}
        self._states: FreshReads[tuple[int, TermsKey] | None] = FreshReads(service.state)
        self._statuses: FreshReads[Version | Rejection] = FreshReads(self._read)
        per_minute = limits.showtime_reads_per_minute_per_ip
        self._reads = RateLimiter(per_minute / 60, per_minute)

    def admit(self, address: str) -> Rejection | None:
        if wait := self._reads.take(address, self._clock.monotonic()):
            return Rejection(
                ErrorCode.RATE_LIMITED,
                f"too many seat map reads from this address; retry in {wait} ms",
                retry_after_ms=wait,
            )
        return None

    async def get(self, showtime_id: str) -> Version | Rejection:
        """The seat map as it is now: the kept version if no change came since, else a fresh one."""
        template = await self._templates.get(showtime_id)
        if isinstance(template, Rejection):
            return template
        state, now = await self._states.get(showtime_id), self._clock.now()
        if state is None:
            return Rejection(ErrorCode.UNKNOWN_SHOWTIME, f"no such showtime: {showtime_id}")
        seq, terms = state
        if template.terms != terms:  # the operator changed the showtime: prices and times are in the template
            self._templates.forget(showtime_id)
            template = await self._templates.get(showtime_id)
            if isinstance(template, Rejection):
                return template
        version = self._versions.get(showtime_id)
        if version is not None and version.template is template and version.covers(seq, now):
            return version
        return await self._statuses.get(showtime_id)  # read after ``seq`` and ``now``: it covers both

    async def _template(self, showtime_id: str) -> Template | None:
        found = await self._service.showtime(showtime_id)
        return None if isinstance(found, Rejection) else Template.of(found)

    async def _read(self, showtime_id: str) -> Version | Rejection:
        template = await self._templates.get(showtime_id)  # made already: the caller had it
        if isinstance(template, Rejection):
            return template
        status = await self._service.status("", showtime_id)  # "": no session, every hold is someone else's
        if isinstance(status, Rejection):
            return status
        self._versions[showtime_id] = version = Version(template, status)
        return version


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` admits gzip: by name or by ``*``, with a weight above 0 (RFC 9110)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, *parameters = (part.strip() for part in item.split(";"))
        weight = next((parameter[2:] for parameter in parameters if parameter.startswith("q=")), "1")
        try:
            weights[coding] = float(weight)
        except ValueError:
            weights[coding] = 0.0
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0
