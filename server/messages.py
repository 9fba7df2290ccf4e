"""The wire schema: every message and REST body, defined once.

The WebSocket adapter, the REST adapter, the OpenAPI document and the tests all use these models.
Field names on the wire are camelCase; instants are Unix epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated, Any, Literal, Self

import pydantic_core
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from server.core import changes
from server.core.bookings import BookingStatus
from server.core.changes import Accepted, Event, NewBooking, Notice, Selection
from server.core.errors import ErrorCode, Rejection
from server.core.records import BookingRecord, SeatMap, ShowtimeRecord, StatusView, TransitionRecord
from server.core.seats import SeatState, SeatStatus
from server.core.venues import SeatFlag, Shape, TablePlan

__all__ = [
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_REQUEST_ID_LENGTH",
    "PRINTABLE",
    "Ack",
    "Audience",
    "Authenticate",
    "Authenticated",
    "Book",
    "BookingItemView",
    "BookingRequest",
    "BookingView",
    "CancelRequest",
    "Category",
    "ClientMessage",
    "ConfirmRequest",
    "ConnectionEstablished",
    "CurrentSeatStatus",
    "Customer",
    "ErrorMessage",
    "Extend",
    "FieldErrorView",
    "Health",
    "IdempotencyKey",
    "KeyedEnvelope",
    "KeyedReply",
    "Lock",
    "Model",
    "Ping",
    "Pong",
    "Problem",
    "ReadyStatus",
    "RequestId",
    "RowView",
    "SeatNoticeView",
    "SeatStatusChange",
    "SeatStatusChanges",
    "SeatView",
    "SeatsRequest",
    "ServerEnvelope",
    "ServerMessage",
    "SessionCreated",
    "ShowtimeLayout",
    "ShowtimeSummary",
    "Subscribe",
    "SubscribeFigures",
    "Subscribed",
    "TransitionView",
    "Unlock",
    "Unsubscribe",
    "Unsubscribed",
    "WebConfig",
    "WebhookEventView",
    "ack",
    "booking_view",
    "client_message",
    "describe",
    "keyed_reply",
    "render_notice",
]


class Model(BaseModel):
    # strict: "5" is not a number and 5 is not a seat id; unknown fields are ignored for forward compatibility.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=True, frozen=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


def encodable(value: str) -> str:
    """Refuse lone surrogates ("\\ud800" in JSON): valid in a Python str, not in UTF-8 or any database."""
    value.encode()  # UnicodeEncodeError is a ValueError, which pydantic reports as a validation error
    return value


# Ids and names are printable text: no control characters (PostgreSQL cannot even store NUL).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
MAX_ID_LENGTH = 64  # characters of a showtime or booking id
MAX_REQUEST_ID_LENGTH = 128
MAX_ADMIN_KEY_LENGTH = 512  # a key is compared, never stored: this only bounds the work
MAX_IDEMPOTENCY_KEY_LENGTH = 255
Text = AfterValidator(encodable)
ShowtimeId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=PRINTABLE), Text]
SeatId = Annotated[str, Field(min_length=1, max_length=16, pattern=PRINTABLE), Text]
RequestId = Annotated[str, Field(max_length=MAX_REQUEST_ID_LENGTH), Text] | int
# Names one request for retries (lock, unlock, book; the Idempotency-Key header over REST): see docs/protocol.md.
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LENGTH, pattern=PRINTABLE), Text]
MAX_NOTES_LENGTH = 2000  # characters of a booking's notes or a cancellation's reason
MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # printable, and line breaks and tabs
Reference = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE), Text]  # an order's, a payment's


class Customer(Model):
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE), Text]
    email: Annotated[
        str, Field(max_length=254, pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
    ]
    phone: Annotated[str, Field(min_length=1, max_length=40, pattern=PRINTABLE), Text] | None = None


# --- Request bodies, shared by socket messages and REST ---------------------------------------------------


class SeatsRequest(Model):
    """Which seats of which showtime; the body of lock and unlock. A table stands for all its seats."""

    showtime_id: ShowtimeId
    # Factories: a mutable default would be deep-copied into every message validated.
    seat_ids: list[SeatId] = Field(default_factory=list)
    table_ids: list[SeatId] = Field(default_factory=list)

    def selection(self) -> Selection:
        return Selection(self.seat_ids, self.table_ids)


class BookingRequest(SeatsRequest):
    customer: Customer
    # "pending": the booking awaits payment until paymentDueAt (confirm it when paid); absent: confirmed at once.
    payment: Literal["pending"] | None = None
    notes: Annotated[str, Field(max_length=MAX_NOTES_LENGTH, pattern=MULTILINE), Text] | None = None
    order_reference: Reference | None = None  # the shop's own

    def new_booking(self) -> NewBooking:
        customer = self.customer
        buyer = changes.Customer(customer.name, customer.email, customer.phone)
        return NewBooking(buyer, self.payment == "pending", self.notes, self.order_reference)


class ConfirmRequest(Model):
    """The shop was paid for a booking: the payment, by the provider's own reference."""

    payment_reference: Reference
    provider: Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE), Text]


class CancelRequest(Model):
    reason: Annotated[str, Field(min_length=1, max_length=MAX_NOTES_LENGTH, pattern=MULTILINE), Text] | None = None


# --- Client to server ---------------------------------------------------------------------------------------


class ClientEnvelope(Model):
    request_id: RequestId | None = None


class Subscribe(ClientEnvelope):
    type: Literal["subscribe"]
    showtime_id: ShowtimeId
    # The seq of the last change the client saw: the server replays what came after, when it still can.
    last_seq: Annotated[int, Field(ge=0)] | None = None
    # Live changes as one seat_status_changes frame per commit instead of one seat_status_change per seat.
    batch: bool = False
    # How many people look at the showtime (audience messages); false: none of them (still counted).
    audience: bool = True


class Unsubscribe(ClientEnvelope):
    type: Literal["unsubscribe"]
    showtime_id: ShowtimeId


class Authenticate(ClientEnvelope):
    """The operator's ``ADMIN_API_KEY``, in a message rather than the URL, where proxies would log it."""

    type: Literal["authenticate"]
    admin_key: Annotated[str, Field(max_length=MAX_ADMIN_KEY_LENGTH)]


class SubscribeFigures(ClientEnvelope):
    """Follow a showtime's sales figures (an authenticated connection only): ``figures`` now and after changes."""

    type: Literal["subscribe_figures"]
    showtime_id: ShowtimeId


class KeyedEnvelope(ClientEnvelope):
    """A change a client may retry: with the same ``idempotencyKey`` it is done once and answered alike."""

    idempotency_key: IdempotencyKey | None = None


class Lock(KeyedEnvelope, SeatsRequest):
    type: Literal["lock"]


class Extend(KeyedEnvelope, SeatsRequest):
    """Hold longer seats the session holds (a lock of them again, which never takes a seat it does not hold)."""

    type: Literal["extend"]


class Unlock(KeyedEnvelope, SeatsRequest):
    type: Literal["unlock"]


class Book(KeyedEnvelope, BookingRequest):
    type: Literal["book"]


class Ping(ClientEnvelope):
    type: Literal["ping"]


ClientMessage = Annotated[
    Subscribe | Unsubscribe | Lock | Extend | Unlock | Book | Ping | Authenticate | SubscribeFigures,
    Field(discriminator="type"),
]
client_message: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


# --- Server to client ---------------------------------------------------------------------------------------


class ServerEnvelope(Model):
    request_id: RequestId | None = None


class ConnectionEstablished(ServerEnvelope):
    type: Literal["connection_established"] = "connection_established"
    session_id: str
    token: str
    # False when the client asked to resume with a token that was invalid or expired.
    resumed: bool
    timestamp: int


class Authenticated(ServerEnvelope):
    """The admin key was right: this connection may follow figures until it closes."""

    type: Literal["authenticated"] = "authenticated"


class Subscribed(ServerEnvelope):
    type: Literal["subscribed"] = "subscribed"
    showtime_id: str
    # Only when the client sent lastSeq: true if the missed changes were replayed just before this
    # message (and ``seq`` is the last of them), false if a full current_seat_status follows instead.
    recovered: bool | None = None
    seq: int | None = None


class Unsubscribed(ServerEnvelope):
    type: Literal["unsubscribed"] = "unsubscribed"
    showtime_id: str
    # Set when the server ended the subscription itself (a resubscribe that failed): subscribe again.
    reason: str | None = None


class CurrentSeatStatus(ServerEnvelope):
    type: Literal["current_seat_status"] = "current_seat_status"
    showtime_id: str
    seq: int
    booked_seats: list[str]
    locked_seats: list[str]  # held by anyone, this session included
    my_seats: list[str]  # held by this session
    hold_expires_at: dict[str, int]  # for each of my_seats
    blocked_seats: list[str]  # taken out of sale by the operator
    timestamp: int

    def to_json_without_timestamp(self) -> str:
        """The frame but its timestamp, for many clients at once; :meth:`stamp` completes it for each."""
        return self.model_dump_json(by_alias=True, exclude_none=True, exclude={"timestamp"})

    @staticmethod
    def stamp(frame: str, timestamp: int) -> str:
        """A frame of :meth:`to_json_without_timestamp` with its timestamp: the text :meth:`to_json` renders."""
        return f'{frame[:-1]},"timestamp":{timestamp}}}'  # the timestamp is the last field

    @classmethod
    def of(cls, view: StatusView) -> Self:
        return cls(
            showtime_id=view.showtime_id,
            seq=view.seq,
            booked_seats=view.booked,
            locked_seats=view.held,
            my_seats=list(view.mine),
            hold_expires_at=view.mine,
            blocked_seats=view.blocked,
            timestamp=view.at,
        )


class SeatStatusChange(ServerEnvelope):
    type: Literal["seat_status_change"] = "seat_status_change"
    showtime_id: str
    seat_id: str
    status: SeatStatus
    session_id: str
    seq: int
    timestamp: int

    @classmethod
    def of(cls, event: Event) -> Self:
        change = event.change
        return cls(
            showtime_id=event.showtime_id,
            seat_id=change.seat,
            status=change.status,
            session_id=change.session_id,
            seq=event.seq,
            timestamp=event.at,
        )


class SeatStatusChanges(ServerEnvelope):
    """The changes of one commit, in seq order, for a subscriber that asked for ``batch``; each change is a
    whole ``seat_status_change`` message, so a client may handle it as if it had come alone."""

    type: Literal["seat_status_changes"] = "seat_status_changes"
    showtime_id: str
    changes: list[SeatStatusChange]

    @staticmethod
    def joining(showtime_id: str, change_frames: Sequence[str]) -> str:
        """The encoded message, from changes already encoded as ``seat_status_change`` frames."""
        showtime = pydantic_core.to_json(showtime_id).decode()
        return f'{{"type":"seat_status_changes","showtimeId":{showtime},"changes":[{",".join(change_frames)}]}}'


class Audience(ServerEnvelope):
    """How many subscribers the showtime has on all instances, the recipient included."""

    type: Literal["audience"] = "audience"
    showtime_id: str
    viewers: int


class Ack(ServerEnvelope):
    type: Literal["ack"] = "ack"
    action: Literal["lock", "extend", "unlock", "book", "block", "unblock"]
    showtime_id: str
    seat_ids: list[str]
    expires_at: int | None = None  # lock, extend: when the first of the holds lapses
    booking_id: str | None = None  # book
    status: BookingStatus | None = None  # book: pending (awaiting payment) or confirmed
    payment_due_at: int | None = None  # book, pending: when it expires unless confirmed
    total_cents: int | None = None  # book
    currency: str | None = None  # book

    @classmethod
    def of(cls, accepted: Accepted) -> Self:
        acked = cls(
            action=accepted.action,
            showtime_id=accepted.showtime_id,
            seat_ids=list(accepted.seat_ids),
            expires_at=accepted.expires_at,
        )
        if (sold := accepted.booking) is None:
            return acked
        return acked.model_copy(
            update={
                "booking_id": sold.id,
                "status": sold.status,
                "payment_due_at": sold.payment_due_at,
                "total_cents": sold.total_cents,
                "currency": sold.currency,
            }
        )


def ack(outcome: Accepted | Rejection) -> Ack | Rejection:
    """The reply to a seat change: its ack, or the rejection as it came."""
    return outcome if isinstance(outcome, Rejection) else Ack.of(outcome)


class Pong(ServerEnvelope):
    type: Literal["pong"] = "pong"
    timestamp: int


class ErrorFields(Model):
    """What a refusal says, on the socket and over HTTP alike."""

    code: ErrorCode
    message: str
    conflicting_seats: list[str] | None = None  # the seats that caused the error, where there are some
    retry_after_ms: int | None = None  # rate_limited: when trying again will succeed

    @classmethod
    def of(cls, rejection: Rejection, **fields: Any) -> Self:
        return cls(
            code=rejection.code,
            message=rejection.message,
            conflicting_seats=list(rejection.seats) or None,
            retry_after_ms=rejection.retry_after_ms,
            **fields,
        )


class ErrorMessage(ServerEnvelope, ErrorFields):
    """An error. ``request_id`` set to None, rather than left unset, goes out as ``"requestId": null``: the
    refused frame was not JSON, or its requestId was not a valid one."""

    type: Literal["error"] = "error"

    def to_json(self) -> str:
        if self.request_id is None and "request_id" in self.model_fields_set:
            body = self.model_dump(mode="json", by_alias=True, exclude_none=True)
            return pydantic_core.to_json({"requestId": None, **body}).decode()
        return super().to_json()


ServerMessage = (
    ConnectionEstablished
    | Subscribed
    | Unsubscribed
    | CurrentSeatStatus
    | SeatStatusChange
    | SeatStatusChanges
    | Audience
    | Authenticated
    | Ack
    | Pong
    | ErrorMessage
)
# The reply to a keyed change (lock, unlock, book), as kept for its idempotency key and read back to replay it.
KeyedReply = Annotated[Ack | ErrorMessage, Field(discriminator="type")]
keyed_reply: TypeAdapter[KeyedReply] = TypeAdapter(KeyedReply)


# --- REST only ----------------------------------------------------------------------------------------------


class SessionCreated(Model):
    session_id: str
    token: str
    expires_at: int


class FieldErrorView(Model):
    path: str  # where in the body: "sections[1].rows[3].seats[7]", "prices.gold"; empty for the whole
    message: str


class Problem(ErrorFields):
    """An RFC 9457 problem body, carrying the same code and message as the socket's error."""

    type: str = "about:blank"
    title: str
    status: int
    errors: list[FieldErrorView] | None = None  # invalid_layout, invalid_value: each error at its path

    @classmethod
    def of(cls, rejection: Rejection, **fields: Any) -> Self:
        errors = [FieldErrorView(path=e.path, message=e.message) for e in rejection.errors] or None
        return super().of(rejection, errors=errors, **fields)


class Category(Model):
    id: str
    name: str
    color: str | None = None
    price_cents: int | None  # at this showtime; None: not on sale


class PointView(Model):
    x: float
    y: float


class ShapeView(Model):
    kind: Literal["rectangle", "circle", "polygon", "text"]
    x: float = 0
    y: float = 0
    width: float | None = None
    height: float | None = None
    radius: float | None = None
    points: list[PointView] | None = None
    text: str | None = None
    rotation: float | None = None
    color: str | None = None

    @classmethod
    def of(cls, shape: Shape) -> Self:
        fields = asdict(shape) | {"points": [PointView(x=p.x, y=p.y) for p in shape.points] or None}
        return cls(**fields)


# A pending booking's seat is shown held: it was announced locked, and it is taken until paid or let go.
ShownState = Literal[SeatState.AVAILABLE, SeatState.HELD, SeatState.BOOKED, SeatState.BLOCKED]


class SeatView(Model):
    id: str
    label: str
    x: float
    y: float
    rotation: float | None = None
    category_id: str
    flags: list[SeatFlag]
    status: ShownState


class RowView(Model):
    label: str
    seats: list[SeatView]


class SectionView(Model):
    id: str
    name: str
    rows: list[RowView]


class TableView(Model):
    id: str
    label: str
    seat_ids: list[str]
    sold_as_whole: bool
    shape: ShapeView | None = None

    @classmethod
    def of(cls, table: TablePlan) -> Self:
        shape = ShapeView.of(table.shape) if table.shape else None
        return cls(
            id=table.id,
            label=table.label,
            seat_ids=list(table.seat_ids),
            sold_as_whole=table.sold_as_whole,
            shape=shape,
        )


class BoundsView(Model):
    x: float
    y: float
    width: float
    height: float


class ShowtimeSummary(Model):
    id: str
    title: str
    starts_at: int
    currency: str
    venue: str
    auditorium: str
    seat_count: int

    @classmethod
    def of(cls, record: ShowtimeRecord) -> Self:
        return cls(**asdict(record))  # the same fields


class ShowtimeLayout(ShowtimeSummary):
    """A showtime's hall as the page draws it, with the showtime's prices and each seat's status at ``seq``."""

    seq: int
    categories: list[Category]
    prices: dict[str, int]  # category id -> cents
    sections: list[SectionView]
    tables: list[TableView]
    shapes: list[ShapeView]
    focus: PointView | None = None
    bounds: BoundsView
    sales_open_at: int | None = None
    sales_close_at: int | None = None

    @classmethod
    def from_map(cls, seat_map: SeatMap) -> Self:
        details, status = seat_map.details, seat_map.status
        hall = details.hall
        state: dict[str, ShownState] = {seat: SeatState.BOOKED for seat in status.booked}
        state |= {seat: SeatState.HELD for seat in status.held}
        state |= {seat: SeatState.BLOCKED for seat in status.blocked}
        sections = [
            SectionView(
                id=section.id,
                name=section.name,
                rows=[
                    RowView(
                        label=row.label,
                        seats=[
                            SeatView(
                                id=seat.id,
                                label=seat.label,
                                x=seat.x,
                                y=seat.y,
                                rotation=seat.rotation,
                                category_id=seat.category_id,
                                flags=sorted(seat.flags),
                                status=state.get(seat.id, SeatState.AVAILABLE),
                            )
                            for seat in row.seats
                        ],
                    )
                    for row in section.rows
                ],
            )
            for section in hall.sections
        ]
        bounds = hall.bounds()
        return cls(
            **asdict(details.showtime),
            seq=status.seq,
            categories=[
                Category(id=c.id, name=c.name, color=c.color, price_cents=details.prices.get(c.id))
                for c in hall.categories
            ],
            prices=details.prices,
            sections=sections,
            tables=[TableView.of(table) for table in hall.tables],
            shapes=[ShapeView.of(shape) for shape in hall.shapes],
            focus=PointView(x=hall.focus.x, y=hall.focus.y) if hall.focus else None,
            bounds=BoundsView(x=bounds.x, y=bounds.y, width=bounds.width, height=bounds.height),
            sales_open_at=details.sales_open_at,
            sales_close_at=details.sales_close_at,
        )


class BookingItemView(Model):
    seat_id: str
    price_cents: int  # what the seat sold at


class TransitionView(Model):
    position: int  # 1, 2, ...: the booking's history in order
    status: BookingStatus  # the status it led to (a late payment keeps the status it found)
    actor: str  # the buyer's session id, admin (the shop), or system (payment expiry)
    at: int
    detail: str | None = None  # the payment, the reason for a cancellation, why it expired

    @classmethod
    def of(cls, record: TransitionRecord) -> Self:
        return cls(**asdict(record))


class BookingView(Model):
    """A booking: its seats at the prices they sold at (kept whatever its status), customer, payment, history."""

    id: str
    showtime_id: str
    status: BookingStatus
    seat_ids: list[str]
    items: list[BookingItemView]
    customer: Customer
    total_cents: int
    currency: str
    notes: str | None = None
    order_reference: str | None = None
    payment_due_at: int | None = None
    payment_reference: str | None = None
    provider: str | None = None
    cancel_reason: str | None = None
    created_at: int
    confirmed_at: int | None = None
    cancelled_at: int | None = None
    expired_at: int | None = None
    transitions: list[TransitionView]

    @classmethod
    def of(cls, record: BookingRecord) -> Self:
        return cls(
            id=record.id,
            showtime_id=record.showtime_id,
            status=record.status,
            seat_ids=record.seat_ids,
            items=[BookingItemView(seat_id=seat, price_cents=cents) for seat, cents in record.items.items()],
            customer=Customer(name=record.customer_name, email=record.customer_email, phone=record.customer_phone),
            total_cents=record.total_cents,
            currency=record.currency,
            notes=record.notes,
            order_reference=record.order_reference,
            payment_due_at=record.payment_due_at,
            payment_reference=record.payment_reference,
            provider=record.payment_provider,
            cancel_reason=record.cancel_reason,
            created_at=record.created_at,
            confirmed_at=record.confirmed_at,
            cancelled_at=record.cancelled_at,
            expired_at=record.expired_at,
            transitions=[TransitionView.of(transition) for transition in record.transitions],
        )


def booking_view(outcome: BookingRecord | Rejection) -> BookingView | Rejection:
    """The reply to a read or a move of a booking: the booking, or the rejection as it came."""
    return outcome if isinstance(outcome, Rejection) else BookingView.of(outcome)


class SeatNoticeView(Model):
    """The seats a seat event is about."""

    showtime_id: str
    seat_ids: list[str]
    reason: str | None = None  # seat.blocked


class WebhookEventView(Model):
    """The body of a webhook delivery (docs/webhooks.md)."""

    id: str
    type: str
    created_at: int
    data: BookingView | SeatNoticeView

    @classmethod
    def of(cls, event_id: str, notice: Notice) -> Self:
        data: BookingView | SeatNoticeView
        if notice.booking is not None:
            data = BookingView.of(notice.booking)
        else:
            data = SeatNoticeView(showtime_id=notice.showtime_id, seat_ids=list(notice.seats), reason=notice.reason)
        return cls(id=event_id, type=notice.type, created_at=notice.at, data=data)


def render_notice(event_id: str, notice: Notice) -> str:
    """The exact JSON a webhook delivers for ``notice``: written to the outbox, signed and sent as it is."""
    return WebhookEventView.of(event_id, notice).to_json()


class WebConfig(Model):
    """What a browser client needs to know before it connects."""

    websocket_url: str
    hold_ttl_seconds: float
    max_seats_per_request: int
    # The demo's stand-in payment provider is there (DEMO_DATA): book awaiting payment, then pay or cancel.
    demo_payments: bool = False


class Health(Model):
    status: Literal["ok"]


class ReadyStatus(Model):
    status: Literal["ready"]
    checks: dict[str, str]


def describe(error: ValidationError, subject: str) -> str:
    """A short, readable summary of what was wrong with a message or body, never echoing the input back."""
    details = error.errors(include_input=False, include_url=False)[:3]
    return "; ".join(f"{'.'.join(map(str, d['loc'])) or subject}: {d['msg']}" for d in details)
