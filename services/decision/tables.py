"""The tables decision owns: every decision made, and alerts with their status (upserted)."""

from __future__ import annotations

import pyarrow as pa

from shared.storage import TableSpec
from shared.storage.columns import ENVELOPE, TIMESTAMP, required

DECISIONS = TableSpec(
    name="decisions",
    schema=pa.schema(
        [
            *ENVELOPE,
            required("decision_id", pa.string()),
            required("strategy_id", pa.string()),
            required("symbol", pa.string()),
            required("action", pa.string()),
            required("rule", pa.string()),
            required("reason", pa.string()),
            required("urgency", pa.string()),
            pa.field("close_ratio", pa.float64()),
            pa.field("roll_to_dte", pa.int64()),
            pa.field("snapshot_as_of", TIMESTAMP),
            pa.field("metadata", pa.string()),  # JSON object
        ]
    ),
    key=("decision_id",),
)

ALERTS = TableSpec(
    name="alerts",
    schema=pa.schema(
        [
            required("alert_id", pa.string()),
            required("severity", pa.string()),
            required("title", pa.string()),
            required("message", pa.string()),
            required("source", pa.string()),
            pa.field("strategy_id", pa.string()),
            pa.field("rule", pa.string()),
            required("status", pa.string()),  # active, acknowledged, resolved
            pa.field("note", pa.string()),
            required("raised_at", TIMESTAMP),
            required("updated_at", TIMESTAMP),
        ]
    ),
    key=("alert_id",),
)

TABLES = (DECISIONS, ALERTS)
