"""The market state an entry evaluation reads, assembled from what execution relays.

Quotes (underlyings, VIX, the legs of open strategies) arrive on ``v6.md.*`` and are kept here,
latest value wins. Daily history (IV and prices) comes by request/reply and is cached for the
trading day; the option chain is asked for only when the market step of the signal passed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from services.entry.gateway import MarketDataUnavailable
from shared.domain.calendar import trading_date
from shared.domain.signal import MarketState
from shared.enums import Right, SecType
from shared.events import Bar, Leg, MarketDataUpdated, Quote

IV_HISTORY = "OPTION_IMPLIED_VOLATILITY"
PRICE_HISTORY = "TRADES"


def quote_price(quote: Quote) -> float | None:
    """Mid of a sane bid/ask, else last, else the previous close."""
    bid, ask = quote.bid, quote.ask
    if bid is not None and ask is not None and 0 < bid <= ask < math.inf:
        return (bid + ask) / 2
    for value in (quote.last, quote.close):
        if value is not None and value > 0 and math.isfinite(value):
            return value
    return None


OptionKey = tuple[str, dt.date, Right, float]


class QuoteCache:
    """Latest quotes from ``v6.md.*``: one per underlying/index and one per option contract."""

    def __init__(self, vix_symbol: str = "VIX") -> None:
        self.vix_symbol = vix_symbol
        self._underlyings: dict[str, Quote] = {}
        self._options: dict[OptionKey, Quote] = {}

    def on_market_data(self, event: MarketDataUpdated) -> None:
        for quote in event.quotes:
            if quote.sec_type is SecType.OPTION:
                if quote.expiry and quote.right and quote.strike:
                    key = (quote.symbol, quote.expiry, quote.right, float(quote.strike))
                    self._options[key] = quote
            else:
                self._underlyings[quote.symbol] = quote

    def price(self, symbol: str) -> float | None:
        quote = self._underlyings.get(symbol)
        return quote_price(quote) if quote else None

    def vix(self) -> float | None:
        return self.price(self.vix_symbol)

    def leg(self, symbol: str, leg: Leg) -> Quote | None:
        return self._options.get((symbol, leg.expiry, leg.right, float(leg.strike)))


class HistoryCache:
    """Daily bars per (symbol, what) for one trading day; a new day asks again."""

    def __init__(self) -> None:
        self._bars: dict[tuple[str, str], tuple[dt.date, list[Bar]]] = {}

    def get(self, symbol: str, what: str, day: dt.date) -> list[Bar] | None:
        cached = self._bars.get((symbol, what))
        return cached[1] if cached and cached[0] == day else None

    def put(self, symbol: str, what: str, day: dt.date, bars: list[Bar]) -> None:
        self._bars[(symbol, what)] = (day, bars)


def assemble(
    symbol: str,
    now: dt.datetime,
    quotes: QuoteCache,
    iv_bars: Sequence[Bar],
    price_bars: Sequence[Bar],
) -> MarketState:
    """One symbol's market state for the entry signal.

    The price is the live quote, else the last daily close. The IV ranked is the newest
    ``OPTION_IMPLIED_VOLATILITY`` bar (IB updates today's bar during the session). ``closes``
    are completed sessions only: today's partial bar would pull the moving average toward the
    price it is compared with. A missing VIX is NaN, which the signal's VIX check refuses.
    """
    today = trading_date(now)
    closes = [bar.close for bar in price_bars if bar.date < today and bar.close > 0]
    price = quotes.price(symbol)
    if price is None and price_bars and price_bars[-1].close > 0:
        price = price_bars[-1].close
    if price is None:
        raise MarketDataUnavailable(f"no price for {symbol}: no quote and no daily bar")
    vix = quotes.vix()
    return MarketState(
        symbol=symbol,
        now=now,
        underlying_price=price,
        iv_history=[bar.close for bar in iv_bars if bar.close > 0 and math.isfinite(bar.close)],
        closes=closes,
        vix=math.nan if vix is None else vix,
    )
