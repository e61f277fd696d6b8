"""The outcome of evaluating one snapshot, and its conversion to the ``DecisionMade`` event."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import msgspec

from shared.enums import Action, Urgency
from shared.events import DecisionMade, PositionSnapshot

# Urgency order, lowest first: a working exit is only superseded by a more urgent decision.
URGENCY_RANK: dict[Urgency, int] = {
    Urgency.LOW: 0,
    Urgency.NORMAL: 1,
    Urgency.HIGH: 2,
    Urgency.IMMEDIATE: 3,
}


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """What to do with one strategy; ``close_ratio`` is for REDUCE, ``roll_to_dte`` for ROLL."""

    action: Action
    rule: str
    reason: str
    urgency: Urgency = Urgency.NORMAL
    close_ratio: float | None = None
    roll_to_dte: int | None = None
    metadata: dict[str, Any] = {}


NO_RULE = "none"
HOLD = Decision(action=Action.HOLD, rule=NO_RULE, reason="no rule fired")


def close(rule: str, reason: str, urgency: Urgency, **metadata: Any) -> Decision:
    return Decision(
        action=Action.CLOSE, rule=rule, reason=reason, urgency=urgency, metadata=metadata
    )


def decision_id_for(snapshot: PositionSnapshot, decision: Decision) -> str:
    """A pure function of the snapshot and the rule, so a replayed snapshot is de-duplicated."""
    key = f"{snapshot.strategy_id}|{snapshot.as_of.isoformat()}|{decision.action}|{decision.rule}"
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def to_event(
    decision: Decision, snapshot: PositionSnapshot, now: dt.datetime, producer: str = "decision"
) -> DecisionMade:
    return DecisionMade(
        decision_id=decision_id_for(snapshot, decision),
        correlation_id=snapshot.correlation_id or snapshot.strategy_id,
        producer=producer,
        wall_time=now,
        market_time=snapshot.market_time or snapshot.as_of,
        strategy_id=snapshot.strategy_id,
        symbol=snapshot.symbol,
        action=decision.action,
        rule=decision.rule,
        reason=decision.reason,
        urgency=decision.urgency,
        close_ratio=decision.close_ratio,
        roll_to_dte=decision.roll_to_dte,
        snapshot_as_of=snapshot.as_of,
        metadata=decision.metadata,
    )
