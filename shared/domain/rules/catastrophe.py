"""Priority 1: a large adverse underlying move within the hour, or an IV spike since entry."""

from __future__ import annotations

from shared.config import CatastropheRule
from shared.enums import Right, StrategyType, Urgency
from shared.events import PositionSnapshot

from .base import Rule
from .decision import Decision, close
from .portfolio import PortfolioView
from .state import StrategyState

# short on both sides: a big move either way is adverse
_BOTH_SIDES_SHORT = frozenset({StrategyType.IRON_CONDOR, StrategyType.SHORT_STRANGLE})


def _has_short(snapshot: PositionSnapshot, right: Right) -> bool:
    return any(leg.quantity < 0 and leg.right is right for leg in snapshot.legs)


def is_adverse(snapshot: PositionSnapshot, move: float) -> bool:
    """A move is adverse when it goes against the position's delta or toward a short leg."""
    if snapshot.strategy_type in _BOTH_SIDES_SHORT:
        return True
    if move < 0:
        return snapshot.delta > 0 or _has_short(snapshot, Right.PUT)
    return snapshot.delta < 0 or _has_short(snapshot, Right.CALL)


class Catastrophe(Rule):
    name = "catastrophe"

    def __init__(self, config: CatastropheRule) -> None:
        super().__init__(config.priority)
        self.config = config

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        cfg = self.config
        move = snapshot.underlying_change_1h
        if abs(move) >= cfg.adverse_move_1h_pct and is_adverse(snapshot, move):
            return close(
                self.name,
                f"underlying moved {move:+.1%} in the last hour against the position "
                f"(limit {cfg.adverse_move_1h_pct:.0%})",
                Urgency.IMMEDIATE,
                underlying_change_1h=move,
            )
        if snapshot.iv_change_pct >= cfg.iv_spike_pct:
            return close(
                self.name,
                f"IV up {snapshot.iv_change_pct:+.0%} since entry (limit {cfg.iv_spike_pct:.0%})",
                Urgency.IMMEDIATE,
                iv_change_pct=snapshot.iv_change_pct,
            )
        return None
