"""What the server must answer to a frame, and how it may change the showtime: the model the fuzzing checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from server.core.bookings import BookingStatus
from server.core.errors import ErrorCode
from server.core.records import Snapshot
from server.core.seats import SeatState
from server.messages import (
    Ack,
    Audience,
    ClientMessage,
    CurrentSeatStatus,
    ErrorMessage,
    SeatsRequest,
    SeatStatusChange,
    ServerMessage,
    Subscribe,
    Unsubscribe,
    client_message,
)
from tests.e2e.fuzz.frames import Binary, Frame, Text, mangle, render, resolve, text_frame

__all__ = [
    "ABSENT",
    "HARD_CEILING",
    "MAX_MESSAGE_BYTES",
    "PUSHED",
    "Sent",
    "carried_request_id",
    "check_answer",
    "check_state",
    "server_message",
]

MAX_MESSAGE_BYTES = 64 * 1024
HARD_CEILING = MAX_MESSAGE_BYTES * 16  # past it the server closes with 1009 instead of reading the frame
server_message: TypeAdapter[ServerMessage] = TypeAdapter(Annotated[ServerMessage, Field(discriminator="type")])


class NoRequestId:
    """The answer carries no requestId at all (None stands for ``"requestId": null``)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = NoRequestId()
CarriedId = str | int | NoRequestId | None  # what an answer carries as requestId: a value, null, or nothing
MAX_DEPTH = 200  # arrays and objects around a value that the server parses (docs/protocol.md)


def read_json(payload: str | bytes) -> Any:
    """The payload as the server reads JSON: RFC 8259, NaN and Infinity as numbers, the last of duplicate keys,
    no value inside more than MAX_DEPTH arrays and objects. ValueError when it is not JSON to the server."""
    try:
        value = json.loads(payload.decode() if isinstance(payload, bytes) else payload)
    except RecursionError:  # far deeper than MAX_DEPTH
        raise ValueError("nested too deeply") from None
    pending = [(value, 0)]  # no recursion: depth is fuzzed
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ValueError("nested too deeply")
        if isinstance(item, str):
            item.encode()  # json reads "\ud800" as a lone surrogate, which is no Unicode: UnicodeEncodeError
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            pending.extend((child, depth + 1) for child in [*item, *item.values()])
    return value


def valid_request_id(value: Any) -> bool:
    return not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, str) and len(value) <= 128))


def expected_request_id(payload: str | bytes) -> CarriedId:
    """The requestId the answer must carry: the frame's, read from its JSON, when it is valid; null when the
    frame is not JSON or its requestId is not valid; none when it has none (or null)."""
    try:
        value = read_json(payload)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("requestId") is None:
        return ABSENT
    return value["requestId"] if valid_request_id(value["requestId"]) else None


ANSWERS = {"subscribe": "subscribed", "unsubscribe": "unsubscribed", "lock": "ack", "unlock": "ack", "book": "ack"}
ANSWERS |= {"extend": "ack", "ping": "pong"}
SEAT_ERRORS = {ErrorCode.INVALID_MESSAGE, ErrorCode.UNKNOWN_SHOWTIME, ErrorCode.UNKNOWN_SEAT, ErrorCode.TOO_MANY_SEATS}
# The errors each valid message may get; rate limits are set too high to be met.
ERRORS = {
    "subscribe": {ErrorCode.UNKNOWN_SHOWTIME, ErrorCode.TOO_MANY_SUBSCRIPTIONS},
    "unsubscribe": set(),
    "ping": set(),
    "lock": SEAT_ERRORS | {ErrorCode.SEAT_UNAVAILABLE, ErrorCode.HOLD_LIMIT_REACHED},
    "extend": SEAT_ERRORS | {ErrorCode.NOT_LOCK_OWNER},
    "unlock": SEAT_ERRORS | {ErrorCode.NOT_LOCK_OWNER},
    "book": SEAT_ERRORS | {ErrorCode.NOT_LOCK_OWNER},
}
NAMING_SEATS = {ErrorCode.UNKNOWN_SEAT, ErrorCode.SEAT_UNAVAILABLE, ErrorCode.NOT_LOCK_OWNER}
PUSHED = (CurrentSeatStatus, SeatStatusChange, Audience)


@dataclass(frozen=True, slots=True)
class Sent:
    """What went over the wire, and what the schema says of it."""

    payload: str | bytes
    request_id: CarriedId  # what the answer must carry
    size: int  # in bytes
    message: ClientMessage | None  # as the schema reads it; None when it is invalid
    binary: bool = False

    @property
    def too_large(self) -> bool:
        return self.size > MAX_MESSAGE_BYTES

    @classmethod
    def of(cls, frame: Frame, showtime: str) -> Sent:
        if isinstance(frame, Binary):
            return cls(frame.payload, expected_request_id(frame.payload), len(frame.payload), None, binary=True)
        if isinstance(frame, Text):
            text = text_frame(str(frame.text))
        else:
            text = text_frame(render(resolve(frame.value, showtime)))
            if frame.mangle is not None:
                text = mangle(text, *frame.mangle)
        try:
            message: ClientMessage | None = client_message.validate_json(text)
        except ValidationError:
            message = None
        return cls(text, expected_request_id(text), len(text.encode()), message)


def check_answer(sent: Sent, answer: Any, pushed: list[Any], subscriptions: set[str]) -> None:
    """The one answer, and what was pushed with it, are what the protocol says for this frame."""
    before = set(subscriptions)  # an audience message may come before the answer to an unsubscribe
    carried = carried_request_id(answer)
    wrong = f"requestId {carried!r} instead of {sent.request_id!r}: {answer}"
    assert type(carried) is type(sent.request_id), wrong
    assert carried == sent.request_id, wrong
    if isinstance(answer, ErrorMessage):
        assert answer.code is not ErrorCode.INTERNAL_ERROR, f"the server failed on this frame: {answer}"
        assert answer.message
    message = sent.message
    if sent.binary:
        assert isinstance(answer, ErrorMessage), f"a binary frame was accepted: {answer}"
        assert answer.code in (ErrorCode.INVALID_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE), answer
    elif sent.too_large:
        assert isinstance(answer, ErrorMessage), f"a frame of {sent.size} bytes was accepted: {answer}"
        assert answer.code is ErrorCode.MESSAGE_TOO_LARGE, answer
    elif message is None:
        assert isinstance(answer, ErrorMessage), f"an invalid message was accepted: {answer}"
        assert answer.code is ErrorCode.INVALID_MESSAGE, answer
    elif isinstance(answer, ErrorMessage):
        assert answer.code in ERRORS[message.type], f"a {message.type} refused with {answer}"
        if answer.code in NAMING_SEATS:
            assert isinstance(message, SeatsRequest)
            assert answer.conflicting_seats, answer
            assert set(answer.conflicting_seats) <= set(message.seat_ids), answer
    else:
        assert answer.type == ANSWERS[message.type], f"a {message.type} answered by {answer}"
        if isinstance(message, SeatsRequest):
            assert answer.showtime_id == message.showtime_id, answer
            assert answer.action == message.type, answer
            assert answer.seat_ids == list(dict.fromkeys(message.seat_ids)), answer
        elif isinstance(message, Subscribe):
            assert answer.showtime_id == message.showtime_id, answer
            subscriptions.add(message.showtime_id)
            snapshots = [push for push in pushed if isinstance(push, CurrentSeatStatus)]
            assert len(snapshots) == (0 if answer.recovered else 1), f"{answer} with snapshots {snapshots}"
        elif isinstance(message, Unsubscribe):
            assert answer.showtime_id == message.showtime_id, answer
            subscriptions.discard(message.showtime_id)
    if not isinstance(message, Subscribe):
        assert not any(isinstance(push, CurrentSeatStatus) for push in pushed), pushed
    for push in pushed:
        assert push.showtime_id in subscriptions | before, f"pushed for a showtime not subscribed to: {push}"


def carried_request_id(answer: Any) -> CarriedId:
    return answer.request_id if "request_id" in answer.model_fields_set else ABSENT


def check_state(session_id: str, answer: Any, before: Snapshot, after: Snapshot) -> None:
    """Only an ack changes seats, and only the seats it names, the way it says."""
    if not isinstance(answer, Ack):
        assert after == before, f"{answer} changed the showtime: {before} -> {after}"
        return
    named = set(answer.seat_ids)
    assert {seat: claim for seat, claim in after.claims.items() if seat not in named} == {
        seat: claim for seat, claim in before.claims.items() if seat not in named
    }, f"{answer} changed other seats"
    for seat in named:
        claim = after.claims.get(seat)
        holder = None if claim is None else (claim.state, claim.session_id)
        if answer.action == "unlock":
            assert holder is None or holder[1] != session_id, f"{answer} but {seat} is still held: {claim}"
        else:
            state = {"lock": SeatState.HELD, "extend": SeatState.HELD, "book": SeatState.BOOKED}[answer.action]
            if answer.status is BookingStatus.PENDING:  # a book awaiting payment
                state = SeatState.PENDING
            assert holder == (state, session_id), f"{answer} but {seat} is {claim}"
