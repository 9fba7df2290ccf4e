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
    "booking_seat",
    "layout",
    "layout_category",
    "layout_seat",
    "layout_section",
    "layout_table",
    "metadata",
    "seat_block",
    "seat_event",
    "seat_hold",
    "showtime",
    "showtime_price",
    "venue",
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

booking = Table(
    "booking",
    metadata,
    Column("id", Text, primary_key=True),
    Column("showtime_id", Text, nullable=False),
    Column("session_id", Text, nullable=False),
    Column("customer_name", Text, nullable=False),
    Column("customer_email", Text, nullable=False),
    Column("total_cents", Integer, nullable=False),
    Column("currency", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["showtime_id"], ["showtime.id"], name="booking_showtime_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    Index("booking_showtime_id_idx", "showtime_id"),
)

# A seat sold in a booking. The primary key is the database's own guarantee that no seat is sold twice.
booking_seat = Table(
    "booking_seat",
    metadata,
    Column("showtime_id", Text, nullable=False),
    Column("seat_code", Text, nullable=False),
    Column("booking_id", Text, nullable=False),
    Column("price_cents", Integer, nullable=False),
    PrimaryKeyConstraint("showtime_id", "seat_code"),
    ForeignKeyConstraint(
        ["showtime_id"], ["showtime.id"], name="booking_seat_showtime_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    ForeignKeyConstraint(
        ["booking_id"], ["booking.id"], name="booking_seat_booking_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    Index("booking_seat_booking_id_idx", "booking_id"),
)

# The log of seat changes per showtime, in `seq` order, kept so reconnecting clients can catch up.
seat_event = Table(
    "seat_event",
    metadata,
    Column("showtime_id", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("seat_code", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("session_id", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("showtime_id", "seq"),
    ForeignKeyConstraint(
        ["showtime_id"], ["showtime.id"], name="seat_event_showtime_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    Index("seat_event_created_at_idx", "created_at"),
)
