"""The tables decision owns: every decision made, alerts with their status (upserted), and the
rules' per-strategy memory (upserted, so a restart keeps trailing peaks and one-time states)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pyarrow as pa

from services.decision.workflow import StoredState
from shared.domain.alerts import Alert
from shared.domain.rules import StrategyState
from shared.events import DecisionMade
from shared.storage import Row, TableSpec, struct_to_row
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
    writes="upsert",  # acknowledge/resolve change the alert's row
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

RULE_STATES = TableSpec(
    name="rule_states",
    writes="upsert",  # the engine's per-strategy state, replaced as it changes
    schema=pa.schema(
        [
            required("strategy_id", pa.string()),
            pa.field("peak_upl_pct", pa.float64()),
            required("reduce_done", pa.bool_()),
            required("exit_working", pa.bool_()),
            required("closed", pa.bool_()),
            pa.field("roll_blocked_reason", pa.string()),
            required("state", pa.string()),  # the whole StrategyState as JSON
            pa.field("last_decision", pa.binary()),  # the DecisionMade sent, msgpack
            required("decisions", pa.int64()),  # how many were sent: the id sequence
            required("updated_at", TIMESTAMP),
        ]
    ),
    key=("strategy_id",),
)

TABLES = (DECISIONS, ALERTS, RULE_STATES)

_DECISION_COLUMNS = frozenset(DECISIONS.schema.names)
_decision_decoder = msgspec.msgpack.Decoder(DecisionMade)
_encoder = msgspec.msgpack.Encoder()


def decision_row(event: DecisionMade) -> Row:
    row = struct_to_row(event)
    return {k: v for k, v in row.items() if k in _DECISION_COLUMNS}


def alert_row(alert: Alert) -> Row:
    return struct_to_row(alert)


def alert_from_row(row: dict[str, Any]) -> Alert:
    return msgspec.convert(row, Alert, strict=False)


def state_row(stored: StoredState, now: dt.datetime) -> Row:
    state = stored.state
    return {
        "strategy_id": state.strategy_id,
        "peak_upl_pct": state.peak_upl_pct,
        "reduce_done": state.reduce_done,
        "exit_working": state.exit_working,
        "closed": state.closed,
        "roll_blocked_reason": state.roll_blocked_reason,
        "state": msgspec.json.encode(state).decode(),
        "last_decision": _encoder.encode(stored.last_decision) if stored.last_decision else None,
        "decisions": stored.decisions,
        "updated_at": now,
    }


def state_from_row(row: dict[str, Any]) -> StoredState:
    last = row.get("last_decision")
    return StoredState(
        state=msgspec.json.decode(row["state"], type=StrategyState),
        last_decision=_decision_decoder.decode(last) if last else None,
        decisions=row["decisions"],
    )
