"""Priority 2: close at the profit target; reduce once on the way there."""

from __future__ import annotations

import math

from shared.config import TakeProfitRule
from shared.enums import Action, Urgency
from shared.events import PositionSnapshot

from .base import Rule
from .decision import Decision, close
from .portfolio import PortfolioView
from .state import StrategyState


class TakeProfit(Rule):
    name = "take_profit"

    def __init__(self, config: TakeProfitRule) -> None:
        super().__init__(config.priority)
        self.config = config

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        cfg = self.config
        upl = snapshot.upl_pct
        if upl >= cfg.close_at:
            return close(
                self.name,
                f"UPL {upl:+.0%} reached take profit {cfg.close_at:.0%}",
                Urgency.NORMAL,
                upl_pct=upl,
            )
        if upl < cfg.reduce_at or state.reduce_done:
            return None
        contracts = math.floor(snapshot.quantity * cfg.reduce_ratio)
        if contracts < 1:
            return None  # a single contract cannot be halved: it is held to the close target
        return Decision(
            action=Action.REDUCE,
            rule=self.name,
            reason=f"UPL {upl:+.0%} reached {cfg.reduce_at:.0%}: close {contracts} of "
            f"{snapshot.quantity}",
            urgency=Urgency.NORMAL,
            close_ratio=cfg.reduce_ratio,
            metadata={"upl_pct": upl, "close_quantity": contracts},
        )
