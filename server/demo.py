"""The demo data: the demo cinema with a matinee and an evening showtime, and one theatre showtime.

Both halls come from the example layout files (examples/layouts), read as any imported layout is.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.venues import HallLayout
from server.layout_file import load_layout
from server.storage import venues
from server.storage.tables import showtime
from server.storage.venues import NewShowtime, save_layout

__all__ = ["EXAMPLES", "ensure_demo_data", "example_layout"]

PACKAGE = Path(__file__).resolve().parent
# examples/ of a source checkout, or else the copy a wheel carries inside the package.
EXAMPLES = next(
    (folder for folder in (PACKAGE.parent / "examples", PACKAGE / "examples") if folder.is_dir()),
    PACKAGE / "examples",
)
HOUR = 3_600_000
CINEMA_PRICES = {"front": 900, "standard": 1200, "premium": 1600}  # the evening's; the matinee is 2 EUR less
MATINEE_DISCOUNT = 200
THEATRE_PRICES = {"premium": 5400, "stalls": 3900, "balcony": 2400, "box": 7500}


def example_layout(name: str) -> HallLayout:
    """One of examples/layouts/*.json, read as an imported file is; the examples are valid, or this raises."""
    found = load_layout((EXAMPLES / "layouts" / f"{name}.json").read_bytes(), max_seats=100_000)
    if not isinstance(found, HallLayout):
        raise ValueError(f"examples/layouts/{name}.json: {'; '.join(map(str, found))}")
    return found


async def ensure_demo_data(engine: AsyncEngine, now: int) -> list[str]:
    """On a database with no showtime, create the demo cinema and theatre and their showtimes; return their ids.

    The cinema's two showtimes play in one hall, on one layout: seats A1 to J14.
    """
    async with engine.connect() as conn:
        if (await conn.execute(select(func.count()).select_from(showtime))).scalar_one():
            return []
    on_the_hour = now - now % HOUR
    cinema = await save_layout(
        engine, example_layout("demo-cinema"), venue_id="demo-cinema", venue_name="Demo Cinema",
        hall_id="demo-screen-1", hall_name="Screen 1", now=now,
    )  # fmt: skip
    theatre = await save_layout(
        engine, example_layout("theatre"), venue_id="demo-theatre", venue_name="Demo Theatre",
        hall_id="demo-main-stage", hall_name="Main Stage", now=now,
    )  # fmt: skip
    matinee = {category: cents - MATINEE_DISCOUNT for category, cents in CINEMA_PRICES.items()}
    showtimes = (
        NewShowtime(
            cinema.id, "The Grand Premiere (matinee)", on_the_hour + 4 * HOUR, "EUR", matinee, id="demo-matinee"
        ),
        NewShowtime(
            cinema.id, "The Grand Premiere (evening)", on_the_hour + 8 * HOUR, "EUR", CINEMA_PRICES, id="demo-evening"
        ),
        NewShowtime(theatre.id, "Hamlet", on_the_hour + 27 * HOUR, "EUR", THEATRE_PRICES, id="demo-theatre"),
    )
    return [await venues.create_showtime(engine, new) for new in showtimes]
