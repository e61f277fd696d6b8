"""Column types and the event envelope columns that many tables share."""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")


def required(name: str, kind: pa.DataType) -> pa.Field:
    return pa.field(name, kind, nullable=False)


# the envelope of the event a row was made from: tracing and replay by event id
ENVELOPE: tuple[pa.Field, ...] = (
    required("event_id", pa.string()),
    pa.field("correlation_id", pa.string()),
    pa.field("producer", pa.string()),
    required("wall_time", TIMESTAMP),
    pa.field("market_time", TIMESTAMP),
)
