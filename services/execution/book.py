"""The execution service's book: what it holds per strategy, rebuilt from its tables at start.

Quantities are units of the strategy (combos); ``held`` comes from fills only, and what a fill
does to it is the one position fold of ``shared.domain.position``.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from services.execution.orders import OrderSpec
from shared.domain.position import PositionState, apply_close, apply_open, move
from shared.enums import StrategyStatus, StrategyType
from shared.events import Leg


class Holding(msgspec.Struct, kw_only=True):
    """One strategy as execution knows it; mutable, saved as one row per change."""

    strategy_id: str
    symbol: str
    strategy_type: StrategyType
    legs: tuple[Leg, ...]
    target_quantity: int
    status: StrategyStatus = StrategyStatus.PENDING
    held: int = 0
    entry_price: float = 0.0  # average signed net per unit of the entry fills
    realized_pnl: float = 0.0
    exit_seq: int = 0  # exits placed so far; the next exit's order ref uses it
    rolled_from: str | None = None
    rolled_into: str | None = None  # set while a roll into that strategy works, and after
    working: OrderSpec | None = None  # the order working now (saved before it is placed)
    brackets: tuple[OrderSpec, ...] = ()  # standing take-profit and stop-loss exits
    working_decision: str | None = None  # the decision (or command) the working exit carries out
    status_reason: str = ""
    applied: list[str] = []  # the fills (exec keys) already in ``held``: replays change nothing
    exit_units: int = 0  # units closed by the exit working now (or the last one)
    exit_pnl: float = 0.0  # their realized P&L (currency)
    exit_fills: list[str] = []  # their fills (exec keys), told with the exit's result
    updated_at: dt.datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in (StrategyStatus.OPEN, StrategyStatus.CLOSING) and self.held > 0

    # --- the fold, applied to this record ------------------------------------------------

    def _state(self) -> PositionState:
        return PositionState(
            strategy_id=self.strategy_id,
            status=self.status,
            quantity=self.held,
            entry_price=self.entry_price,
            realized_pnl=self.realized_pnl,
        )

    def _adopt(self, state: PositionState, at: dt.datetime) -> None:
        self.status = state.status
        self.held = state.quantity
        self.entry_price = state.entry_price
        self.realized_pnl = state.realized_pnl
        self.updated_at = at

    def first_time(self, fill_key: str) -> bool:
        """Note that ``fill_key`` is applied; False if it was already."""
        if fill_key in self.applied:
            return False
        self.applied.append(fill_key)
        return True

    def apply_entry_fill(self, units: int, net_price: float, at: dt.datetime) -> None:
        self._adopt(apply_open(self._state(), units, net_price, at).state, at)

    def apply_exit_fill(self, key: str, units: int, net_price: float, at: dt.datetime) -> float:
        """Reduce the holding by the fill ``key``; returns the realized P&L of these units."""
        applied = apply_close(self._state(), units, net_price, at)
        self._adopt(applied.state, at)
        self.exit_units += applied.units
        self.exit_pnl += applied.pnl
        self.exit_fills.append(key)
        return applied.pnl

    def move(self, to: StrategyStatus, at: dt.datetime, reason: str | None = None) -> None:
        """A lifecycle move checked against the transition table."""
        self._adopt(move(self._state(), to, at), at)
        if reason is not None:
            self.status_reason = reason

    def start_exit(self, decision_id: str, at: dt.datetime) -> None:
        self.exit_seq += 1
        self.exit_units = 0
        self.exit_pnl = 0.0
        self.exit_fills = []
        self.working_decision = decision_id
        self.move(StrategyStatus.CLOSING, at)

    def release(self, at: dt.datetime) -> None:
        """The working order ended: nothing works on it, and what is still held is open."""
        self.working = None
        if self.held > 0:
            self.move(StrategyStatus.OPEN, at)
        self.updated_at = at


class HoldingBook:
    """Every holding of the service by strategy id."""

    def __init__(self, holdings: list[Holding] | None = None) -> None:
        self.holdings: dict[str, Holding] = {h.strategy_id: h for h in holdings or []}

    def get(self, strategy_id: str) -> Holding | None:
        return self.holdings.get(strategy_id)

    def add(self, holding: Holding) -> Holding:
        self.holdings.setdefault(holding.strategy_id, holding)
        return self.holdings[holding.strategy_id]

    def open_holdings(self, symbol: str | None = None) -> list[Holding]:
        return [
            h
            for h in self.holdings.values()
            if h.is_open and (symbol is None or h.symbol == symbol)
        ]
