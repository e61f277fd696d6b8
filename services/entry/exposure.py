"""The book and a candidate as the risk checks see them (``shared.domain.risk.BookEntry``).

Greeks are share equivalents (option delta x 100 x contracts). An open strategy is valued with
the latest relayed quotes of its legs (execution relays every leg of every open strategy); when
a leg has no quote yet, the Greeks measured at build time stand in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.entry.lifecycle import StrategyRecord
from services.entry.market import QuoteCache
from shared.domain.risk import BookEntry
from shared.domain.strategy import PositionGreeks, Strategy, position_greeks
from shared.events import Leg, Quote

QuoteLookup = Callable[[Leg], Quote | None]


@dataclass(frozen=True, slots=True)
class _LegGreeks:
    quantity: int
    delta: float
    gamma: float
    theta: float
    vega: float


def strategy_greeks(
    legs: Sequence[Leg], quantity: int, lookup: QuoteLookup
) -> PositionGreeks | None:
    """Position Greeks from each leg's quote, or None when a leg lacks a quote or a delta."""
    greeks: list[_LegGreeks] = []
    for leg in legs:
        quote = lookup(leg)
        if quote is None or quote.delta is None:
            return None
        greeks.append(
            _LegGreeks(
                quantity=leg.quantity,
                delta=quote.delta,
                gamma=quote.gamma or 0.0,
                theta=quote.theta or 0.0,
                vega=quote.vega or 0.0,
            )
        )
    return position_greeks(greeks, quantity)


def _entry(strategy: Strategy, delta: float, gamma: float, max_loss: float) -> BookEntry:
    strikes = [leg.strike for leg in strategy.legs]
    return BookEntry(
        strategy_id=strategy.strategy_id,
        symbol=strategy.symbol,
        expiry=strategy.expiry,
        strike_low=min(strikes),
        strike_high=max(strikes),
        status=strategy.status,
        delta=delta,
        gamma=gamma,
        max_loss=max_loss,
        signal_id=strategy.signal_id or "",
    )


def candidate_entry(strategy: Strategy, greeks: PositionGreeks) -> BookEntry:
    return _entry(strategy, greeks.delta, greeks.gamma, strategy.max_loss)


def book_entry(record: StrategyRecord, quotes: QuoteCache) -> BookEntry:
    strategy, units = record.strategy, record.held_quantity
    live = strategy_greeks(strategy.legs, units, lambda leg: quotes.leg(strategy.symbol, leg))
    delta = live.delta if live else record.delta_per_unit * units
    gamma = live.gamma if live else record.gamma_per_unit * units
    return _entry(strategy, delta, gamma, strategy.max_loss_per_unit * units)
