"""TWS socket framing: length-prefixed messages of NUL-terminated text fields.

Every message in both directions is a 4-byte big-endian length followed by fields, each ending
in NUL. The only exception is the client's greeting, ``b"API\\0"`` followed by one framed
version string (tws-protocol.md, "Framing and handshake").
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Iterable

SERVER_VERSION = 178
MIN_CLIENT_VERSION = 157
API_PREFIX = b"API\0"
_LEN = struct.Struct(">I")

Field = str | int | float | bool | None


class ProtocolError(Exception):
    """The peer sent something that is not the TWS protocol."""


def format_field(value: Field) -> str:
    """Render one field as TWS text: booleans as 0/1, None as empty, floats without noise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(round(value, 10))
    return str(value)


def frame(fields: Iterable[Field]) -> bytes:
    """One framed message from its fields."""
    body = "".join(format_field(f) + "\0" for f in fields).encode()
    return _LEN.pack(len(body)) + body


def split_fields(body: bytes) -> list[str]:
    """The text fields of a message body (the trailing NUL produces no empty field)."""
    text = body.decode(errors="backslashreplace")
    fields = text.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


async def read_message(reader: asyncio.StreamReader) -> list[str]:
    """The next message's fields; raises IncompleteReadError at end of stream."""
    header = await reader.readexactly(_LEN.size)
    (length,) = _LEN.unpack(header)
    return split_fields(await reader.readexactly(length))


async def read_greeting(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Read ``API\\0`` and the client's version range ``v157..178``; return (min, max)."""
    prefix = await reader.readexactly(len(API_PREFIX))
    if prefix != API_PREFIX:
        raise ProtocolError(f"not a TWS API client: {prefix!r}")
    (length,) = _LEN.unpack(await reader.readexactly(_LEN.size))
    text = (await reader.readexactly(length)).decode()
    versions = text.split(" ", 1)[0].removeprefix("v")
    low, _, high = versions.partition("..")
    try:
        return int(low), int(high or low)
    except ValueError as exc:
        raise ProtocolError(f"bad version range {text!r}") from exc


def handshake_reply(connection_time: str) -> bytes:
    """The server's answer to the greeting: exactly two fields and no message id."""
    return frame([SERVER_VERSION, connection_time])
