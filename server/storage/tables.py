"""The tables of ``prisma/schema.prisma``, described for SQLAlchemy Core. Prisma's migrations create them."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

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

venue = Table("venue", metadata, Column("id", Text, primary_key=True), Column("name", Text, nullable=False))

auditorium = Table(
    "auditorium",
    metadata,
    Column("id", Text, primary_key=True),
    Column("venue_id", Text, nullable=False),
    Column("name", Text, nullable=False),
)

seat_category = Table(
    "seat_category",
    metadata,
    Column("id", Text, primary_key=True),
    Column("auditorium_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("price_cents", Integer, nullable=False),
)

seat = Table(
    "seat",
    metadata,
    Column("auditorium_id", Text, primary_key=True),
    Column("code", Text, primary_key=True),
    Column("row_label", Text, nullable=False),
    Column("number", Integer, nullable=False),
    Column("x", Integer, nullable=False),
    Column("y", Integer, nullable=False),
    Column("category_id", Text, nullable=False),
)

showtime = Table(
    "showtime",
    metadata,
    Column("id", Text, primary_key=True),
    Column("auditorium_id", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
)

seat_hold = Table(
    "seat_hold",
    metadata,
    Column("showtime_id", Text, primary_key=True),
    Column("seat_code", Text, primary_key=True),
    Column("session_id", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
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
)

booking_seat = Table(
    "booking_seat",
    metadata,
    Column("showtime_id", Text, primary_key=True),
    Column("seat_code", Text, primary_key=True),
    Column("booking_id", Text, nullable=False),
    Column("price_cents", Integer, nullable=False),
)

seat_event = Table(
    "seat_event",
    metadata,
    Column("showtime_id", Text, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("seat_code", Text, nullable=False),
    Column("status", String, nullable=False),
    Column("session_id", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
