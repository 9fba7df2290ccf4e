"""The admin API's request and response bodies (the layout file itself is ``server.layout_file``'s)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal, Self

from pydantic import Field

from server.core.history import HistoryEntry
from server.core.origins import Channel, Origin
from server.core.seats import SeatStatus
from server.core.stats import SeatCounts, ShowtimeFigures
from server.messages import PRINTABLE, Model, SeatId, ServerEnvelope, ShowtimeId, Text
from server.service import ScheduledShowtime
from server.storage.venues import LayoutRecord
from server.storage.webhooks import Attempt, DeliveryRecord

__all__ = [
    "BlockRequest",
    "CategoryRef",
    "Figures",
    "FiguresOf",
    "LayoutView",
    "NewShowtimeRequest",
    "SeatFigures",
    "SeatHistory",
    "SeatHistoryEntry",
    "ShowtimeChanges",
    "ShowtimeHeadline",
    "ShowtimeSetup",
    "ShowtimeStats",
    "WebhookAttemptView",
    "WebhookDeliveries",
    "WebhookDeliveryView",
]

Title = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE), Text]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]
Instant = Annotated[int, Field(ge=0, description="Unix epoch milliseconds")]
CategoryId = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE), Text]
Prices = dict[CategoryId, int]  # negative prices are refused with the category's path (422), not here


class CategoryRef(Model):
    id: str
    name: str


class LayoutView(Model):
    """A stored layout version: the ids showtimes and later imports refer to."""

    layout_id: str
    venue_id: str
    venue_name: str
    hall_id: str
    hall_name: str
    version: int
    seat_count: int
    categories: list[CategoryRef]
    created_at: int

    @classmethod
    def of(cls, record: LayoutRecord) -> Self:
        return cls(
            layout_id=record.id,
            venue_id=record.venue_id,
            venue_name=record.venue_name,
            hall_id=record.hall_id,
            hall_name=record.hall_name,
            version=record.version,
            seat_count=record.seat_count,
            categories=[CategoryRef(id=c.id, name=c.name) for c in record.categories],
            created_at=record.created_at,
        )


class NewShowtimeRequest(Model):
    layout_id: ShowtimeId
    title: Title
    starts_at: Instant
    currency: Currency = "EUR"
    prices: Prices = Field(description="category id -> cents; a category without a price is not on sale")
    sales_open_at: Instant | None = None
    sales_close_at: Instant | None = None
    id: ShowtimeId | None = Field(None, description="the showtime's id; made up when left out")


class ShowtimeChanges(Model):
    """What a PATCH changes; fields left out stay. ``prices`` sets the categories it names; salesOpenAt or
    salesCloseAt sent as null removes that bound."""

    title: Title | None = None
    starts_at: Instant | None = None
    currency: Currency | None = None
    prices: Prices | None = None
    sales_open_at: Instant | None = None
    sales_close_at: Instant | None = None


class ShowtimeSetup(Model):
    """A showtime as the operator set it up."""

    id: str
    layout_id: str
    venue: str
    hall: str
    title: str
    starts_at: int
    currency: str
    prices: dict[str, int]
    sales_open_at: int | None = None
    sales_close_at: int | None = None

    @classmethod
    def of(cls, showtime: ScheduledShowtime) -> Self:
        terms, layout = showtime.terms, showtime.layout
        return cls(
            id=showtime.id,
            layout_id=terms.layout_id,
            venue=layout.venue_name,
            hall=layout.hall_name,
            title=terms.title,
            starts_at=terms.starts_at,
            currency=terms.currency,
            prices=terms.prices,
            sales_open_at=terms.sales_open_at,
            sales_close_at=terms.sales_close_at,
        )


class BlockRequest(Model):
    """Seats (and tables, standing for all their seats) to take out of sale, or to put back."""

    seat_ids: list[SeatId] = Field(default_factory=list)
    table_ids: list[SeatId] = Field(default_factory=list)
    reason: Title = "blocked by the operator"


class WebhookAttemptView(Model):
    """One attempt to deliver an event: the receiver's status code, or the error when it gave none."""

    attempt: int
    at: int
    status_code: int | None = None
    error: str | None = None
    duration_ms: int

    @classmethod
    def of(cls, attempt: Attempt) -> Self:
        return cls(
            attempt=attempt.number,
            at=attempt.at,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
        )


class WebhookDeliveryView(Model):
    """The delivery of one event to one endpoint, and every attempt made so far."""

    event_id: str
    type: str
    booking_id: str | None = None
    showtime_id: str
    url: str
    status: str = Field(description="pending, delivered or failed")
    created_at: int = Field(description="when the event happened")
    next_attempt_at: int | None = Field(None, description="pending deliveries: when the next attempt is due")
    last_attempt_at: int | None = None
    delivered_at: int | None = None
    attempts: list[WebhookAttemptView]

    @classmethod
    def of(cls, record: DeliveryRecord) -> Self:
        return cls(
            event_id=record.event_id,
            type=record.type,
            booking_id=record.booking_id,
            showtime_id=record.showtime_id,
            url=record.url,
            status=record.status,
            created_at=record.created_at,
            next_attempt_at=record.next_attempt_at,
            last_attempt_at=record.last_attempt_at,
            delivered_at=record.delivered_at,
            attempts=[WebhookAttemptView.of(attempt) for attempt in record.attempts],
        )


class WebhookDeliveries(Model):
    """A page of deliveries, newest event first."""

    deliveries: list[WebhookDeliveryView]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; absent on the last")


class SeatHistoryEntry(Model):
    """One logged change of a seat: what it became, why (``origin``), whose claim it is (``sessionId``; empty for a
    block), who changed it (``actor``: a session, ``admin`` or ``system``) and how it was asked (``channel``)."""

    seq: int
    seat_id: str
    status: SeatStatus
    origin: Origin
    session_id: str
    actor: str
    channel: Channel
    at: int = Field(description="Unix epoch milliseconds")

    @classmethod
    def of(cls, entry: HistoryEntry) -> Self:
        return cls(
            seq=entry.seq, seat_id=entry.seat, status=entry.status, origin=entry.origin, session_id=entry.session_id,
            actor=entry.actor, channel=entry.channel, at=entry.at,
        )  # fmt: skip


class SeatHistory(Model):
    """A page of a seat's or a showtime's history, oldest first."""

    showtime_id: str
    entries: list[SeatHistoryEntry]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; absent on the last")


class SeatFigures(Model):
    """Seats by status and the money: ``revenueCents`` of confirmed bookings, ``pendingRevenueCents`` of those
    awaiting payment, in the showtime's currency. ``held`` counts live holds only: a lapsed one frees its seat."""

    total_seats: int
    available: int
    held: int
    pending: int
    booked: int
    blocked: int
    revenue_cents: int
    pending_revenue_cents: int


class FiguresOf(Model):
    """Which showtime figures are of, and the change ``seq`` they are all as of."""

    showtime_id: str
    title: str
    starts_at: int
    currency: str
    seq: int


class ShowtimeHeadline(SeatFigures, FiguresOf):  # FiguresOf's fields first on the wire
    """A showtime's figures, read from the database: what every instance's buyers did, as of one ``seq``."""

    bookings: int = Field(description="confirmed bookings")
    average_seats_per_booking: float = Field(description="seats sold per confirmed booking; 0 before the first")

    @classmethod
    def of(cls, figures: ShowtimeFigures) -> Self:
        return cls(**_headline(figures))


class ShowtimeStats(ShowtimeHeadline):
    """A showtime's figures with the same counts per category and per section (keyed by their ids)."""

    by_category: dict[str, SeatFigures]
    by_section: dict[str, SeatFigures]

    @classmethod
    def of(cls, figures: ShowtimeFigures) -> Self:
        return cls(
            **_headline(figures),
            by_category={key: _seat_figures(counts) for key, counts in figures.by_category.items()},
            by_section={key: _seat_figures(counts) for key, counts in figures.by_section.items()},
        )


class _FiguresEnvelope(ServerEnvelope):  # a base of its own: ``type`` comes before the figures on the wire
    type: Literal["figures"] = "figures"


class Figures(ShowtimeStats, _FiguresEnvelope):
    """A showtime's figures on the socket, for a ``subscribe_figures``: the reply, then one after changes, at
    most one per ``FIGURES_INTERVAL_SECONDS``."""


def _seat_figures(counts: SeatCounts) -> SeatFigures:
    return SeatFigures(**dataclasses.asdict(counts))


def _headline(figures: ShowtimeFigures) -> dict[str, Any]:
    return dataclasses.asdict(figures.counts) | {
        "showtime_id": figures.showtime_id,
        "title": figures.title,
        "starts_at": figures.starts_at,
        "currency": figures.currency,
        "seq": figures.seq,
        "bookings": figures.bookings,
        "average_seats_per_booking": figures.average_seats_per_booking,
    }
