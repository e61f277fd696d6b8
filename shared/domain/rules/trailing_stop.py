"""Priority 1.4: give back no more than a share of the best UPL% once it was large enough."""

from __future__ import annotations

from shared.config import TrailingStopRule
from shared.enums import Urgency
from shared.events import PositionSnapshot

from .base import Rule
from .decision import Decision, close
from .portfolio import PortfolioView
from .state import StrategyState


class TrailingStop(Rule):
    name = "trailing_stop"

    def __init__(self, config: TrailingStopRule) -> None:
        super().__init__(config.priority)
        self.config = config

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        peak = state.peak_upl_pct
        if peak is None:
            return None
        cfg = self.config
        upl = snapshot.upl_pct
        # a new high cannot be a retracement, so the stored peak is the one to compare with
        if peak < cfg.activate_at or upl > cfg.retrace_to * peak:
            return None
        return close(
            self.name,
            f"UPL {upl:+.0%} fell to {cfg.retrace_to:.0%} of its peak {peak:+.0%}",
            Urgency.NORMAL,
            upl_pct=upl,
            peak_upl_pct=peak,
        )
