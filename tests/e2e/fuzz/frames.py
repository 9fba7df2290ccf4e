"""What a fuzzed frame is made of, and how it is rendered into what goes over the wire.

The showtime's id is not known when hypothesis draws (each example gets a fresh showtime), so strategies
place the ``SHOWTIME`` marker, replaced when the frame is rendered. Long and deep values are described
(``Repeat``, ``Bulk``, ``Deep``) rather than drawn, which keeps hypothesis's reports short.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CUSTOMER",
    "SEATS",
    "SHOWTIME",
    "Binary",
    "Bulk",
    "Deep",
    "Frame",
    "Json",
    "NearShowtime",
    "Repeat",
    "Text",
    "Token",
    "mangle",
    "render",
    "resolve",
    "text_frame",
]

SEATS = [f"{row}{number}" for row in "ABC" for number in range(1, 6)]
CUSTOMER = {"name": "Ada", "email": "ada@example.com"}


class Showtime:
    """Stands for the example's showtime id."""

    def __repr__(self) -> str:
        return "SHOWTIME"


SHOWTIME = Showtime()


@dataclass(frozen=True, slots=True)
class NearShowtime:
    """The showtime's id, almost: something around it, or in upper case."""

    prefix: str
    suffix: str
    upper: bool


@dataclass(frozen=True, slots=True)
class Deep:
    """A value nested ``depth`` levels deep, rendered without recursion."""

    depth: int
    kind: Literal["list", "object"]


@dataclass(frozen=True, slots=True)
class Bulk:
    """A long list of seat ids, described rather than drawn element by element."""

    count: int
    pattern: Literal["same known", "distinct unknown", "cycle known", "long ids"]

    def items(self) -> list[str]:
        match self.pattern:
            case "same known":
                return ["A3"] * self.count
            case "distinct unknown":
                return [f"Z{index}" for index in range(self.count)]
            case "cycle known":
                return [SEATS[index % len(SEATS)] for index in range(self.count)]
            case "long ids":
                return [f"{index:016d}" for index in range(self.count)]


@dataclass(frozen=True, slots=True)
class Repeat:
    """A long string, kept short in hypothesis's reports."""

    text: str
    count: int

    def __str__(self) -> str:
        return self.text * self.count


@dataclass(frozen=True, slots=True)
class Token:
    """Raw JSON text where a value goes: odd number spellings, and things that are not JSON at all."""

    text: str


@dataclass(frozen=True, slots=True)
class Json:
    """A text frame: a JSON value, optionally mangled as text after rendering."""

    value: Any
    mangle: tuple[str, str] | None = None  # (how, argument)


@dataclass(frozen=True, slots=True)
class Text:
    text: str | Repeat


@dataclass(frozen=True, slots=True)
class Binary:
    data: bytes | Repeat

    @property
    def payload(self) -> bytes:
        return str(self.data).encode() if isinstance(self.data, Repeat) else self.data


Frame = Json | Text | Binary


def resolve(value: Any, showtime: str) -> Any:
    """The value with markers replaced: SHOWTIME by the id, Bulk by its list; Deep and Token stay."""
    if isinstance(value, Showtime):
        return showtime
    if isinstance(value, NearShowtime):
        return value.prefix + (showtime.upper() if value.upper else showtime) + value.suffix
    if isinstance(value, Bulk):
        return value.items()
    if isinstance(value, Repeat):
        return str(value)
    if isinstance(value, list):
        return [resolve(item, showtime) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, showtime) for key, item in value.items()}
    return value


def render(value: Any) -> str:
    """JSON text of a resolved value. NaN and infinities come out as NaN/Infinity, as Python writes them."""
    if isinstance(value, Deep):
        return (
            "[" * value.depth + "]" * value.depth
            if value.kind == "list"
            else '{"a":' * value.depth + "0" + "}" * value.depth
        )
    if isinstance(value, Token):
        return value.text
    if isinstance(value, list):
        return "[" + ",".join(render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{render(key)}:{render(item)}" for key, item in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def text_frame(text: str) -> str:
    """Lone surrogates cannot travel raw in a text frame; write them as JSON escapes (\\ud800)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def mangle(text: str, how: str, argument: str) -> str:
    match how:
        case "truncate":
            return text[: len(text) * len(argument) // 10]
        case "append":
            return text + argument
        case "prefix":
            return argument + text
        case "duplicate key":  # the same key again, first: which one wins?
            return "{" + argument + "," + text[1:] if text.startswith("{") and text != "{}" else text
        case _:
            raise AssertionError(how)
