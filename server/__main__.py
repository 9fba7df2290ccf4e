"""``python -m server`` serves; ``python -m server seed --rows R --seats-per-row N`` adds a showtime."""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy.exc import SQLAlchemyError

from server.app import run
from server.core.clock import SystemClock
from server.logs import configure_logging
from server.settings import Settings
from server.storage.database import create_engine
from server.storage.migrations import apply_migrations
from server.storage.seed import Category, create_showtime


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
    args = parser.parse_args(argv)

    settings = Settings()
    configure_logging(settings.logging)
    if args.command == "seed" and (args.rows < 1 or args.seats_per_row < 1):
        parser.error("--rows and --seats-per-row must be at least 1")
    try:
        if args.command == "seed":
            print(asyncio.run(_seed(settings, args)))
        else:
            asyncio.run(run(settings))
    except (OSError, SQLAlchemyError) as error:
        # Unreachable database, port in use, unreadable file: say what and stop, without a traceback.
        sys.exit(f"cannot start: {error}")


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
