"""Priority 6: roll to the target DTE, only when a roll can actually be made.

A roll that is not possible (the snapshot's ``roll_possible`` is false, a previous roll failed or
found no credit, or expiry is too close) does not fire, so gamma risk and time exit still get
their turn; a roll already decided and working is not decided again.
"""

from __future__ import annotations

from shared.config import DteRollRule
from shared.enums import Action, Urgency
from shared.events import PositionSnapshot

from .base import Rule
from .decision import Decision
from .portfolio import PortfolioView
from .state import StrategyState


class DteRoll(Rule):
    name = "dte_roll"
    acts_on_stale = True

    def __init__(self, config: DteRollRule, expiry_dte: int) -> None:
        super().__init__(config.priority)
        self.config = config
        # at or below the time exit's DTE, expiry wins over a roll
        self.expiry_dte = expiry_dte

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        cfg = self.config
        dte = snapshot.dte
        if dte > cfg.roll_at_dte or dte <= self.expiry_dte:
            return None
        if state.roll_working or state.roll_blocked_reason or not snapshot.roll_possible:
            return None
        forced = dte <= cfg.forced_at_dte
        return Decision(
            action=Action.ROLL,
            rule=self.name,
            reason=f"{dte} DTE {'at or below forced roll' if forced else 'within roll window'} "
            f"{cfg.forced_at_dte if forced else cfg.roll_at_dte}: roll to {cfg.target_dte} DTE",
            urgency=Urgency.HIGH if forced else Urgency.NORMAL,
            roll_to_dte=cfg.target_dte,
            metadata={"dte": dte, "forced": forced, "credit_only": cfg.credit_only},
        )
