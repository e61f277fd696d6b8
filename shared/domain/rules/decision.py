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


def decision_id(snapshot: PositionSnapshot, decision: Decision, sequence: int) -> str:
    """The one id of a decision, and the message id JetStream de-duplicates it on.

    ``sequence`` counts the strategy's acting decisions (stored with its rule state), so the id
    is the same when a snapshot is replayed or a stored decision republished after a restart,
    and new for a decision made again after a failed exit even when the market data, and so
    the snapshot time, is unchanged (JetStream would drop a repeated id). A HOLD advances no
    sequence, so its id also carries the snapshot time: one message per snapshot.
    """
    key = f"{snapshot.strategy_id}|{sequence}|{decision.action}|{decision.rule}"
    if decision.action is Action.HOLD:
        key += f"|{snapshot.as_of.isoformat()}"
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def to_event(
    decision: Decision,
    snapshot: PositionSnapshot,
    now: dt.datetime,
    sequence: int,
    producer: str = "decision",
) -> DecisionMade:
    """The decision as an event; ``sequence``: the strategy's acting decisions so far, this one
    included (see ``decision_id``)."""
    ident = decision_id(snapshot, decision, sequence)
    return DecisionMade(
        event_id=ident,
        decision_id=ident,
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
