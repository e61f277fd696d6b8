"""The latest market state the monitor has seen: quotes, underlying prices and their short history.

Times are market times (from the quotes or the carrying event), so staleness and the one-hour
change follow the simulator's clock, accelerated or not.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import deque

import msgspec

from shared.enums import Right, SecType
from shared.events import Leg, MarketDataUpdated, Quote

OptionKey = tuple[str, Right, float, dt.date]

_HISTORY = dt.timedelta(hours=1)


def option_key(symbol: str, right: Right, strike: float, expiry: dt.date) -> OptionKey:
    return (symbol, right, round(strike, 4), expiry)


def quote_price(quote: Quote) -> float | None:
    """The underlying's price: mid of a sane two-sided quote, else last, else the close."""
    if quote.bid is not None and quote.ask is not None and 0 < quote.bid <= quote.ask:
        return (quote.bid + quote.ask) / 2
    if quote.last is not None and quote.last > 0:
        return quote.last
    if quote.close is not None and quote.close > 0:
        return quote.close
    return None


class PriceHistory:
    """(time, price) samples of one underlying over the last hour and a bit."""

    def __init__(self) -> None:
        self._times: deque[dt.datetime] = deque()
        self._prices: deque[float] = deque()

    def add(self, when: dt.datetime, price: float) -> None:
        if self._times and when < self._times[-1]:
            return  # late sample: the history only moves forward
        self._times.append(when)
        self._prices.append(price)
        # keep one sample older than the window, the reference for the full-hour change
        while len(self._times) > 2 and self._times[1] <= when - _HISTORY:
            self._times.popleft()
            self._prices.popleft()

    def change(self, now: dt.datetime, window: dt.timedelta = _HISTORY) -> float:
        """Relative change of the latest price over ``window`` (from the oldest sample when the
        history is shorter); 0.0 without two samples."""
        if len(self._prices) < 2:
            return 0.0
        times = list(self._times)
        i = max(bisect.bisect_right(times, now - window) - 1, 0)
        ref = self._prices[i]
        return (self._prices[-1] - ref) / ref if ref else 0.0


class LatestQuotes:
    """The latest option quotes (by option key and by con_id), underlying prices with their
    last hour of history, and VIX."""

    def __init__(self, vix_symbol: str = "VIX") -> None:
        self.vix_symbol = vix_symbol
        self.options: dict[OptionKey, Quote] = {}
        self.by_con_id: dict[int, Quote] = {}
        self.underlyings: dict[str, float] = {}
        self.underlying_time: dict[str, dt.datetime] = {}
        self.history: dict[str, PriceHistory] = {}
        self.vix: float | None = None
        self.vix_time: dt.datetime | None = None

    def apply(self, event: MarketDataUpdated, now: dt.datetime) -> set[str]:
        """Take in one update; returns the symbols whose valuation it changes (VIX: all)."""
        when = event.market_time or now
        touched: set[str] = set()
        for quote in event.quotes:
            stamped = quote if quote.time is not None else msgspec.structs.replace(quote, time=when)
            if quote.sec_type == SecType.OPTION:
                self._apply_option(stamped)
                touched.add(quote.symbol)
                continue
            price = quote_price(quote)
            if price is None:
                continue
            at = stamped.time or when
            if quote.symbol == self.vix_symbol:
                self.vix, self.vix_time = price, at
                touched.add(quote.symbol)
                continue
            self.underlyings[quote.symbol] = price
            self.underlying_time[quote.symbol] = at
            self.history.setdefault(quote.symbol, PriceHistory()).add(at, price)
            touched.add(quote.symbol)
        return touched

    def _apply_option(self, quote: Quote) -> None:
        if quote.right is not None and quote.strike is not None and quote.expiry is not None:
            self.options[option_key(quote.symbol, quote.right, quote.strike, quote.expiry)] = quote
        if quote.con_id is not None:
            self.by_con_id[quote.con_id] = quote

    def leg_quote(self, symbol: str, leg: Leg) -> Quote | None:
        if leg.con_id is not None and (q := self.by_con_id.get(leg.con_id)) is not None:
            return q
        return self.options.get(option_key(symbol, leg.right, leg.strike, leg.expiry))

    def change_1h(self, symbol: str, now: dt.datetime) -> float:
        history = self.history.get(symbol)
        return history.change(now) if history is not None else 0.0
