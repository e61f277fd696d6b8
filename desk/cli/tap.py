"""`v6 tap [SUBJECT]`: every event on the bus, decoded, one line each."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from typing import Any, TextIO

import msgspec
import nats

from shared.bus.credentials import connect_options
from shared.events import Event, decode

_ENVELOPE = {"event_id", "correlation_id", "producer", "schema", "wall_time", "market_time"}


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, list):
        return f"[{len(value)}]"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def format_event(subject: str, event: Event) -> str:
    """One readable line: market time, subject, type, then the non-empty fields."""
    fields = " ".join(
        f"{name}={_short(value)}"
        for name, value in msgspec.structs.asdict(event).items()
        if name not in _ENVELOPE and value not in (None, "", [], {})
    )
    when = _short(event.market_time or event.wall_time)
    return f"{when} {subject} {type(event).__name__} {fields}"


async def tap(
    url: str,
    subject: str,
    out: TextIO = sys.stdout,
    limit: int | None = None,
    credentials_dir: str | None = None,
) -> None:
    name = "v6-tap"  # the read-only tap user on a secured server
    nc = await nats.connect(url, name=name, **connect_options(credentials_dir, name))
    seen = 0
    done = asyncio.Event()

    async def on_msg(msg: Any) -> None:
        nonlocal seen
        if msg.subject.startswith("$"):
            return  # JetStream/service internals
        try:
            line = format_event(msg.subject, decode(msg.data))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            line = f"{msg.subject} <undecodable {len(msg.data)} bytes: {exc}>"
        print(line, file=out, flush=True)
        seen += 1
        if limit is not None and seen >= limit:
            done.set()

    await nc.subscribe(subject, cb=on_msg, pending_msgs_limit=1_000_000)
    try:
        await done.wait()
    finally:
        await nc.drain()
