"""Priority 8: close before expiry, whatever else holds."""

from __future__ import annotations

from shared.config import TimeExitRule
from shared.enums import Urgency
from shared.events import PositionSnapshot

from .base import Rule
from .decision import Decision, close
from .portfolio import PortfolioView
from .state import StrategyState


class TimeExit(Rule):
    name = "time_exit"
    acts_on_stale = True

    def __init__(self, config: TimeExitRule) -> None:
        super().__init__(config.priority)
        self.config = config

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        if snapshot.dte > self.config.at_dte:
            return None
        return close(
            self.name,
            f"{snapshot.dte} DTE: close before expiry (at {self.config.at_dte})",
            Urgency.IMMEDIATE,
            dte=snapshot.dte,
        )
