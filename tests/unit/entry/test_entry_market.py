"""Market state assembly: what an entry evaluation reads, from relayed quotes, history, chain."""

from __future__ import annotations

import datetime as dt
import math

import msgspec
import pytest
from entry_factories import T0, condor_legs

from services.entry.gateway import MarketDataUnavailable
from services.entry.market import HistoryCache, QuoteCache, assemble, quote_price
from shared.domain.chain import strikes_around
from shared.enums import Right, SecType
from shared.events import Bar, MarketDataUpdated, Quote

EXP1 = dt.date(2027, 1, 8)


def _und(symbol: str, bid: float | None, ask: float | None, **kw) -> Quote:
    return Quote(symbol=symbol, sec_type=SecType.STOCK, bid=bid, ask=ask, **kw)


def _opt(expiry: dt.date, right: Right, strike: float, iv: float) -> Quote:
    return Quote(
        symbol="SPY",
        sec_type=SecType.OPTION,
        expiry=expiry,
        right=right,
        strike=strike,
        bid=1.0,
        ask=1.1,
        iv=iv,
    )


def _bars(values: list[float], last: dt.date) -> list[Bar]:
    n = len(values)
    return [Bar(last - dt.timedelta(days=n - 1 - i), v, v, v, v) for i, v in enumerate(values)]


def test_quote_price_prefers_a_sane_mid_then_last_then_close():
    assert quote_price(_und("SPY", 579.0, 581.0)) == 580.0
    assert quote_price(_und("SPY", 582.0, 581.0, last=580.5)) == 580.5  # crossed
    assert quote_price(_und("SPY", None, None, close=579.0)) == 579.0
    assert quote_price(_und("SPY", None, None)) is None


def test_quote_cache_keeps_the_latest_underlying_vix_and_option_quotes():
    cache = QuoteCache("VIX")
    cache.on_market_data(MarketDataUpdated(symbol="SPY", quotes=[_und("SPY", 579.0, 581.0)]))
    cache.on_market_data(MarketDataUpdated(symbol="SPY", quotes=[_und("SPY", 589.0, 591.0)]))
    vix = Quote(symbol="VIX", sec_type=SecType.INDEX, last=21.5)
    cache.on_market_data(MarketDataUpdated(symbol="VIX", quotes=[vix]))
    option = _opt(EXP1, Right.PUT, 580.0, 0.2)
    cache.on_market_data(MarketDataUpdated(symbol="SPY", quotes=[option]))
    assert cache.price("SPY") == 590.0
    assert cache.vix() == 21.5
    leg = condor_legs(EXP1)[0]
    assert cache.leg("SPY", leg) is None
    assert cache.leg("SPY", msgspec.structs.replace(leg, strike=580.0)) == option


def test_history_cache_serves_one_trading_day_only():
    cache = HistoryCache()
    day = dt.date(2026, 11, 24)
    bars = _bars([0.2], day)
    cache.put("SPY", "TRADES", day, bars)
    assert cache.get("SPY", "TRADES", day) == bars
    assert cache.get("SPY", "TRADES", day + dt.timedelta(days=1)) is None
    assert cache.get("QQQ", "TRADES", day) is None


def test_assemble_uses_live_price_and_vix_and_drops_todays_partial_bar():
    quotes = QuoteCache()
    quotes.on_market_data(MarketDataUpdated(symbol="SPY", quotes=[_und("SPY", 579.0, 581.0)]))
    vix = Quote(symbol="VIX", sec_type=SecType.INDEX, last=19.0)
    quotes.on_market_data(MarketDataUpdated(symbol="VIX", quotes=[vix]))
    today = T0.date()
    state = assemble(
        "SPY",
        T0,
        quotes,
        iv_bars=_bars([0.15, 0.18], today),
        price_bars=_bars([590.0, 595.0, 598.0], today),
    )
    assert state.underlying_price == 580.0
    assert state.vix == 19.0
    assert state.closes == [590.0, 595.0]
    assert state.iv_history == [0.15, 0.18]
    assert state.now == T0


def test_assemble_falls_back_to_the_last_close_and_leaves_a_missing_vix_nan():
    yesterday = T0.date() - dt.timedelta(days=1)
    state = assemble("SPY", T0, QuoteCache(), _bars([0.15], yesterday), _bars([590.0], yesterday))
    assert state.underlying_price == 590.0
    assert state.closes == [590.0]
    assert math.isnan(state.vix)


def test_assemble_without_any_price_says_market_data_is_unavailable():
    with pytest.raises(MarketDataUnavailable) as raised:
        assemble("SPY", T0, QuoteCache(), [], [])
    assert "SPY" in str(raised.value)


def test_chain_reaches_past_the_condor_short_strikes_and_their_wings():
    # SPY 580 at 15% IV over 60 days: 1.5 SD is ~53 points, plus a 5-point wing, plus 2
    assert strikes_around(580.0, 0.15, 60, 5.0) == 60
    assert strikes_around(580.0, 0.15, 60, 5.0, spacing=5.0) == 14
    assert strikes_around(580.0, 3.0, 60, 5.0) == 100  # capped
