"""Priority 5: take a profit that an implied-volatility collapse handed over."""

from __future__ import annotations

from shared.config import IVCrushRule
from shared.enums import Urgency
from shared.events import PositionSnapshot

from .base import Rule
from .decision import Decision, close
from .portfolio import PortfolioView
from .state import StrategyState


class IVCrush(Rule):
    name = "iv_crush"

    def __init__(self, config: IVCrushRule) -> None:
        super().__init__(config.priority)
        self.config = config

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        cfg = self.config
        change = snapshot.iv_change_pct
        upl = snapshot.upl_pct
        # stated as the firing condition so an unknown (NaN) IV change never fires
        if not (change <= -cfg.iv_drop_pct and upl >= cfg.min_upl):
            return None
        return close(
            self.name,
            f"IV {change:+.0%} since entry with UPL {upl:+.0%}",
            Urgency.NORMAL,
            iv_change_pct=change,
            upl_pct=upl,
        )
