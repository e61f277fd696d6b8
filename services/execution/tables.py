"""The tables execution owns, and the rows its events and its book become.

- orders: one row per order ref, upserted on every status change;
- fills: one row per execution (keyed by exec id: a fill is recorded once);
- exits: one row per exit result;
- broker_positions and reconciliation: what the broker held at each reconciliation, and every
  difference from the book (appended);
- holdings: the book (one row per strategy, upserted), read back at start;
- controls: the operator's halt (upserted), read back at start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import msgspec
import pyarrow as pa

from services.execution.book import Holding
from services.execution.orders import OrderRole, OrderSpec, bracket_refs
from services.execution.reconcile import BrokerPosition, Finding
from shared.enums import OrderPurpose
from shared.events import (
    Event,
    ExitExecuted,
    OrderDenied,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
)
from shared.storage import TableSpec
from shared.storage.columns import ENVELOPE, TIMESTAMP, required

ORDERS = TableSpec(
    name="orders",
    writes="upsert",  # a status change replaces the row of its key
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
            pa.field("dry_run", pa.bool_()),
            pa.field("rolled_from", pa.string()),
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
            pa.field("purpose", pa.string()),
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
            pa.field("expiry", pa.string()),  # IB's YYYYMMDD
            required("position", pa.float64()),
            pa.field("avg_cost", pa.float64()),
        ]
    ),
)

RECONCILIATION = TableSpec(
    name="reconciliation",
    schema=pa.schema(
        [
            required("as_of", TIMESTAMP),
            required("kind", pa.string()),
            required("con_id", pa.int64()),
            required("broker_quantity", pa.float64()),
            required("book_quantity", pa.float64()),
            pa.field("description", pa.string()),
        ]
    ),
)

HOLDINGS = TableSpec(
    name="holdings",
    writes="upsert",  # a status change replaces the row of its key
    schema=pa.schema(
        [
            required("strategy_id", pa.string()),
            required("symbol", pa.string()),
            required("status", pa.string()),
            required("held", pa.int64()),
            pa.field("working_ref", pa.string()),
            required(
                "state", pa.string()
            ),  # the whole Holding as JSON: the book is rebuilt from it
            required("updated_at", TIMESTAMP),
        ]
    ),
    key=("strategy_id",),
)

CONTROLS = TableSpec(
    name="controls",
    writes="upsert",  # a status change replaces the row of its key
    schema=pa.schema(
        [
            required("name", pa.string()),  # "halted": the operator's halt survives a restart
            required("on", pa.bool_()),
            pa.field("reason", pa.string()),
            required("updated_at", TIMESTAMP),
        ]
    ),
    key=("name",),
)

TABLES = (ORDERS, FILLS, EXITS, BROKER_POSITIONS, RECONCILIATION, HOLDINGS, CONTROLS)

ORDER_EVENTS = (OrderPlaced, OrderStatusChanged, OrderRejected, OrderDenied)


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _envelope(ev: Event) -> dict[str, Any]:
    return {
        "event_id": ev.event_id,
        "correlation_id": ev.correlation_id,
        "producer": ev.producer,
        "wall_time": ev.wall_time,
        "market_time": ev.market_time,
    }


def holding_row(h: Holding, at: dt.datetime) -> dict[str, Any]:
    return {
        "strategy_id": h.strategy_id,
        "symbol": h.symbol,
        "status": h.status.value,
        "held": h.held,
        "working_ref": h.working.order_ref if h.working else None,
        "state": _json(h),
        "updated_at": h.updated_at or at,
    }


def legacy_role(spec: OrderSpec) -> OrderRole:
    """The role of an order saved before orders carried one, from what it was placed for."""
    if spec.order_ref in bracket_refs(spec.strategy_id):
        return OrderRole.BRACKET
    match spec.purpose:
        case OrderPurpose.ENTRY:
            return OrderRole.ENTRY
        case OrderPurpose.REDUCE:
            return OrderRole.REDUCE
        case OrderPurpose.EXIT:
            return OrderRole.CLOSE
    if spec.rolled_from is None:
        return OrderRole.ROLL_CLOSE
    return OrderRole.ROLL_COMBO if spec.closes else OrderRole.ROLL_OPEN


def _with_role(spec: OrderSpec) -> OrderSpec:
    return spec if spec.role else msgspec.structs.replace(spec, role=legacy_role(spec))


def holding_from_row(row: dict[str, Any]) -> Holding:
    h = msgspec.json.decode(row["state"], type=Holding)
    h.working = _with_role(h.working) if h.working else None
    h.brackets = tuple(_with_role(b) for b in h.brackets)
    return h


def fill_row(ev: OrderFilled) -> dict[str, Any]:
    return {
        **_envelope(ev),
        "exec_id": ev.exec_id,
        "order_ref": ev.order_ref,
        "strategy_id": ev.strategy_id,
        "purpose": ev.purpose.value,
        "broker_order_id": ev.broker_order_id,
        "side": ev.side.value,
        "quantity": ev.quantity,
        "price": ev.price,
        "commission": ev.commission,
        "cumulative_quantity": ev.cumulative_quantity,
        "total_quantity": ev.total_quantity,
        "legs": _json(ev.legs),
    }


def exit_row(ev: ExitExecuted) -> dict[str, Any]:
    return {
        **_envelope(ev),
        "strategy_id": ev.strategy_id,
        "decision_id": ev.decision_id,
        "action": ev.action.value,
        "result": ev.result.value,
        "rule": ev.rule,
        "closed_quantity": ev.closed_quantity,
        "remaining_quantity": ev.remaining_quantity,
        "realized_pnl": ev.realized_pnl,
        "new_strategy_id": ev.new_strategy_id,
        "order_refs": _json(ev.order_refs),
        "reason": ev.reason,
    }


def order_row(
    ev: OrderPlaced | OrderStatusChanged | OrderRejected | OrderDenied,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """The order's row after ``ev``: ``previous`` (the row so far) with this event's facts."""
    at = ev.market_time or ev.wall_time
    row: dict[str, Any] = (
        dict(previous) if previous else {name: None for name in ORDERS.schema.names}
    )
    row.update(
        order_ref=ev.order_ref,
        strategy_id=ev.strategy_id,
        purpose=ev.purpose.value,
        updated_at=at,
    )
    row["created_at"] = row["created_at"] or at
    match ev:
        case OrderPlaced():
            row.update(
                broker_order_id=ev.broker_order_id or None,
                perm_id=ev.perm_id,
                status=row["status"] or ("dry_run" if ev.dry_run else "submitted"),
                side=ev.side.value,
                combo=ev.combo,
                quantity=ev.quantity,
                limit_price=ev.limit_price,
                legs=_json(ev.legs),
                dry_run=ev.dry_run,
                rolled_from=ev.rolled_from,
            )
        case OrderStatusChanged():
            row.update(
                broker_order_id=ev.broker_order_id or row["broker_order_id"],
                status=ev.status.value,
                filled=ev.filled,
                remaining=ev.remaining,
                avg_fill_price=ev.avg_fill_price,
                limit_price=ev.limit_price if ev.limit_price is not None else row["limit_price"],
                reason=ev.reason or row["reason"],
            )
        case OrderRejected():
            row.update(status="rejected", reason=f"IB {ev.code}: {ev.reason}")
        case OrderDenied():
            row.update(status="denied", reason=ev.reason)
    return row


def position_rows(positions: Iterable[BrokerPosition], at: dt.datetime) -> list[dict[str, Any]]:
    return [
        {
            "as_of": at,
            "account": p.account,
            "con_id": p.con_id,
            "symbol": p.symbol,
            "sec_type": p.sec_type,
            "right": p.right,
            "strike": p.strike,
            "expiry": p.expiry,
            "position": p.position,
            "avg_cost": p.avg_cost,
        }
        for p in positions
    ]


def finding_rows(findings: Iterable[Finding], at: dt.datetime) -> list[dict[str, Any]]:
    return [
        {
            "as_of": at,
            "kind": f.kind.value,
            "con_id": f.con_id,
            "broker_quantity": float(f.broker_quantity),
            "book_quantity": float(f.book_quantity),
            "description": f.description,
        }
        for f in findings
    ]
