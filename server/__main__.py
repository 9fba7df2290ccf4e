"""``python -m server`` serves; its commands set up what is sold (``--help`` lists them):

- ``seed --rows R --seats-per-row N``: a showtime on a seat grid of any size;
- ``layout import FILE [--format native|pretix] [--venue ID] [--hall ID]``: a hall's next layout version;
- ``showtime create (--layout ID | --hall ID) --title T --starts-at ISO8601 --price CATEGORY=CENTS ...``.

Each prints the id it created. A file or value the admin API would refuse is refused here too, with the same
messages (exit status 2).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from server.admin_http import FORMATS, read_layout
from server.app import run
from server.core.clock import SystemClock
from server.core.errors import Rejection
from server.logs import configure_logging
from server.metrics import Metrics
from server.service import Placement, SeatService
from server.settings import Settings
from server.storage.database import create_engine
from server.storage.migrations import apply_migrations
from server.storage.seed import Category, create_showtime
from server.storage.store import SeatStore
from server.storage.venues import NewShowtime


class Refused(Exception):
    """What the command line says before exiting with status 2."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server", description="Real-time seat reservation server")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the WebSocket and HTTP endpoints (the default)")
    seed = commands.add_parser("seed", help="create a showtime with a seat grid of any size and print its id")
    seed.add_argument("--rows", type=int, required=True)
    seed.add_argument("--seats-per-row", type=int, required=True)
    seed.add_argument("--title", default="Premiere")
    seed.add_argument("--venue", default="Cinema")
    seed.add_argument("--price-cents", type=int, default=1200)

    layout = commands.add_parser("layout", help="hall layouts").add_subparsers(dest="action", required=True)
    importing = layout.add_parser("import", help="import a layout file as its hall's next version; print its id")
    importing.add_argument("file", type=Path)
    importing.add_argument("--format", choices=FORMATS, default="native")
    importing.add_argument("--venue", help="the venue's id (default: the hall's, or a new venue)")
    importing.add_argument("--hall", help="the hall's id; a hall imported before gets its next version")
    importing.add_argument("--venue-name", help="the name of a new venue (default: its id)")
    importing.add_argument("--hall-name", help="the name of a new hall (default: a pretix plan's name, or its id)")

    showtime = commands.add_parser("showtime", help="showtimes").add_subparsers(dest="action", required=True)
    creating = showtime.add_parser("create", help="create a showtime on a layout and print its id")
    where = creating.add_mutually_exclusive_group(required=True)
    where.add_argument("--layout", help="a layout version's id")
    where.add_argument("--hall", help="a hall's id: its newest layout version")
    creating.add_argument("--title", required=True)
    creating.add_argument("--starts-at", type=instant, required=True, help="ISO 8601; UTC unless it names an offset")
    creating.add_argument(
        "--price", type=price, action="append", required=True, metavar="CATEGORY=CENTS", help="once per category"
    )
    creating.add_argument("--currency", default="EUR")
    creating.add_argument("--sales-open-at", type=instant)
    creating.add_argument("--sales-close-at", type=instant)
    creating.add_argument("--id", help="the showtime's id (default: made up)")
    args = parser.parse_args(argv)

    settings = _settings()
    configure_logging(settings.logging)
    if args.command == "seed" and (args.rows < 1 or args.seats_per_row < 1):
        parser.error("--rows and --seats-per-row must be at least 1")
    try:
        if args.command == "seed":
            print(asyncio.run(_seed(settings, args)))
        elif args.command == "layout":
            print(asyncio.run(_with_service(settings, lambda service: _import_layout(service, settings, args))))
        elif args.command == "showtime":
            print(asyncio.run(_with_service(settings, lambda service: _create_showtime(service, args))))
        else:
            asyncio.run(run(settings))
    except Refused as refused:
        parser.exit(2, f"{parser.prog}: error: {refused}\n")
    except (OSError, SQLAlchemyError) as error:
        # Unreachable database, port in use, unreadable file: say what and stop, without a traceback.
        sys.exit(f"cannot start: {error}")


def _settings() -> Settings:
    """The settings, or exit saying what is wrong with them, by name (never their values: SECRET_KEY is one)."""
    try:
        return Settings()
    except ValidationError as error:
        problems = (
            f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            if e["loc"]
            else e["msg"].removeprefix("Value error, ")
            for e in error.errors(include_input=False, include_url=False)
        )
        sys.exit("invalid settings: " + "; ".join(problems))


def instant(text: str) -> int:
    """An ISO 8601 date and time as epoch milliseconds."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date and time: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def price(text: str) -> tuple[str, int]:
    category, equals, cents = text.partition("=")
    if not (category and equals and cents.lstrip("-").isdecimal()):
        raise argparse.ArgumentTypeError(f"CATEGORY=CENTS, as front=900, not {text!r}")
    return category, int(cents)


def _refused(rejection: Rejection) -> Refused:
    """The rejection's message, or each of its errors (with its path) on a line of its own."""
    if not rejection.errors:
        return Refused(f"{rejection.code}: {rejection.message}")
    return Refused("\n".join([f"{rejection.code}:", *(f"  {error}" for error in rejection.errors)]))


async def _with_service(settings: Settings, use: Callable[[SeatService], Awaitable[str]]) -> str:
    """Run one use case on a service of its own; no instance is told, since nothing sold changes."""
    engine = create_engine(settings.database.database_url)
    try:
        await apply_migrations(engine)
        service = SeatService(SeatStore(engine), settings.seats, lambda events: None, Metrics(), SystemClock())
        return await use(service)
    finally:
        await engine.dispose()


async def _import_layout(service: SeatService, settings: Settings, args: argparse.Namespace) -> str:
    limit = settings.limits.max_layout_bytes
    if args.file.stat().st_size > limit:
        raise Refused(f"{args.file} is larger than MAX_LAYOUT_BYTES ({limit} bytes)")
    found, named = read_layout(
        args.file.read_bytes(), pretix=args.format == "pretix", max_seats=settings.limits.max_layout_seats
    )
    if isinstance(found, Rejection):
        raise _refused(found)
    placement = Placement(args.venue, args.venue_name, args.hall, args.hall_name or named)
    saved = await service.import_layout(found, placement)
    if isinstance(saved, Rejection):
        raise _refused(saved)
    return saved.id


async def _create_showtime(service: SeatService, args: argparse.Namespace) -> str:
    layout_id = args.layout
    if args.hall is not None:
        newest = await service.newest_layout(args.hall)
        if isinstance(newest, Rejection):
            raise _refused(newest)
        layout_id = newest.id
    new = NewShowtime(
        layout_id, args.title, args.starts_at, args.currency, dict(args.price),
        args.sales_open_at, args.sales_close_at, args.id,
    )  # fmt: skip
    created = await service.create_showtime(new)
    if isinstance(created, Rejection):
        raise _refused(created)
    return created.id


async def _seed(settings: Settings, args: argparse.Namespace) -> str:
    engine = create_engine(settings.database.database_url)
    try:
        await apply_migrations(engine)
        return await create_showtime(
            engine,
            rows=args.rows,
            seats_per_row=args.seats_per_row,
            title=args.title,
            venue_name=args.venue,
            starts_at=SystemClock().now() + 86_400_000,
            categories=(Category("Standard", args.price_cents),),
        )
    finally:
        await engine.dispose()


if __name__ == "__main__":
    main()
