"""Per-strategy memory of the decision rules, saved and restored by the decision service.

It holds what a single snapshot cannot tell: the trailing-stop peak, whether the once-only
REDUCE was done, whether a roll or exit is working, and why a roll cannot be made.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from shared.enums import Action, ExitResult, Urgency
from shared.events import ExitExecuted, PositionSnapshot

from .decision import Decision


class StrategyState(msgspec.Struct, frozen=True, kw_only=True):
    strategy_id: str
    # highest UPL% seen on a fresh snapshot; None until the first one
    peak_upl_pct: float | None = None
    reduce_done: bool = False
    roll_working: bool = False
    # non-empty: no roll is attempted again for this strategy, the next rules apply instead
    roll_blocked_reason: str = ""
    exit_working: bool = False
    closed: bool = False
    last_action: Action | None = None
    last_rule: str = ""
    last_urgency: Urgency | None = None
    last_decided_at: dt.datetime | None = None


def update_state(
    state: StrategyState, snapshot: PositionSnapshot, decision: Decision
) -> StrategyState:
    """The state after ``decision`` was taken on ``snapshot``; the same object when unchanged.

    The peak follows every fresh snapshot whichever rule fired; a stale mark is not trusted to
    set a peak that would arm the trailing stop.
    """
    changes: dict[str, object] = {}
    upl = snapshot.upl_pct
    if not snapshot.stale and (state.peak_upl_pct is None or upl > state.peak_upl_pct):
        changes["peak_upl_pct"] = upl
    action = decision.action
    if action is not Action.HOLD:
        changes.update(
            exit_working=True,
            last_action=action,
            last_rule=decision.rule,
            last_urgency=decision.urgency,
            last_decided_at=snapshot.as_of,
        )
        if action is Action.REDUCE:
            changes["reduce_done"] = True
        elif action is Action.ROLL:
            changes["roll_working"] = True
    if not changes:
        return state
    return msgspec.structs.replace(state, **changes)


def apply_exit(state: StrategyState, event: ExitExecuted) -> StrategyState:
    """The state after execution reported what became of a decided exit."""
    result = event.result
    if result in (ExitResult.CLOSED, ExitResult.ROLLED):
        # the trailing-stop peak and every flag go with the closed strategy
        return StrategyState(strategy_id=state.strategy_id, closed=True)
    if result is ExitResult.REDUCED:
        return msgspec.structs.replace(state, exit_working=False, reduce_done=True)
    if event.action is Action.ROLL:
        return msgspec.structs.replace(
            state,
            exit_working=False,
            roll_working=False,
            roll_blocked_reason=event.reason or "roll failed",
        )
    if event.action is Action.REDUCE:
        # a reduce that did not happen may be tried again
        return msgspec.structs.replace(state, exit_working=False, reduce_done=False)
    return msgspec.structs.replace(state, exit_working=False)
