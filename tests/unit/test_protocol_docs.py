"""Every example in docs/protocol.md is a valid message of the schema it claims to be, or, for a client
frame the server refuses, no valid message at all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from server.admin_messages import Figures
from server.core.errors import ErrorCode
from server.messages import BookingView, Problem, ServerMessage, client_message

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
EXAMPLES = re.findall(r"```json (client|refused|server|problem|booking)\n(.*?)\n```", DOC.read_text(), re.DOTALL)
# Figures are the admin API's body on the socket: their schema is the admin messages'.
server_message: TypeAdapter[ServerMessage | Figures] = TypeAdapter(ServerMessage | Figures)


def test_every_message_type_has_an_example() -> None:
    messages = [body for kind, body in EXAMPLES if kind in ("client", "server")]
    documented = {re.search(r'"type": "(\w+)"', body).group(1) for body in messages}  # type: ignore[union-attr]
    expected = {
        "subscribe", "unsubscribe", "lock", "extend", "unlock", "book", "ping", "authenticate", "subscribe_figures",
    } | {
        "connection_established", "subscribed", "unsubscribed", "current_seat_status",
        "seat_status_change", "seat_status_changes", "audience", "authenticated", "figures", "ack", "pong", "error",
    }  # fmt: skip
    assert documented == expected


def test_every_error_code_is_in_the_table() -> None:
    table = set(re.findall(r"^\| `(\w+)` \|", DOC.read_text(), re.MULTILINE))
    assert {code.value for code in ErrorCode} <= table


@pytest.mark.parametrize(("kind", "body"), EXAMPLES)
def test_example_is_valid(kind: str, body: str) -> None:
    if kind == "client":
        client_message.validate_json(body)
    elif kind == "refused":
        with pytest.raises(ValidationError):
            client_message.validate_json(body)
    elif kind == "server":
        server_message.validate_json(body, strict=False)
    elif kind == "booking":
        BookingView.model_validate_json(body, strict=False)
    else:
        Problem.model_validate_json(body, strict=False)
