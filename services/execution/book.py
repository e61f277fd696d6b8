"""The execution service's book: what it holds per strategy, rebuilt from its tables at start.

Quantities are units of the strategy (combos); ``held`` comes from fills only.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from services.execution.orders import OrderSpec, realized_pnl
from shared.enums import StrategyStatus, StrategyType
from shared.events import MULTIPLIER, Leg


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
    updated_at: dt.datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in (StrategyStatus.OPEN, StrategyStatus.CLOSING) and self.held > 0


class Book:
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

    @staticmethod
    def first_time(h: Holding, fill_key: str) -> bool:
        """Note that ``fill_key`` is applied to ``h``; False if it was already."""
        if fill_key in h.applied:
            return False
        h.applied.append(fill_key)
        return True

    @staticmethod
    def apply_entry_fill(h: Holding, units: int, net_price: float, at: dt.datetime) -> None:
        total = h.held + units
        h.entry_price = (h.entry_price * h.held + net_price * units) / total
        h.held = total
        if h.status is StrategyStatus.PENDING:
            h.status = StrategyStatus.OPEN
        h.updated_at = at

    @staticmethod
    def start_exit(h: Holding, decision_id: str, at: dt.datetime) -> None:
        h.exit_seq += 1
        h.exit_units = 0
        h.exit_pnl = 0.0
        h.working_decision = decision_id
        h.status = StrategyStatus.CLOSING
        h.updated_at = at

    @staticmethod
    def apply_exit_fill(h: Holding, units: int, net_price: float, at: dt.datetime) -> float:
        """Reduce the holding; returns the realized P&L of these units (currency)."""
        units = min(units, h.held)
        pnl = realized_pnl(h.entry_price, net_price, units, MULTIPLIER)
        h.held -= units
        h.realized_pnl += pnl
        h.exit_units += units
        h.exit_pnl += pnl
        if h.held == 0:
            h.status = StrategyStatus.CLOSED
        h.updated_at = at
        return pnl
