"""Priority 5.5: little premium left to sell at a low IV percentile, so take the profit."""

from __future__ import annotations

from shared.config import IVPercentileRule
from shared.enums import Urgency
from shared.events import PositionSnapshot

from .base import Rule
from .decision import Decision, close
from .portfolio import PortfolioView
from .state import StrategyState


class IVPercentileExit(Rule):
    name = "iv_percentile"

    def __init__(self, config: IVPercentileRule) -> None:
        super().__init__(config.priority)
        self.config = config

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        cfg = self.config
        pct = snapshot.iv_percentile
        upl = snapshot.upl_pct
        # stated as the firing condition so an unknown (NaN) percentile never fires
        if not (pct < cfg.below and upl >= cfg.min_upl):
            return None
        return close(
            self.name,
            f"IV percentile {pct:.0%} below {cfg.below:.0%} with UPL {upl:+.0%}",
            Urgency.NORMAL,
            iv_percentile=pct,
            upl_pct=upl,
        )
