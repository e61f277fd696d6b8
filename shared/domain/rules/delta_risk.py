"""Priority 4: the position's own delta per unit, or its share of a portfolio/symbol breach."""

from __future__ import annotations

from shared.config import DeltaRiskRule
from shared.enums import VERTICAL_TYPES, StrategyType, Urgency
from shared.events import PositionSnapshot

from .base import Rule, per_unit
from .decision import Decision, close
from .portfolio import PortfolioView
from .state import StrategyState

_CONDOR_TYPES = frozenset({StrategyType.IRON_CONDOR, StrategyType.SHORT_STRANGLE})


class DeltaRisk(Rule):
    name = "delta_risk"

    def __init__(self, config: DeltaRiskRule) -> None:
        super().__init__(config.priority)
        self.config = config
        self._limits: dict[StrategyType, float] = {
            **dict.fromkeys(_CONDOR_TYPES, config.condor_max_delta),
            **dict.fromkeys(VERTICAL_TYPES, config.vertical_max_delta),
        }

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        limit = self._limits.get(snapshot.strategy_type)
        if limit is not None:
            unit_delta = per_unit(snapshot.delta, snapshot.quantity)
            if abs(unit_delta) > limit:
                return close(
                    self.name,
                    f"delta {unit_delta:+.2f} per unit beyond {limit:.2f}",
                    Urgency.HIGH,
                    unit_delta=unit_delta,
                    limit=limit,
                )
        breach = portfolio.breach_for(snapshot)
        if breach is None:
            return None
        return close(
            self.name,
            f"{breach.scope} delta {breach.total:+.0f} beyond {breach.limit:.0f}; this position "
            f"contributes most ({breach.contribution:+.0f})",
            Urgency.HIGH,
            scope=breach.scope,
            total_delta=breach.total,
            limit=breach.limit,
            contribution=breach.contribution,
        )
