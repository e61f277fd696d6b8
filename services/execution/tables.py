"""The tables execution owns: orders (status upserted), fills, exits, broker positions."""

from __future__ import annotations

import pyarrow as pa

from shared.storage import TableSpec
from shared.storage.columns import ENVELOPE, TIMESTAMP, required

ORDERS = TableSpec(
    name="orders",
    schema=pa.schema(
        [
            required("order_ref", pa.string()),  # strategy id + purpose: stable across replays
            required("strategy_id", pa.string()),
            required("purpose", pa.string()),
            pa.field("broker_order_id", pa.int64()),
            pa.field("perm_id", pa.int64()),
            required("status", pa.string()),
            pa.field("side", pa.string()),
            pa.field("combo", pa.bool_()),
            pa.field("quantity", pa.int64()),
            pa.field("filled", pa.int64()),
            pa.field("remaining", pa.int64()),
            pa.field("limit_price", pa.float64()),
            pa.field("avg_fill_price", pa.float64()),
            pa.field("legs", pa.string()),  # JSON list of Leg
            pa.field("reason", pa.string()),
            required("created_at", TIMESTAMP),
            required("updated_at", TIMESTAMP),
        ]
    ),
    key=("order_ref",),
)

FILLS = TableSpec(
    name="fills",
    schema=pa.schema(
        [
            *ENVELOPE,
            required("exec_id", pa.string()),
            required("order_ref", pa.string()),
            required("strategy_id", pa.string()),
            pa.field("broker_order_id", pa.int64()),
            required("side", pa.string()),
            required("quantity", pa.int64()),
            required("price", pa.float64()),
            pa.field("commission", pa.float64()),
            pa.field("cumulative_quantity", pa.int64()),
            pa.field("total_quantity", pa.int64()),
            pa.field("legs", pa.string()),  # JSON list of LegFill
        ]
    ),
    key=("exec_id",),
)

EXITS = TableSpec(
    name="exits",
    schema=pa.schema(
        [
            *ENVELOPE,
            required("strategy_id", pa.string()),
            pa.field("decision_id", pa.string()),
            required("action", pa.string()),
            required("result", pa.string()),
            pa.field("rule", pa.string()),
            pa.field("closed_quantity", pa.int64()),
            pa.field("remaining_quantity", pa.int64()),
            pa.field("realized_pnl", pa.float64()),
            pa.field("new_strategy_id", pa.string()),
            pa.field("order_refs", pa.string()),  # JSON list of str
            pa.field("reason", pa.string()),
        ]
    ),
    key=("event_id",),
)

BROKER_POSITIONS = TableSpec(
    name="broker_positions",
    schema=pa.schema(
        [
            required("as_of", TIMESTAMP),
            pa.field("account", pa.string()),
            pa.field("con_id", pa.int64()),
            required("symbol", pa.string()),
            pa.field("sec_type", pa.string()),
            pa.field("right", pa.string()),
            pa.field("strike", pa.float64()),
            pa.field("expiry", pa.date32()),
            required("position", pa.float64()),
            pa.field("avg_cost", pa.float64()),
            pa.field("strategy_id", pa.string()),  # None: not known to v6
        ]
    ),
)

TABLES = (ORDERS, FILLS, EXITS, BROKER_POSITIONS)
