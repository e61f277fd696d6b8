"""The tables monitor owns: the book, valuations over time, and the market data used."""

from __future__ import annotations

import datetime as dt

import msgspec
import pyarrow as pa

from services.monitor.book import Position, payoff_extremes
from shared.enums import SecType
from shared.events import Leg, MarketDataUpdated, PositionSnapshot
from shared.storage import Row, TableSpec, struct_to_row
from shared.storage.columns import TIMESTAMP, required

POSITIONS = TableSpec(
    name="positions",
    writes="upsert",  # a position's row follows it from open to closed
    schema=pa.schema(
        [
            required("strategy_id", pa.string()),
            required("symbol", pa.string()),
            required("strategy_type", pa.string()),
            required("status", pa.string()),  # pending, open, closed
            required("quantity", pa.int64()),
            pa.field("entry_price", pa.float64()),  # signed per unit, credit positive
            pa.field("max_profit", pa.float64()),  # currency, whole position
            pa.field("max_loss", pa.float64()),
            pa.field("legs", pa.string()),  # JSON list of Leg
            pa.field("opened_at", TIMESTAMP),
            pa.field("closed_at", TIMESTAMP),
            pa.field("realized_pnl", pa.float64()),
            required("updated_at", TIMESTAMP),
            pa.field("iv_at_entry", pa.float64()),
            pa.field("vix_at_entry", pa.float64()),
            pa.field("commission", pa.float64()),
            pa.field("rolled_from", pa.string()),
            pa.field("rolled_into", pa.string()),
            pa.field("exit_working", pa.bool_()),
            pa.field("exec_ids", pa.string()),  # JSON list: the fills applied (idempotency)
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
            pa.field("strategy_type", pa.string()),
            pa.field("quantity", pa.int64()),
            pa.field("entry_price", pa.float64()),
            pa.field("iv_percentile", pa.float64()),
            pa.field("iv_change_pct", pa.float64()),
            pa.field("underlying_change_1h", pa.float64()),
            pa.field("vix_at_entry", pa.float64()),
            pa.field("portfolio_delta", pa.float64()),
            pa.field("symbol_delta", pa.float64()),
            pa.field("exit_working", pa.bool_()),
            pa.field("market_time", TIMESTAMP),
            pa.field("legs", pa.string()),  # JSON list of LegSnapshot
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

_SNAPSHOT_COLUMNS = frozenset(POSITION_SNAPSHOTS.schema.names)
_OPTION_COLUMNS = frozenset(OPTION_SNAPSHOTS.schema.names)


def position_row(pos: Position, now: dt.datetime) -> Row:
    best, worst = payoff_extremes(pos.legs, pos.entry_price)
    return struct_to_row(
        pos,
        updated_at=pos.updated_at or now,
        max_profit=best * pos.quantity,
        max_loss=worst * pos.quantity,
    )


def position_from_row(row: dict) -> Position:
    fields = {k: v for k, v in row.items() if k not in ("max_profit", "max_loss") and v is not None}
    fields["legs"] = msgspec.json.decode(row.get("legs") or "[]", type=list[Leg])
    fields["exec_ids"] = msgspec.json.decode(row.get("exec_ids") or "[]", type=list[str])
    return msgspec.convert(fields, Position, strict=False)


def snapshot_row(snapshot: PositionSnapshot) -> Row:
    row = struct_to_row(snapshot, date=snapshot.as_of.date())
    return {k: v for k, v in row.items() if k in _SNAPSHOT_COLUMNS}


def option_rows(event: MarketDataUpdated, now: dt.datetime) -> list[Row]:
    when = event.market_time or now
    rows = []
    for quote in event.quotes:
        if quote.sec_type != SecType.OPTION:
            continue
        time = quote.time or when
        row = struct_to_row(quote, time=time, date=time.date())
        rows.append({k: v for k, v in row.items() if k in _OPTION_COLUMNS})
    return rows
