# Generated from prisma/schema.prisma by scripts/generate_tables.py: do not edit by hand.
# After changing the schema, run scripts/generate_tables.py and commit the result.
"""The tables of ``prisma/schema.prisma``, described for SQLAlchemy Core as Prisma's migrations create them."""

from __future__ import annotations

from sqlalchemy import (
    REAL,
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)

__all__ = [
    "auditorium",
    "booking",
    "booking_item",
    "booking_seat",
    "booking_transition",
    "idempotency_key",
    "layout",
    "layout_category",
    "layout_seat",
    "layout_section",
    "layout_table",
    "lease",
    "metadata",
    "seat_block",
    "seat_event",
    "seat_hold",
    "showtime",
    "showtime_price",
    "venue",
    "webhook_attempt",
    "webhook_delivery",
    "webhook_event",
]

metadata = MetaData()

venue = Table(
    "venue",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
)

# A hall of a venue: an auditorium, a coach, a banquet room. Its rooms over time are its layout versions.
auditorium = Table(
    "auditorium",
    metadata,
    Column("id", Text, primary_key=True),
    Column("venue_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    ForeignKeyConstraint(
        ["venue_id"], ["venue.id"], name="auditorium_venue_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    Index("auditorium_venue_id_idx", "venue_id"),
)

# One version of a hall's layout, immutable: editing a hall makes a new version, and showtimes keep the
# version they were created with, so seats already sold never move. `shapes` is a JSON array of what to
# draw (stage, pillars, labels); `focusX`/`focusY` is the stage or screen centre.
layout = Table(
    "layout",
    metadata,
    Column("id", Text, primary_key=True),
    Column("auditorium_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("shapes", Text, nullable=False, server_default=text("'[]'")),
    Column("focus_x", Double().with_variant(REAL(), "sqlite")),
    Column("focus_y", Double().with_variant(REAL(), "sqlite")),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["auditorium_id"], ["auditorium.id"], name="layout_auditorium_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    Index("layout_auditorium_id_version_key", "auditorium_id", "version", unique=True),
)

# A seat category of a layout (e.g. Stalls, Balcony); prices are the showtime's.
layout_category = Table(
    "layout_category",
    metadata,
    Column("layout_id", Text, nullable=False),
    Column("id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("color", Text),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("layout_id", "id"),
    ForeignKeyConstraint(
        ["layout_id"], ["layout.id"], name="layout_category_layout_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
)

layout_section = Table(
    "layout_section",
    metadata,
    Column("layout_id", Text, nullable=False),
    Column("id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("layout_id", "id"),
    ForeignKeyConstraint(
        ["layout_id"], ["layout.id"], name="layout_section_layout_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
)

# A table or box: a group of seats (those whose `tableId` names it). `shape` is JSON, or null.
layout_table = Table(
    "layout_table",
    metadata,
    Column("layout_id", Text, nullable=False),
    Column("id", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("sold_as_whole", Boolean, nullable=False),
    Column("shape", Text),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("layout_id", "id"),
    ForeignKeyConstraint(
        ["layout_id"], ["layout.id"], name="layout_table_layout_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
)

# A seat of a layout. `code` ("F12") is what clients call a seat id; it is unique within its layout.
# `flags` is a comma-separated list (accessible, companion, restrictedView); `blockedReason`, when set,
# blocks the seat in every new showtime of the layout (a pillar seat).
layout_seat = Table(
    "layout_seat",
    metadata,
    Column("layout_id", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("section_id", Text, nullable=False),
    Column("row_label", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("x", Double().with_variant(REAL(), "sqlite"), nullable=False),
    Column("y", Double().with_variant(REAL(), "sqlite"), nullable=False),
    Column("rotation", Double().with_variant(REAL(), "sqlite")),
    Column("category_id", Text, nullable=False),
    Column("flags", Text, nullable=False, server_default=text("''")),
    Column("table_id", Text),
    Column("blocked_reason", Text),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("layout_id", "code"),
    ForeignKeyConstraint(
        ["layout_id"], ["layout.id"], name="layout_seat_layout_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
)

# A performance in a hall, on the layout version it was created with. `seq` counts the seat changes of
# this showtime: it is bumped in the same transaction as each change, so it is global across instances.
# Outside `salesOpenAt`..`salesCloseAt` (when set) seats cannot be held.
showtime = Table(
    "showtime",
    metadata,
    Column("id", Text, primary_key=True),
    Column("layout_id", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("currency", Text, nullable=False, server_default=text("'EUR'")),
    Column("sales_open_at", BigInteger),
    Column("sales_close_at", BigInteger),
    Column("seq", BigInteger, nullable=False, server_default=text("0")),
    ForeignKeyConstraint(
        ["layout_id"], ["layout.id"], name="showtime_layout_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    Index("showtime_layout_id_idx", "layout_id"),
)

# What a seat of a category costs at a showtime, in cents of the showtime's currency.
showtime_price = Table(
    "showtime_price",
    metadata,
    Column("showtime_id", Text, nullable=False),
    Column("category_id", Text, nullable=False),
    Column("price_cents", Integer, nullable=False),
    PrimaryKeyConstraint("showtime_id", "category_id"),
    ForeignKeyConstraint(
        ["showtime_id"],
        ["showtime.id"],
        name="showtime_price_showtime_id_fkey",
        ondelete="RESTRICT",
        onupdate="CASCADE",
    ),
)

# A seat the operator took out of sale for one showtime (a broken seat, a camera position, house seats).
seat_block = Table(
    "seat_block",
    metadata,
    Column("showtime_id", Text, nullable=False),
    Column("seat_code", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("showtime_id", "seat_code"),
    ForeignKeyConstraint(
        ["showtime_id"], ["showtime.id"], name="seat_block_showtime_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
)

# A seat held by a session until `expiresAt`. The primary key makes a seat holdable by one session only.
# `createdAt` is when the session first held the seat: re-locking keeps it, and no hold outlives
# `createdAt` + MAX_HOLD_SECONDS.
seat_hold = Table(
    "seat_hold",
    metadata,
    Column("showtime_id", Text, nullable=False),
    Column("seat_code", Text, nullable=False),
    Column("session_id", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("showtime_id", "seat_code"),
    ForeignKeyConstraint(
        ["showtime_id"], ["showtime.id"], name="seat_hold_showtime_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    Index("seat_hold_expires_at_idx", "expires_at"),
    Index("seat_hold_showtime_id_session_id_idx", "showtime_id", "session_id"),
)

# A sale: `pending` (seats taken, awaiting payment until `paymentDueAt`), `confirmed`, `cancelled` or
# `expired`. Its seats and their prices at the time are its items; `transitions` log every status change.
booking = Table(
    "booking",
    metadata,
    Column("id", Text, primary_key=True),
    Column("showtime_id", Text, nullable=False),
    Column("session_id", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'confirmed'")),
    Column("customer_name", Text, nullable=False),
    Column("customer_email", Text, nullable=False),
    Column("customer_phone", Text),
    Column("notes", Text),
    Column("order_reference", Text),
    Column("total_cents", Integer, nullable=False),
    Column("currency", Text, nullable=False),
    Column("payment_due_at", BigInteger),
    Column("payment_reference", Text),
    Column("payment_provider", Text),
    Column("cancel_reason", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("confirmed_at", BigInteger),
    Column("cancelled_at", BigInteger),
    Column("expired_at", BigInteger),
    ForeignKeyConstraint(
        ["showtime_id"], ["showtime.id"], name="booking_showtime_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    Index("booking_showtime_id_status_idx", "showtime_id", "status"),
    Index("booking_status_payment_due_at_idx", "status", "payment_due_at"),
    Index("booking_order_reference_idx", "order_reference"),
    Index("booking_customer_email_idx", "customer_email"),
)

# A seat of a booking at the price it was sold at, kept whatever becomes of the booking.
booking_item = Table(
    "booking_item",
    metadata,
    Column("booking_id", Text, nullable=False),
    Column("seat_code", Text, nullable=False),
    Column("price_cents", Integer, nullable=False),
    PrimaryKeyConstraint("booking_id", "seat_code"),
    ForeignKeyConstraint(
        ["booking_id"], ["booking.id"], name="booking_item_booking_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
)

# A seat taken by a pending or confirmed booking; the row goes when the booking is cancelled or expires.
# The primary key is the database's own guarantee that no seat is sold twice.
booking_seat = Table(
    "booking_seat",
    metadata,
    Column("showtime_id", Text, nullable=False),
    Column("seat_code", Text, nullable=False),
    Column("booking_id", Text, nullable=False),
    PrimaryKeyConstraint("showtime_id", "seat_code"),
    ForeignKeyConstraint(
        ["showtime_id"], ["showtime.id"], name="booking_seat_showtime_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    ForeignKeyConstraint(
        ["booking_id"], ["booking.id"], name="booking_seat_booking_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    Index("booking_seat_booking_id_idx", "booking_id"),
)

# Every status change of a booking, in order: who made it (a session or `admin`), and why.
booking_transition = Table(
    "booking_transition",
    metadata,
    Column("booking_id", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("detail", Text),
    Column("at", BigInteger, nullable=False),
    PrimaryKeyConstraint("booking_id", "position"),
    ForeignKeyConstraint(
        ["booking_id"],
        ["booking.id"],
        name="booking_transition_booking_id_fkey",
        ondelete="RESTRICT",
        onupdate="CASCADE",
    ),
)

# The log of seat changes per showtime, in `seq` order: reconnecting clients catch up from it (for
# EVENT_LOG_RETENTION_SECONDS), and it is each seat's history (kept AUDIT_RETENTION_DAYS). `sessionId` is the
# session the seat's claim belongs to; `origin` why it changed (lock, book, hold_expired, ...), `actor` who
# changed it (a session, `admin` or `system`), `channel` how it was asked (socket, rest, system; unknown for
# changes logged before origins were).
seat_event = Table(
    "seat_event",
    metadata,
    Column("showtime_id", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("seat_code", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("session_id", Text, nullable=False),
    Column("origin", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("showtime_id", "seq"),
    ForeignKeyConstraint(
        ["showtime_id"], ["showtime.id"], name="seat_event_showtime_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    Index("seat_event_showtime_id_seat_code_seq_idx", "showtime_id", "seat_code", "seq"),
    Index("seat_event_created_at_idx", "created_at"),
)

# The first response to a request sent with an idempotency key, per scope (a session, or `admin`).
# `statusCode` and `response` are null while the first request is still being answered.
idempotency_key = Table(
    "idempotency_key",
    metadata,
    Column("scope", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("status_code", Integer),
    Column("response", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("scope", "key"),
    Index("idempotency_key_expires_at_idx", "expires_at"),
)

# The webhook outbox: an event written in the same transaction as the change it reports, delivered later.
# `position` is its booking's transition it reports (0 for a seat event): a booking's events go out in that
# order. `body` is the exact JSON that is signed and sent.
webhook_event = Table(
    "webhook_event",
    metadata,
    Column("id", Text, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("booking_id", Text),
    Column("showtime_id", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("webhook_event_booking_id_position_idx", "booking_id", "position"),
    Index("webhook_event_created_at_idx", "created_at"),
)

# The delivery of one event to one endpoint: `pending` until `delivered`, or `failed` once retries ran out.
webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    Column("event_id", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("last_attempt_at", BigInteger),
    Column("delivered_at", BigInteger),
    PrimaryKeyConstraint("event_id", "url"),
    ForeignKeyConstraint(
        ["event_id"],
        ["webhook_event.id"],
        name="webhook_delivery_event_id_fkey",
        ondelete="RESTRICT",
        onupdate="CASCADE",
    ),
    Index("webhook_delivery_status_next_attempt_at_idx", "status", "next_attempt_at"),
)

# One attempt to deliver an event: the endpoint's status code, or the error when there was none.
webhook_attempt = Table(
    "webhook_attempt",
    metadata,
    Column("event_id", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    PrimaryKeyConstraint("event_id", "url", "attempt"),
    ForeignKeyConstraint(
        ["event_id", "url"],
        ["webhook_delivery.event_id", "webhook_delivery.url"],
        name="webhook_attempt_event_id_url_fkey",
        ondelete="RESTRICT",
        onupdate="CASCADE",
    ),
    Index("webhook_attempt_at_idx", "at"),
)

# A named lease: which instance does a job that only one may do at a time (delivering webhooks), until when.
lease = Table(
    "lease",
    metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)
