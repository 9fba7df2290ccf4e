"""Hypothesis strategies for frames: arbitrary text and binary, arbitrary JSON, and real messages made hostile."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st

from tests.e2e.fuzz.frames import CUSTOMER, SEATS, SHOWTIME, Binary, Bulk, Deep, Json, NearShowtime, Repeat, Text, Token

__all__ = ["hostile_frames", "json_frames", "raw_frames"]

ODD = ["\x00", "\u202e", "\u200f", "\u200b", "\ufeff", "\ud800", "\udfff", "\U0001f4a9", "e\u0301", "\uffff", "\x7f"]
ODD += ["\n", '"', "\\", "\\u0000", "</script>", "%00", "' OR 1=1 --", "${x}", "A1\x00", " A1", "a1", "A01"]

odd_text = st.lists(st.sampled_from(ODD) | st.sampled_from(SEATS) | st.text(max_size=3), max_size=8).map("".join)
long_text = st.builds(Repeat, st.sampled_from(["x", "\u20ac", "\U0001f4a9", "\x00", "\u202e"]), st.integers(0, 40_000))
edge_text = st.sampled_from(["", " ", "x" * 16, "x" * 17, "x" * 64, "x" * 65, "r" * 128, "r" * 129, "\u20ac" * 128])
hostile_text = st.one_of(st.text(max_size=20), odd_text, edge_text, long_text)

huge_ints = st.sampled_from([2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, -(2**64), 10**30, -(10**400)])
numbers = st.one_of(st.integers(), huge_ints, st.floats())
odd_tokens = st.sampled_from(["1e400", "-1e400", "-0", "1.0", "1E2", "NaN", "-Infinity", "01", "0x10", "1_000", "+1"])
deep = st.builds(Deep, st.integers(1, 3000), st.sampled_from(["list", "object"]))

json_scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
hostile_values = st.one_of(json_values, hostile_text, numbers, st.builds(Token, odd_tokens), deep)

REQUIRED = {"subscribe": ["showtimeId"], "unsubscribe": ["showtimeId"], "lock": ["showtimeId", "seatIds"]}
REQUIRED |= {"extend": ["showtimeId", "seatIds"], "unlock": ["showtimeId", "seatIds"], "ping": []}
REQUIRED |= {"book": ["showtimeId", "seatIds", "customer"]}
OPTIONAL = {"book": ["payment", "notes", "orderReference"], "subscribe": ["lastSeq"]}
unknown_seats = st.sampled_from(["Z9", "A0", "A6", "D1", "a1", "A1 ", "A01", "A1\x00", "\u0391" + "1"])
seat_lists = st.one_of(
    st.lists(st.sampled_from(SEATS) | unknown_seats | hostile_text, max_size=12),
    st.builds(
        Bulk, st.integers(11, 6000), st.sampled_from(["same known", "distinct unknown", "cycle known", "long ids"])
    ),
)
near_showtimes = st.builds(NearShowtime, st.sampled_from(["", " ", "\x00", "\u202e"]), odd_text, st.booleans())
emails = st.sampled_from(
    ["x", "@", "a@b", "a@@b.c", "a@b.c\x00", "a b@c.d", "\u202ea@b.c", "\uff41@b.c", "a@b.c" + "c" * 250]
)
types = st.one_of(
    st.sampled_from(list(REQUIRED)),
    st.sampled_from(["LOCK", "lock ", "lock\x00", "teleport", "", "error", "ack", "connection_established"]),
    hostile_values,
)
# Per field: something a client might well send; the right JSON type with hostile content; anything at all.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "showtimeId": st.just(SHOWTIME),
    "seatIds": st.lists(st.sampled_from(SEATS), min_size=1, max_size=4),
    "customer": st.just(CUSTOMER),
    "requestId": st.text(max_size=10) | st.integers(),
    "lastSeq": st.integers(0, 3),
    "payment": st.sampled_from(["pending", None]),
    "notes": st.text(max_size=20),
    "orderReference": st.sampled_from(["o-1", "ORDER/2030/7"]),
}
ODD_CONTENT: dict[str, st.SearchStrategy[Any]] = {
    "showtimeId": st.one_of(near_showtimes, hostile_text, st.sampled_from(["st_nope", "demo-evening"])),
    "seatIds": seat_lists,
    "customer": st.fixed_dictionaries(
        {"name": hostile_text, "email": emails | hostile_text}, optional={"phone": hostile_text | hostile_values}
    ),
    "requestId": st.one_of(edge_text, odd_text, huge_ints, long_text),
    "lastSeq": st.one_of(st.integers(-2, 5), huge_ints, st.integers()),
    "payment": st.one_of(st.sampled_from(["Pending", "pending ", "later", "confirmed", ""]), hostile_text),
    "notes": st.one_of(hostile_text, edge_text),
    "orderReference": st.one_of(hostile_text, edge_text),
}
extra_keys = st.one_of(
    st.sampled_from(["showtime_id", "seat_ids", "request_id", "RequestId", "__proto__", "constructor", "type "]),
    st.text(max_size=8),
)


@st.composite
def hostile_messages(draw: st.DrawFn) -> dict[str, Any]:
    """A plausible message of a real type, then a few things done to it: a field of the right type with
    hostile content, a field of any value, a field dropped, the type changed, unknown fields added."""
    kind = draw(st.sampled_from(list(REQUIRED)))
    names = [*REQUIRED[kind], "requestId", *OPTIONAL.get(kind, [])]
    message: dict[str, Any] = {"type": kind} | {name: draw(PLAUSIBLE[name]) for name in names}
    for _ in range(draw(st.integers(0, 3))):
        match draw(st.sampled_from(["odd content", "odd content", "anything", "drop", "type", "extra"])):
            case "odd content":
                name = draw(st.sampled_from(names))
                message[name] = draw(ODD_CONTENT[name])
            case "anything":
                name = draw(st.sampled_from(names))
                message[name] = draw(hostile_values)
            case "drop" if message:
                message.pop(draw(st.sampled_from(sorted(message))))
            case "type":
                message["type"] = draw(types)
            case "extra":
                message[draw(extra_keys)] = draw(hostile_values)
    return message


mangles = st.tuples(
    st.sampled_from(["truncate", "append", "prefix", "duplicate key"]),
    st.one_of(
        st.sampled_from(['"type":"ping"', '"type":"lock"', '"requestId":"first"', '"requestId":7']),
        st.sampled_from(["\ufeff", " ", "\n", "}", "]", ",", "null", "//", "/*", "\x00"]),
        st.text(max_size=5),
    ),
)
json_frames = st.builds(Json, json_values | hostile_values)
unmangled = st.builds(Json, hostile_messages())
hostile_frames = st.one_of(unmangled, unmangled, unmangled, st.builds(Json, hostile_messages(), mangles))
raw_frames = st.one_of(
    st.builds(Text, st.text(max_size=200)),
    st.builds(Text, hostile_text),
    st.builds(Binary, st.binary(max_size=200)),
    st.builds(
        Binary, st.sampled_from([b'{"type":"ping","requestId":"b"}', b"\xff\xfe"]) | st.just(Repeat("\x00", 70_000))
    ),
)
