"""Priority 1.5: a volatility regime change, for short-volatility positions only."""

from __future__ import annotations

from shared.config import VixExitRule
from shared.enums import Urgency
from shared.events import PositionSnapshot

from .base import Rule
from .decision import Decision, close
from .portfolio import PortfolioView
from .state import StrategyState


class VixExit(Rule):
    name = "vix_exit"

    def __init__(self, config: VixExitRule) -> None:
        super().__init__(config.priority)
        self.config = config

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        if snapshot.vega >= 0:
            return None  # long volatility gains from the very rise this rule guards against
        cfg = self.config
        vix = snapshot.vix
        rise = vix - snapshot.vix_at_entry
        if vix > cfg.vix_above:
            reason = f"VIX {vix:.1f} above {cfg.vix_above:.1f}"
        elif rise > cfg.vix_rise_points:
            reason = f"VIX up {rise:.1f} points since entry (limit {cfg.vix_rise_points:.1f})"
        else:
            return None
        return close(self.name, reason, Urgency.HIGH, vix=vix, vix_at_entry=snapshot.vix_at_entry)
