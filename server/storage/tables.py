# Generated from prisma/schema.prisma by scripts/generate_tables.py: do not edit by hand.
# After changing the schema, run scripts/generate_tables.py and commit the result.
"""The tables of ``prisma/schema.prisma``, described for SQLAlchemy Core as Prisma's migrations create them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
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
    "metadata",
    "seat",
    "seat_category",
    "seat_event",
    "seat_hold",
    "showtime",
    "venue",
]

metadata = MetaData()

venue = Table(
    "venue",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
)

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

# A price band of an auditorium (e.g. standard, premium).
seat_category = Table(
    "seat_category",
    metadata,
    Column("id", Text, primary_key=True),
    Column("auditorium_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("price_cents", Integer, nullable=False),
    ForeignKeyConstraint(
        ["auditorium_id"],
        ["auditorium.id"],
        name="seat_category_auditorium_id_fkey",
        ondelete="RESTRICT",
        onupdate="CASCADE",
    ),
    Index("seat_category_auditorium_id_idx", "auditorium_id"),
)

# A physical seat. `code` ("F12") is what clients call a seat id; it is unique within its auditorium.
# `x`/`y` place it on the grid, so aisles and staggered rows can be drawn.
seat = Table(
    "seat",
    metadata,
    Column("auditorium_id", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("row_label", Text, nullable=False),
    Column("number", Integer, nullable=False),
    Column("x", Integer, nullable=False),
    Column("y", Integer, nullable=False),
    Column("category_id", Text, nullable=False),
    PrimaryKeyConstraint("auditorium_id", "code"),
    ForeignKeyConstraint(
        ["auditorium_id"], ["auditorium.id"], name="seat_auditorium_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    ForeignKeyConstraint(
        ["category_id"], ["seat_category.id"], name="seat_category_id_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    ),
    Index("seat_category_id_idx", "category_id"),
)

# A performance of a film or play in an auditorium. `seq` counts the seat changes of this showtime:
# it is bumped in the same transaction as each change, so it is global across server instances.
showtime = Table(
    "showtime",
    metadata,
    Column("id", Text, primary_key=True),
    Column("auditorium_id", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("currency", Text, nullable=False, server_default=text("'EUR'")),
    Column("seq", BigInteger, nullable=False, server_default=text("0")),
    ForeignKeyConstraint(
        ["auditorium_id"],
        ["auditorium.id"],
        name="showtime_auditorium_id_fkey",
        ondelete="RESTRICT",
        onupdate="CASCADE",
    ),
    Index("showtime_auditorium_id_idx", "auditorium_id"),
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
