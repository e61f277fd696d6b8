"""Priority 3: the loss limit by kind, tighter near expiry."""

from __future__ import annotations

from shared.config import StopLossRule
from shared.enums import Urgency
from shared.events import PositionSnapshot

from .base import Rule, is_credit
from .decision import Decision, close
from .portfolio import PortfolioView
from .state import StrategyState


class StopLoss(Rule):
    name = "stop_loss"

    def __init__(self, config: StopLossRule) -> None:
        super().__init__(config.priority)
        self.config = config

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        cfg = self.config
        upl = snapshot.upl_pct
        # a debit position cannot lose more than 100%, so the credit limit would never fire
        stop = cfg.credit_stop if is_credit(snapshot) else cfg.debit_stop
        if upl <= stop:
            reason = f"UPL {upl:+.0%} reached stop loss {stop:.0%}"
        elif snapshot.dte < cfg.near_expiry_dte and upl <= cfg.near_expiry_stop:
            reason = (
                f"UPL {upl:+.0%} at {snapshot.dte} DTE reached near-expiry stop "
                f"{cfg.near_expiry_stop:.0%}"
            )
        else:
            return None
        return close(self.name, reason, Urgency.IMMEDIATE, upl_pct=upl, stop=stop)
