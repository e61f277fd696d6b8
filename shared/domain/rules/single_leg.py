"""Priority 1.3: take profit, stop loss and time exit of single-leg (long option) strategies."""

from __future__ import annotations

from shared.config import SingleLegRule
from shared.enums import SINGLE_LEG_TYPES, Urgency
from shared.events import PositionSnapshot

from .base import Rule
from .decision import Decision, close
from .portfolio import PortfolioView
from .state import StrategyState


class SingleLegExit(Rule):
    name = "single_leg"
    # its DTE exit is time-based; the price exits below skip stale snapshots themselves
    acts_on_stale = True

    def __init__(self, config: SingleLegRule) -> None:
        super().__init__(config.priority)
        self.config = config

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        if snapshot.strategy_type not in SINGLE_LEG_TYPES:
            return None
        cfg = self.config
        upl = snapshot.upl_pct
        if not snapshot.stale:
            if upl >= cfg.take_profit:
                return close(
                    self.name,
                    f"single leg UPL {upl:+.0%} reached take profit {cfg.take_profit:.0%}",
                    Urgency.NORMAL,
                    upl_pct=upl,
                )
            if upl <= cfg.stop_loss:
                return close(
                    self.name,
                    f"single leg UPL {upl:+.0%} reached stop loss {cfg.stop_loss:.0%}",
                    Urgency.HIGH,
                    upl_pct=upl,
                )
        if snapshot.dte <= cfg.exit_dte:
            return close(
                self.name,
                f"single leg at {snapshot.dte} DTE (exit at {cfg.exit_dte})",
                Urgency.NORMAL,
                dte=snapshot.dte,
            )
        return None
