"""Keep hypothesis's reports readable when schemathesis is loaded in the same process."""

from __future__ import annotations

import hypothesis.core
from hypothesis.vendor import pretty

__all__ = ["restore_hypothesis_reports"]


def restore_hypothesis_reports() -> None:
    """Undo schemathesis's swap of hypothesis's printer, which makes falsifying examples read ``x=,``.

    Once schemathesis is imported in the process, every hypothesis test prints its failing examples with
    a printer that prints nothing. Called from the test body, after that import, the repair sticks.
    """
    if hypothesis.core.RepresentationPrinter is not pretty.RepresentationPrinter:  # type: ignore[attr-defined]
        hypothesis.core.RepresentationPrinter = pretty.RepresentationPrinter  # type: ignore[attr-defined]
