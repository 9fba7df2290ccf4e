"""docs/webhooks.md: its example bodies are what the server sends, its verification snippet verifies what the
server signs (and nothing else), and every event type the issue names is in its table."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from server.core.signatures import sign
from server.messages import BookingView, SeatNoticeView, WebhookEventView

DOC = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
BODIES = re.findall(r"```json webhook\n(.*?)\n```", DOC, re.DOTALL)
SNIPPETS = re.findall(r"```python\n(.*?)\n```", DOC, re.DOTALL)
EVENTS = {
    "booking.pending", "booking.confirmed", "booking.cancelled", "booking.expired", "booking.late_payment",
    "seat.blocked", "seat.unblocked",
}  # fmt: skip


@pytest.mark.parametrize("body", BODIES)
def test_each_example_body_is_a_webhook_event(body: str) -> None:
    event = WebhookEventView.model_validate_json(body, strict=False)
    assert event.type in EVENTS
    # Extra fields are ignored, so a booking missing a field would pass as a seat event: check which it is.
    assert isinstance(event.data, BookingView if event.type.startswith("booking.") else SeatNoticeView)


def test_the_event_table_names_every_event() -> None:
    assert set(re.findall(r"^\| `([a-z_.]+)` \|", DOC, re.MULTILINE)) == EVENTS
    assert len(BODIES) == 2


def snippet_verifier() -> Callable[[str, bytes, str], bool]:
    namespace: dict[str, object] = {}
    exec(SNIPPETS[0], namespace)  # the documented snippet, as a reader would paste it
    verifier = namespace["verify_seat_signature"]
    assert callable(verifier)
    return verifier


def test_the_documented_snippet_verifies_what_the_server_signs_and_nothing_else() -> None:
    verify = snippet_verifier()
    body, now = BODIES[0].encode(), int(time.time())
    header = sign("whsec_doc", body, now)
    assert verify("whsec_doc", body, header)
    assert not verify("whsec_other", body, header)
    assert not verify("whsec_doc", body + b" ", header)
    assert not verify("whsec_doc", body, sign("whsec_doc", body, now - 301))  # replayed too late
    assert not verify("whsec_doc", body, f"t={now},t={now},{header.partition(',')[2]}")
    assert not verify("whsec_doc", body, "")
