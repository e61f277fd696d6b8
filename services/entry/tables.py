"""The tables entry owns: every signal evaluation, and built strategies with their status."""

from __future__ import annotations

import pyarrow as pa

from shared.storage import TableSpec
from shared.storage.columns import ENVELOPE, TIMESTAMP, required

SIGNALS = TableSpec(
    name="signals",
    schema=pa.schema(
        [
            *ENVELOPE,
            required("signal_id", pa.string()),
            required("symbol", pa.string()),
            required("accepted", pa.bool_()),
            required("direction", pa.string()),
            pa.field("trend", pa.string()),
            pa.field("strategy_type", pa.string()),
            pa.field("iv_rank", pa.float64()),
            pa.field("iv_percentile", pa.float64()),
            pa.field("vix", pa.float64()),
            pa.field("underlying_price", pa.float64()),
            pa.field("checks", pa.string()),  # JSON list of Check
            pa.field("reasons", pa.string()),  # JSON list of str
        ]
    ),
    key=("signal_id",),
)

STRATEGIES = TableSpec(
    name="strategies",
    schema=pa.schema(
        [
            required("strategy_id", pa.string()),
            pa.field("signal_id", pa.string()),
            required("symbol", pa.string()),
            required("strategy_type", pa.string()),
            required("status", pa.string()),  # pending, open, closing, closed, failed
            pa.field("status_reason", pa.string()),
            required("quantity", pa.int64()),
            required("limit_price", pa.float64()),
            pa.field("max_profit", pa.float64()),
            pa.field("max_loss", pa.float64()),
            pa.field("take_profit", pa.float64()),
            pa.field("stop_loss", pa.float64()),
            pa.field("purpose", pa.string()),
            pa.field("rolled_from", pa.string()),
            pa.field("legs", pa.string()),  # JSON list of Leg
            required("created_at", TIMESTAMP),
            required("updated_at", TIMESTAMP),
        ]
    ),
    key=("strategy_id",),
)

TABLES = (SIGNALS, STRATEGIES)
