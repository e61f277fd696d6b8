"""Portfolio Greeks, exposure and the pre-trade capacity checks of an entry (trading.md section 1).

Units, used everywhere in this module and in ``EntryConfig``: delta and gamma are **share
equivalents** (option delta x 100 x contracts, signed; gamma per 1.00 move of the underlying),
max loss is **currency** (positive). A limit compares like with like, so a first trade inside the
limits passes (the earlier system compared a per-share 0.30 with 50 shares and refused all).

A strategy counts toward exposure while it is pending, open or closing: until a close has
filled, its legs are at the broker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import msgspec

from shared.config import EntryConfig
from shared.enums import StrategyStatus
from shared.events import Check

LIVE_STATUSES = frozenset({StrategyStatus.PENDING, StrategyStatus.OPEN, StrategyStatus.CLOSING})
# a figure exactly at its limit passes; this absorbs the rounding of products like 0.02 x net liq
_REL_TOL = 1e-9


class BookEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One strategy as the risk checks see it (totals over its quantity)."""

    strategy_id: str
    symbol: str
    expiry: dt.date
    strike_low: float
    strike_high: float
    status: StrategyStatus
    delta: float  # share equivalents
    gamma: float  # share equivalents per 1.00 move
    max_loss: float  # currency, positive
    signal_id: str = ""

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES


class SymbolExposure(msgspec.Struct, frozen=True, kw_only=True):
    delta: float = 0.0
    gamma: float = 0.0
    max_loss: float = 0.0
    strategies: int = 0


class Exposure(msgspec.Struct, frozen=True, kw_only=True):
    """Totals over the live strategies, overall and per symbol."""

    delta: float = 0.0
    gamma: float = 0.0
    max_loss: float = 0.0
    strategies: int = 0
    by_symbol: dict[str, SymbolExposure] = {}

    def symbol(self, symbol: str) -> SymbolExposure:
        return self.by_symbol.get(symbol, SymbolExposure())


def _add(total: SymbolExposure, entry: BookEntry) -> SymbolExposure:
    return SymbolExposure(
        delta=total.delta + entry.delta,
        gamma=total.gamma + entry.gamma,
        max_loss=total.max_loss + entry.max_loss,
        strategies=total.strategies + 1,
    )


def portfolio_exposure(entries: Iterable[BookEntry]) -> Exposure:
    """Sum delta, gamma and max loss of the live strategies, overall and per symbol."""
    overall = SymbolExposure()
    by_symbol: dict[str, SymbolExposure] = {}
    for entry in entries:
        if entry.live:
            overall = _add(overall, entry)
            by_symbol[entry.symbol] = _add(by_symbol.get(entry.symbol, SymbolExposure()), entry)
    return Exposure(
        delta=overall.delta,
        gamma=overall.gamma,
        max_loss=overall.max_loss,
        strategies=overall.strategies,
        by_symbol=by_symbol,
    )


def _at_most(name: str, value: float, limit: float, detail: str) -> Check:
    passed = value <= limit + _REL_TOL * max(abs(limit), 1.0)
    return Check(name=name, passed=passed, value=value, limit=limit, detail=detail)


def check_entry_capacity(
    book: Iterable[BookEntry], new: BookEntry, limits: EntryConfig, net_liquidation: float
) -> list[Check]:
    """The portfolio capacity checks of a candidate strategy, each with its figures.

    Every check includes the candidate itself: a portfolio figure is the book's plus the new
    strategy's, so an empty book accepts any candidate within the limits.
    """
    exposure = portfolio_exposure(entry for entry in book if entry.strategy_id != new.strategy_id)
    on_symbol = exposure.symbol(new.symbol)
    position_cap = limits.max_position_risk_pct * net_liquidation
    total_cap = limits.max_total_exposure_pct * net_liquidation
    return [
        _at_most(
            "portfolio_delta",
            abs(exposure.delta + new.delta),
            limits.max_portfolio_delta,
            f"|{exposure.delta:+.1f} book {new.delta:+.1f} new| share equivalents",
        ),
        _at_most(
            "symbol_delta",
            abs(on_symbol.delta + new.delta),
            limits.max_symbol_delta,
            f"{new.symbol}: |{on_symbol.delta:+.1f} book {new.delta:+.1f} new| share equivalents",
        ),
        _at_most(
            "portfolio_gamma",
            abs(exposure.gamma + new.gamma),
            limits.max_portfolio_gamma,
            f"|{exposure.gamma:+.2f} book {new.gamma:+.2f} new| share equivalents per 1.00",
        ),
        _at_most(
            "position_risk",
            new.max_loss,
            position_cap,
            f"max loss vs {limits.max_position_risk_pct:.1%} of net liquidation "
            f"{net_liquidation:,.0f}",
        ),
        Check(
            name="strategies_per_symbol",
            passed=on_symbol.strategies < limits.max_strategies_per_symbol,
            value=float(on_symbol.strategies),
            limit=float(limits.max_strategies_per_symbol),
            detail=f"{new.symbol}: live strategies before this one must be below the limit",
        ),
        _at_most(
            "total_exposure",
            exposure.max_loss + new.max_loss,
            total_cap,
            f"max loss of all live strategies with this one vs "
            f"{limits.max_total_exposure_pct:.0%} of net liquidation {net_liquidation:,.0f}",
        ),
    ]


def _overlap(a: BookEntry, b: BookEntry) -> bool:
    return a.strike_low <= b.strike_high and b.strike_low <= a.strike_high


def conflicting(book: Iterable[BookEntry], new: BookEntry) -> Check:
    """No live strategy on the same symbol and expiry whose strike range overlaps the new one's."""
    clashes = [
        entry.strategy_id
        for entry in book
        if entry.live
        and entry.strategy_id != new.strategy_id
        and entry.symbol == new.symbol
        and entry.expiry == new.expiry
        and _overlap(entry, new)
    ]
    detail = (
        f"overlaps {', '.join(clashes)} on {new.symbol} {new.expiry}"
        if clashes
        else f"no overlapping strategy on {new.symbol} {new.expiry}"
    )
    return Check(
        name="no_conflict", passed=not clashes, value=float(len(clashes)), limit=0.0, detail=detail
    )


def signal_unused(book: Iterable[BookEntry], signal_id: str) -> Check:
    """One entry per signal: no strategy in the book, whatever its status, came from it."""
    used = [entry.strategy_id for entry in book if signal_id and entry.signal_id == signal_id]
    detail = f"signal already entered as {', '.join(used)}" if used else "first entry for signal"
    return Check(
        name="signal_unused", passed=not used, value=float(len(used)), limit=0.0, detail=detail
    )
