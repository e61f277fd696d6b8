"""The tables monitor owns: the book, valuations over time, and the market data used."""

from __future__ import annotations

import pyarrow as pa

from shared.storage import TableSpec
from shared.storage.columns import TIMESTAMP, required

POSITIONS = TableSpec(
    name="positions",
    schema=pa.schema(
        [
            required("strategy_id", pa.string()),
            required("symbol", pa.string()),
            required("strategy_type", pa.string()),
            required("status", pa.string()),  # open, closed
            required("quantity", pa.int64()),
            pa.field("entry_price", pa.float64()),
            pa.field("max_profit", pa.float64()),
            pa.field("max_loss", pa.float64()),
            pa.field("legs", pa.string()),  # JSON list of Leg
            pa.field("opened_at", TIMESTAMP),
            pa.field("closed_at", TIMESTAMP),
            pa.field("realized_pnl", pa.float64()),
            required("updated_at", TIMESTAMP),
        ]
    ),
    key=("strategy_id",),
)

POSITION_SNAPSHOTS = TableSpec(
    name="position_snapshots",
    schema=pa.schema(
        [
            required("event_id", pa.string()),
            required("date", pa.date32()),  # of as_of: the partition, a day per folder
            required("as_of", TIMESTAMP),
            required("strategy_id", pa.string()),
            required("symbol", pa.string()),
            required("dte", pa.int64()),
            required("mark", pa.float64()),
            required("unrealized_pnl", pa.float64()),
            required("upl_pct", pa.float64()),
            pa.field("delta", pa.float64()),
            pa.field("gamma", pa.float64()),
            pa.field("theta", pa.float64()),
            pa.field("vega", pa.float64()),
            pa.field("iv", pa.float64()),
            pa.field("iv_rank", pa.float64()),
            pa.field("underlying_price", pa.float64()),
            pa.field("vix", pa.float64()),
            pa.field("stale", pa.bool_()),
        ]
    ),
    partition_by=("date",),
)

OPTION_SNAPSHOTS = TableSpec(
    name="option_snapshots",
    schema=pa.schema(
        [
            required("date", pa.date32()),
            required("time", TIMESTAMP),
            required("symbol", pa.string()),
            pa.field("con_id", pa.int64()),
            pa.field("right", pa.string()),
            pa.field("strike", pa.float64()),
            pa.field("expiry", pa.date32()),
            pa.field("bid", pa.float64()),
            pa.field("ask", pa.float64()),
            pa.field("last", pa.float64()),
            pa.field("iv", pa.float64()),
            pa.field("delta", pa.float64()),
            pa.field("gamma", pa.float64()),
            pa.field("vega", pa.float64()),
            pa.field("theta", pa.float64()),
            pa.field("und_price", pa.float64()),
        ]
    ),
    partition_by=("date",),
)

TABLES = (POSITIONS, POSITION_SNAPSHOTS, OPTION_SNAPSHOTS)
