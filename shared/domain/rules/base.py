"""What every decision rule is: a name, a priority, and a check of one snapshot."""

from __future__ import annotations

from typing import ClassVar

from shared.enums import CREDIT_MULTI_LEG_TYPES, DEBIT_MULTI_LEG_TYPES, SINGLE_LEG_TYPES
from shared.events import MULTIPLIER, PositionSnapshot

from .decision import Decision
from .portfolio import PortfolioView
from .state import StrategyState


class Rule:
    """One rule of trading.md section 5; ``evaluate`` returns None when it does not fire.

    ``acts_on_stale`` marks the time-based rules, the only ones run on a stale snapshot.
    """

    name: ClassVar[str] = ""
    acts_on_stale: ClassVar[bool] = False

    def __init__(self, priority: float) -> None:
        self.priority = priority

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        raise NotImplementedError


def per_unit(total: float, quantity: int) -> float:
    """A position Greek in share equivalents brought back to option units per strategy unit."""
    return total / (MULTIPLIER * quantity)


def is_credit(snapshot: PositionSnapshot) -> bool:
    """Credit or debit by the explicit kind sets; only CUSTOM falls back to the entry's sign."""
    kind = snapshot.strategy_type
    if kind in CREDIT_MULTI_LEG_TYPES:
        return True
    if kind in DEBIT_MULTI_LEG_TYPES or kind in SINGLE_LEG_TYPES:
        return False
    return snapshot.entry_price > 0
