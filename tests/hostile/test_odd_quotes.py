"""Quotes that decode but are not prices never become the underlying's price in entry."""

from __future__ import annotations

import math

import pytest

from services.entry.market import QuoteCache
from shared.enums import SecType
from shared.events import MarketDataUpdated, Quote


@pytest.mark.parametrize(
    ("bid", "ask"),
    [(1.0, math.inf), (math.inf, math.inf), (math.nan, 2.0), (-1.0, 2.0), (3.0, 2.0)],
)
def test_a_quote_that_is_not_a_price_leaves_the_symbol_unpriced(bid: float, ask: float) -> None:
    cache = QuoteCache()
    quote = Quote(symbol="SPY", sec_type=SecType.STOCK, bid=bid, ask=ask)
    cache.on_market_data(MarketDataUpdated(symbol="SPY", quotes=[quote]))
    assert cache.price("SPY") is None
