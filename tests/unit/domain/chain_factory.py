"""A realistic synthetic option chain for the builder tests and the benchmark.

Weekly (Friday) expiries out to ``max_days``, strikes every ``step`` within ``span`` of the spot,
a put skew with a smile, Black-Scholes prices and Greeks, and bid/ask around the model price that
widen away from the money.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from shared.domain.chain import OptionChain
from shared.domain.optionmath import bs_greeks
from shared.enums import Right, SecType
from shared.events import Quote

TODAY = dt.date(2026, 3, 2)  # a Monday
AS_OF = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
RATE = 0.04


def fridays(today: dt.date, max_days: int) -> list[dt.date]:
    first = today + dt.timedelta(days=(4 - today.weekday()) % 7 or 7)
    return [
        first + dt.timedelta(weeks=w) for w in range((max_days - (first - today).days) // 7 + 1)
    ]


def make_quotes(
    *,
    symbol: str = "SPY",
    spot: float = 580.0,
    today: dt.date = TODAY,
    max_days: int = 90,
    step: float = 1.0,
    span: float = 0.15,
    base_iv: float = 0.18,
    skew: float = -0.25,
    smile: float = 0.6,
    half_spread: float = 0.01,
    spread_pct: float = 0.004,
    expiries: list[dt.date] | None = None,
) -> list[Quote]:
    """Quotes of every listed option; ``half_spread + spread_pct x price x (1 + 4 |ln K/S|)``."""
    expiries = fridays(today, max_days) if expiries is None else expiries
    lo = np.ceil(spot * (1 - span) / step) * step
    strikes = np.arange(lo, spot * (1 + span) + 1e-9, step)
    k, e, c = (a.ravel() for a in np.meshgrid(strikes, np.arange(len(expiries)), [1, 0]))
    t = np.array([(expiries[i] - today).days / 365.0 for i in e])
    moneyness = np.log(k / spot)
    iv = base_iv + skew * moneyness + smile * moneyness**2
    g = bs_greeks(spot, k, t, RATE, 0.0, iv, c.astype(bool))
    half = half_spread + spread_pct * g.price * (1 + 4 * np.abs(moneyness))
    bid = np.maximum(np.round(g.price - half, 2), 0.0)
    ask = np.round(g.price + half, 2)
    quotes = []
    for i in range(k.size):
        quotes.append(
            Quote(
                symbol=symbol,
                sec_type=SecType.OPTION,
                con_id=1_000_000 + i,
                right=Right.CALL if c[i] else Right.PUT,
                strike=float(k[i]),
                expiry=expiries[e[i]],
                bid=float(bid[i]),
                ask=float(ask[i]),
                iv=float(iv[i]),
                delta=float(g.delta[i]),
                gamma=float(g.gamma[i]),
                vega=float(g.vega[i]),
                theta=float(g.theta[i]),
                und_price=spot,
                model_price=float(g.price[i]),
                time=AS_OF,
            )
        )
    return quotes


def make_chain(*, symbol: str = "SPY", spot: float = 580.0, **kwargs: object) -> OptionChain:
    quotes = make_quotes(symbol=symbol, spot=spot, **kwargs)  # type: ignore[arg-type]
    return OptionChain(symbol, spot, quotes, AS_OF)
