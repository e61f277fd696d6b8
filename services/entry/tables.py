"""The tables entry owns: every signal evaluation, built strategies with their lifecycle, and
the operator's halt switch (so a restart keeps entries halted)."""

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
            pa.field("schema", pa.int64()),
        ]
    ),
    # every evaluation is a row; evaluations of one signal id (a replay) are kept side by side
    key=("event_id",),
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
            required("quantity", pa.int64()),  # units built
            required("filled_quantity", pa.int64()),  # units held
            required("limit_price", pa.float64()),  # signed per unit, credit positive
            pa.field("worst_price", pa.float64()),
            pa.field("fill_price", pa.float64()),  # average entry fill, signed per unit
            pa.field("max_profit", pa.float64()),  # currency, whole position as built
            pa.field("max_loss", pa.float64()),
            pa.field("take_profit", pa.float64()),
            pa.field("stop_loss", pa.float64()),
            required("delta_per_unit", pa.float64()),  # share equivalents at build
            required("gamma_per_unit", pa.float64()),
            pa.field("realized_pnl", pa.float64()),
            pa.field("rolled_from", pa.string()),
            pa.field("rolled_into", pa.string()),
            pa.field("legs", pa.string()),  # JSON list of Leg
            required("created_at", TIMESTAMP),
            pa.field("opened_at", TIMESTAMP),
            pa.field("closed_at", TIMESTAMP),
            required("updated_at", TIMESTAMP),
        ]
    ),
    key=("strategy_id",),
)

CONTROLS = TableSpec(
    name="controls",
    schema=pa.schema(
        [
            required("name", pa.string()),  # "halt"
            required("active", pa.bool_()),
            pa.field("reason", pa.string()),
            pa.field("event_id", pa.string()),  # the command that set it
            pa.field("updated_at", TIMESTAMP),
        ]
    ),
    key=("name",),
)

TABLES = (SIGNALS, STRATEGIES, CONTROLS)
