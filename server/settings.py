"""Settings, read from the environment and an optional ``.env`` file. ``.env.example`` lists them all.

Each concern declares its own group, and each component is given only its group. ``Settings`` reads
them all at once from flat environment names (``HOLD_TTL_SECONDS``, not ``SEATS__HOLD_TTL_SECONDS``).
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.core.proxies import Network, parse_networks

__all__ = [
    "BusSettings",
    "DatabaseSettings",
    "LimitSettings",
    "LogSettings",
    "SeatSettings",
    "SessionSettings",
    "Settings",
    "TransportSettings",
    "WebhookSettings",
]


class Group(BaseModel):
    model_config = ConfigDict(frozen=True)


class TransportSettings(Group):
    """Where to listen and who may connect."""

    host: str = "127.0.0.1"
    websocket_server_port: int = Field(default=8080, ge=0, le=65535)
    http_port: int = Field(default=8000, ge=0, le=65535)
    # Browser origins allowed to open the socket and call the API (comma-separated, or *); empty: only
    # the server's own pages.
    allowed_origins: str = ""
    # The WebSocket URL browsers should use, when a proxy puts it elsewhere; empty: derived per request.
    public_websocket_url: str = ""
    ping_interval_seconds: float = Field(default=20, gt=0)
    ping_timeout_seconds: float = Field(default=20, gt=0)
    # A connection that has not completed its WebSocket handshake by then is cut off.
    handshake_timeout_seconds: float = Field(default=5, gt=0)
    # Reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For or Forwarded names the client.
    trusted_proxies: str = ""
    # An HTTP connection that has not sent a complete request head this long after opening or after its last
    # response is closed: bounds idle keep-alive and headers sent a byte at a time alike.
    http_idle_timeout_seconds: float = Field(default=15, gt=0)
    # A request body that has not fully arrived this long after its head is refused (408).
    http_body_timeout_seconds: float = Field(default=10, gt=0)

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip())

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        parse_networks(value)  # a typo must stop the start, not silently trust no one
        return value

    @cached_property
    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)


class DatabaseSettings(Group):
    database_url: str = "sqlite:///./seats.db"
    database_pool_size: int = Field(default=10, ge=1)
    # The demo cinema, created when the database has no showtime; None (empty): on SQLite only, never in production.
    demo_data: bool | None = None

    @field_validator("demo_data", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value


class SessionSettings(Group):
    # Signs session tokens. Unset on SQLite: generated once and kept beside the database file.
    secret_key: str = ""
    session_ttl_seconds: int = Field(default=86_400, ge=60)
    new_sessions_per_minute_per_ip: float = Field(default=30, gt=0)  # socket and REST together
    # The operator's key for /api/admin/* (Authorization: Bearer <key>); empty: the admin API is disabled.
    admin_api_key: str = ""


class SeatSettings(Group):
    """Holds, requests on seats, and the event log that lets clients catch up."""

    hold_ttl_seconds: float = Field(default=600, gt=0)
    # No hold lasts longer after its session first held the seat, however often it is locked again or extended.
    max_hold_seconds: float = Field(default=1800, gt=0)
    hold_sweep_interval_seconds: float = Field(default=1.0, gt=0)
    # A pending booking (book with "payment": "pending") not confirmed this long after is expired, its seats freed.
    payment_timeout_seconds: float = Field(default=900, gt=0)
    max_seats_per_request: int = Field(default=10, ge=1)
    max_held_seats_per_session: int = Field(default=20, ge=1)  # per showtime
    seat_changes_per_second: float = Field(default=5, gt=0)  # lock, unlock and book, per session
    seat_change_burst: int = Field(default=10, ge=1)
    # A client that resubscribes with lastSeq gets the missed changes replayed if there are at most this
    # many and they are younger than the retention; otherwise a full snapshot.
    max_replay_events: int = Field(default=1000, ge=0)
    event_log_retention_seconds: int = Field(default=86_400, ge=60)
    # How long the event log keeps each change as its seat's history (GET .../history); replays still offer
    # only those younger than EVENT_LOG_RETENTION_SECONDS.
    audit_retention_days: float = Field(default=365, gt=0)
    # How long a request's idempotency key (Idempotency-Key, idempotencyKey) keeps its answer for retries.
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)

    @model_validator(mode="after")
    def _cap_covers_a_hold(self) -> Self:
        if self.max_hold_seconds < self.hold_ttl_seconds:
            raise ValueError(
                f"MAX_HOLD_SECONDS ({self.max_hold_seconds:g}) must be at least HOLD_TTL_SECONDS "
                f"({self.hold_ttl_seconds:g}): it caps how long a hold may be extended, so it cannot be shorter "
                "than one hold"
            )
        return self


class LimitSettings(Group):
    """Per-connection abuse limits; each refusal has its own error code (docs/protocol.md)."""

    max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    # A layout file imported through the admin API or the command line: its size, and its seats.
    max_layout_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_layout_seats: int = Field(default=50_000, ge=1)
    messages_per_second: float = Field(default=20, gt=0)  # per connection (token bucket)
    message_burst: int = Field(default=40, ge=1)
    max_connections_per_ip: int = Field(default=50, ge=1)  # WebSocket and HTTP together
    # Open connections of the whole server; 0: as many as the open-file limit leaves room for.
    max_connections: int = Field(default=0, ge=0)
    showtime_reads_per_minute_per_ip: float = Field(default=120, gt=0)  # GET /api/showtimes/{id}
    max_subscriptions_per_connection: int = Field(default=10, ge=1)
    # A client that reads so slowly that this much waits in its write buffer is cut off (1006, no close frame).
    slow_consumer_buffer_bytes: int = Field(default=1024 * 1024, ge=64 * 1024)
    # Messages of one connection received but not yet answered; more are refused (rate_limited).
    max_pending_messages: int = Field(default=8, ge=1)


class BusSettings(Group):
    """Several instances: all share one PostgreSQL database and one Redis; no REDIS_URL means one instance."""

    redis_url: str = ""
    redis_channel_prefix: str = "seats"
    # How often each instance checks the database for changes the bus did not bring (a safety net).
    reconcile_interval_seconds: float = Field(default=2.0, gt=0)
    # How often each instance announces its subscriber counts and tells subscribers the audience if it changed
    # (at most one audience message per subscription per interval). Alone, it counts its own subscribers.
    audience_interval_seconds: float = Field(default=1.0, ge=0.05)
    # The least time between two readings of a showtime's figures for the dashboards that follow it, per instance.
    figures_interval_seconds: float = Field(default=1.0, ge=0.05)


class WebhookSettings(Group):
    """Where the shop's backend hears about bookings and blocked seats (docs/webhooks.md)."""

    webhook_url: str = ""  # comma-separated endpoints; empty: no webhooks, and nothing is written to the outbox
    webhook_secret: str = ""  # signs each delivery (Seat-Signature); required when webhook_url is set
    webhook_retry_hours: float = Field(default=24, gt=0)  # a delivery is retried, with backoff, this long
    webhook_backoff_seconds: float = Field(default=10, gt=0)  # the wait after a first failure; doubled after each
    webhook_backoff_max_seconds: float = Field(default=3600, gt=0)  # and capped at this
    webhook_timeout_seconds: float = Field(default=10, gt=0)  # one attempt, connecting included
    webhook_concurrency: int = Field(default=8, ge=1)  # attempts in flight at once
    webhook_poll_interval_seconds: float = Field(default=1.0, gt=0)  # how often the outbox is looked at
    # The instance delivering holds a lease in the database this long, renewing it at every poll; when it dies,
    # another instance takes over once the lease has run out.
    webhook_lease_seconds: float = Field(default=15, gt=0)
    webhook_retention_hours: float = Field(default=168, gt=0)  # delivered and failed events are then deleted

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(url.strip() for url in self.webhook_url.split(",") if url.strip()))

    @model_validator(mode="after")
    def _signed(self) -> WebhookSettings:
        if self.urls and not self.webhook_secret:
            raise ValueError("WEBHOOK_SECRET must be set when WEBHOOK_URL is: every delivery is signed with it")
        if wrong := [url for url in self.urls if not url.startswith(("http://", "https://"))]:
            raise ValueError(f"WEBHOOK_URL: each endpoint must be an http:// or https:// URL, not {wrong[0]!r}")
        if self.webhook_lease_seconds <= 2 * self.webhook_poll_interval_seconds:
            raise ValueError(
                "WEBHOOK_LEASE_SECONDS must exceed twice WEBHOOK_POLL_INTERVAL_SECONDS: it is renewed then"
            )
        return self


class LogSettings(Group):
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"


G = TypeVar("G", bound=Group)


class Settings(
    BaseSettings,
    TransportSettings,
    DatabaseSettings,
    SessionSettings,
    SeatSettings,
    LimitSettings,
    BusSettings,
    WebhookSettings,
    LogSettings,
):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    def _group(self, group: type[G]) -> G:
        return group.model_validate({name: getattr(self, name) for name in group.model_fields})

    @cached_property
    def transport(self) -> TransportSettings:
        return self._group(TransportSettings)

    @cached_property
    def database(self) -> DatabaseSettings:
        return self._group(DatabaseSettings)

    @cached_property
    def sessions(self) -> SessionSettings:
        return self._group(SessionSettings)

    @cached_property
    def seats(self) -> SeatSettings:
        return self._group(SeatSettings)

    @cached_property
    def limits(self) -> LimitSettings:
        return self._group(LimitSettings)

    @cached_property
    def bus(self) -> BusSettings:
        return self._group(BusSettings)

    @cached_property
    def webhooks(self) -> WebhookSettings:
        return self._group(WebhookSettings)

    @cached_property
    def logging(self) -> LogSettings:
        return self._group(LogSettings)
