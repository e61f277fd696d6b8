"""Priority 7: gamma per unit too high close to expiry."""

from __future__ import annotations

from shared.config import GammaRiskRule
from shared.enums import Urgency
from shared.events import PositionSnapshot

from .base import Rule, per_unit
from .decision import Decision, close
from .portfolio import PortfolioView
from .state import StrategyState


class GammaRisk(Rule):
    name = "gamma_risk"

    def __init__(self, config: GammaRiskRule) -> None:
        super().__init__(config.priority)
        self.config = config

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        cfg = self.config
        if snapshot.dte >= cfg.below_dte:
            return None
        unit_gamma = per_unit(snapshot.gamma, snapshot.quantity)
        if abs(unit_gamma) <= cfg.max_gamma:
            return None
        return close(
            self.name,
            f"gamma {unit_gamma:+.3f} per unit beyond {cfg.max_gamma:.2f} at {snapshot.dte} DTE",
            Urgency.HIGH,
            unit_gamma=unit_gamma,
            dte=snapshot.dte,
        )
