"""The book's delta as the decision engine sees it, to send a delta breach to one position.

When the portfolio or a symbol is beyond its delta limit, closing every position at once would
overshoot; the decision goes only to the position contributing most to the breach (the largest
delta with the breach's sign), and the others hold until the next snapshot shows whether the
breach persists.

Whether a limit is breached is read from the snapshot's ``portfolio_delta`` / ``symbol_delta``
(the monitor's totals); who contributes most is decided from the latest delta of every strategy
this view has seen. The decision service feeds every snapshot through ``DecisionEngine``, which
updates this view, and removes closed strategies with ``DecisionEngine.forget``.
"""

from __future__ import annotations

import msgspec

from shared.config import EntryConfig
from shared.events import PositionSnapshot


class DeltaLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Absolute delta limits in share equivalents (the entry limits of trading.md)."""

    portfolio: float = 500.0
    symbol: float = 300.0

    @classmethod
    def from_config(cls, entry: EntryConfig) -> DeltaLimits:
        return cls(portfolio=entry.max_portfolio_delta, symbol=entry.max_symbol_delta)


class DeltaBreach(msgspec.Struct, frozen=True, kw_only=True):
    scope: str  # "portfolio" or the symbol
    total: float
    limit: float
    contribution: float


class PortfolioView:
    def __init__(self, limits: DeltaLimits | None = None) -> None:
        self.limits = limits or DeltaLimits()
        self._positions: dict[str, tuple[str, float]] = {}  # strategy_id -> (symbol, delta)

    def update(self, snapshot: PositionSnapshot) -> None:
        self._positions[snapshot.strategy_id] = (snapshot.symbol, snapshot.delta)

    def remove(self, strategy_id: str) -> None:
        self._positions.pop(strategy_id, None)

    def __len__(self) -> int:
        return len(self._positions)

    def breach_for(self, snapshot: PositionSnapshot) -> DeltaBreach | None:
        """The breach this snapshot's strategy is the largest contributor to, if any."""
        limits = self.limits
        portfolio_delta, symbol_delta = snapshot.portfolio_delta, snapshot.symbol_delta
        if abs(portfolio_delta) <= limits.portfolio and abs(symbol_delta) <= limits.symbol:
            return None
        for scope, total, limit, symbol in (
            ("portfolio", portfolio_delta, limits.portfolio, None),
            (snapshot.symbol, symbol_delta, limits.symbol, snapshot.symbol),
        ):
            if abs(total) > limit and self._owner(total, symbol) == snapshot.strategy_id:
                return DeltaBreach(
                    scope=scope, total=total, limit=limit, contribution=snapshot.delta
                )
        return None

    def _owner(self, total: float, symbol: str | None) -> str | None:
        sign = 1.0 if total > 0 else -1.0
        best_id: str | None = None
        best = 0.0
        # sorted ids make the choice between equal contributions the same in every process
        for strategy_id in sorted(self._positions):
            pos_symbol, delta = self._positions[strategy_id]
            if symbol is not None and pos_symbol != symbol:
                continue
            if sign * delta > best:
                best_id, best = strategy_id, sign * delta
        return best_id
