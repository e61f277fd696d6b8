"""The synthetic market: seeded GBM underlyings, VIX, an IV surface tied to VIX, option quotes.

Time is discrete and reproducible: every ``step()`` moves simulated time by
``tick_interval_s * time_speed`` seconds and draws one set of random numbers, so the same seed
and the same sequence of calls give the same prices whatever the wall clock does. ``advance``
jumps time in one draw (for DTE rules and expiries in seconds of wall time). Prices tick around
the clock; every session open crossed adds a seeded overnight gap (``open_gap_pct``).

The IV surface: the 30-day at-the-money IV of an underlying is ``VIX/100 x beta`` (times any
shock); the term structure is in contango when VIX is below 20 and inverted above it; the skew
makes puts richer (IV rises as the strike falls, with a smile in the far wings). Option prices
and Greeks come from ``shared.domain.optionmath.bs_greeks``; the spread widens with the
distance from the money and with the option's price.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from services.ibsim import hours
from services.ibsim.instruments import (
    NEW_YORK,
    OPTION_CON_ID_BASE,
    Chain,
    Instrument,
    build_chain,
    stock,
    vix_index,
)
from shared.config import SimConfig
from shared.domain.optionmath import bs_greeks

RATE = 0.045
SECONDS_PER_YEAR = 365.0 * 24 * 3600
IV_BETA = {"SPY": 0.85, "QQQ": 1.15, "IWM": 1.3}
VIX_LONG_RUN = 18.0
VIX_MEAN_REVERSION = 5.0  # per year
VIX_VOL_OF_VOL = 0.9
VIX_SPOT_CORRELATION = -0.7
STOCK_SIZE = 500
OPTION_SIZE = 50
CHAIN_SPACING = 1_000_000  # conIds reserved per underlying's chain


def round_tick(price: float) -> float:
    return round(price, 2)


@dataclass(slots=True)
class Underlying:
    instrument: Instrument
    price: float
    prev_close: float
    iv_shock: float = 1.0  # multiplies the whole surface
    chain: Chain | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    """A top-of-book quote; options also carry their model values."""

    bid: float
    ask: float
    last: float
    close: float
    bid_size: int
    ask_size: int
    iv: float = math.nan
    delta: float = math.nan
    gamma: float = math.nan
    vega: float = math.nan
    theta: float = math.nan
    model: float = math.nan
    und_price: float = math.nan


@dataclass(slots=True)
class ChainQuotes:
    """Vectorized quotes for a whole chain at one market version."""

    version: int
    bid: np.ndarray
    ask: np.ndarray
    model: np.ndarray
    iv: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    close: np.ndarray = field(default_factory=lambda: np.empty(0))


class Market:
    """All prices of the simulated market, moved by ``step``/``advance`` and the control verbs."""

    def __init__(self, config: SimConfig, start: dt.datetime) -> None:
        self._config = config
        self._rng = np.random.default_rng(config.seed)
        self.now = start.astimezone(dt.UTC)
        self.vix = config.vix
        self.paused = False
        self.version = 0
        self._listeners: list[Callable[[], None]] = []
        self.underlyings: dict[str, Underlying] = {}
        self.instruments: dict[int, Instrument] = {}
        self.vix_instrument = vix_index()
        self.instruments[self.vix_instrument.con_id] = self.vix_instrument
        self._vix_close = config.vix
        self._chain_quotes: dict[str, ChainQuotes] = {}
        today = self.now.astimezone(NEW_YORK).date()
        for n, (symbol, price) in enumerate(config.symbols.items()):
            und = Underlying(stock(symbol), price, price)
            und.chain = build_chain(
                symbol,
                price,
                today,
                OPTION_CON_ID_BASE + n * CHAIN_SPACING,
                config.expiry_rules.get(symbol, "weekly"),
            )
            self.underlyings[symbol] = und
            self.instruments[und.instrument.con_id] = und.instrument
            for contract in und.chain.contracts:
                self.instruments[contract.con_id] = contract
        self._symbols = list(self.underlyings)

    # -- listeners -------------------------------------------------------------------------

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every change of prices or time."""
        self._listeners.append(callback)

    def _changed(self) -> None:
        self.version += 1
        for callback in self._listeners:
            callback()

    # -- time and random walk --------------------------------------------------------------

    @property
    def step_seconds(self) -> float:
        return self._config.tick_interval_s * self._config.time_speed

    def step(self, seconds: float | None = None) -> None:
        """One tick: move time and prices by ``seconds`` (default ``step_seconds``; nothing
        while paused)."""
        if self.paused:
            return
        self._evolve(self.step_seconds if seconds is None else seconds)
        self._changed()

    def advance(self, seconds: float | dt.timedelta) -> None:
        """Jump simulated time forward, moving prices with one draw for the whole interval."""
        if isinstance(seconds, dt.timedelta):
            seconds = seconds.total_seconds()
        if seconds <= 0:
            return
        self._evolve(seconds)
        self._changed()

    def _evolve(self, seconds: float) -> None:
        dt_years = seconds / SECONDS_PER_YEAR
        gaps = hours.opens_between(self.now, self.now + dt.timedelta(seconds=seconds))
        if gaps and self._config.open_gap_pct > 0:
            # news between two sessions lands at the open: one extra draw per open crossed
            size = self._config.open_gap_pct * math.sqrt(gaps)
            for symbol, z in zip(
                self._symbols, self._rng.standard_normal(len(self._symbols)), strict=True
            ):
                self.underlyings[symbol].price *= math.exp(size * z)
        shocks = self._rng.standard_normal(len(self._symbols) + 1)
        vol = self._config.annual_vol
        drift = (self._config.annual_drift - 0.5 * vol * vol) * dt_years
        spy_shock = shocks[0]
        for symbol, z in zip(self._symbols, shocks[:-1], strict=True):
            und = self.underlyings[symbol]
            und.price = und.price * math.exp(drift + vol * math.sqrt(dt_years) * z)
        # VIX mean-reverts in log space and moves against the first underlying
        z_vix = (
            VIX_SPOT_CORRELATION * spy_shock + math.sqrt(1 - VIX_SPOT_CORRELATION**2) * (shocks[-1])
        )
        log_vix = math.log(self.vix)
        log_vix += VIX_MEAN_REVERSION * (math.log(VIX_LONG_RUN) - log_vix) * dt_years
        log_vix += VIX_VOL_OF_VOL * math.sqrt(dt_years) * z_vix
        self.vix = min(max(math.exp(log_vix), 9.0), 90.0)
        self.now += dt.timedelta(seconds=seconds)

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    # -- control verbs ---------------------------------------------------------------------

    def set_price(self, symbol: str, price: float) -> None:
        self._underlying(symbol).price = float(price)
        self._changed()

    def jump(self, symbol: str, pct: float) -> None:
        """Move an underlying by ``pct`` (0.03 = +3 %)."""
        und = self._underlying(symbol)
        und.price *= 1.0 + pct
        self._changed()

    def shock_iv(self, pct: float, symbol: str | None = None) -> None:
        """Scale the IV surface by ``1 + pct`` (all underlyings unless one is named)."""
        targets = [self._underlying(symbol)] if symbol else self.underlyings.values()
        for und in targets:
            und.iv_shock *= 1.0 + pct
        self._changed()

    def set_vix(self, value: float) -> None:
        self.vix = float(value)
        self._changed()

    def _underlying(self, symbol: str) -> Underlying:
        try:
            return self.underlyings[symbol.upper()]
        except KeyError:
            raise KeyError(f"unknown underlying {symbol}") from None

    # -- IV surface and quotes -------------------------------------------------------------

    def atm_iv(self, symbol: str, years: np.ndarray | float) -> np.ndarray:
        """At-the-money IV for a time to expiry: VIX-tied level, VIX-dependent term slope."""
        und = self._underlying(symbol)
        level = self.vix / 100.0 * IV_BETA.get(symbol, 1.0) * und.iv_shock
        slope = 0.12 * (20.0 - self.vix) / 20.0
        t = np.maximum(np.asarray(years, dtype=np.float64), 1.0 / 365)
        term = 1.0 + slope * np.log(t / (30.0 / 365)) / math.log(12.0)
        return np.clip(level * term, 0.03, 3.0)

    def surface_iv(
        self, symbol: str, strike: np.ndarray, years: np.ndarray, spot: float
    ) -> np.ndarray:
        atm = self.atm_iv(symbol, years)
        sd = atm * np.sqrt(np.maximum(years, 1.0 / 365))
        k = np.log(strike / spot) / sd  # moneyness in standard deviations
        k = np.clip(k, -6.0, 6.0)
        return atm * np.clip(1.0 - 0.12 * k + 0.025 * k * k, 0.5, 3.0)

    def snapshot_atm_iv(self) -> dict[str, float]:
        """Each underlying's 30-day ATM IV now (the value the IV history ends on)."""
        return {s: float(self.atm_iv(s, 30.0 / 365)) for s in self.underlyings}

    def chain_quotes(self, symbol: str) -> ChainQuotes:
        """The whole chain's quotes, recomputed (vectorized) at most once per market version."""
        cached = self._chain_quotes.get(symbol)
        if cached is not None and cached.version == self.version:
            return cached
        und = self._underlying(symbol)
        chain = und.chain
        assert chain is not None
        years = np.maximum(chain.expiry_close_ts - self.now.timestamp(), 0.0) / SECONDS_PER_YEAR
        iv = self.surface_iv(symbol, chain.strike, years, und.price)
        g = bs_greeks(und.price, chain.strike, years, RATE, 0.0, iv, chain.is_call)
        moneyness = np.abs(np.log(chain.strike / und.price)) / np.maximum(
            iv * np.sqrt(np.maximum(years, 1.0 / 365)), 1e-6
        )
        spread = 0.02 + 0.006 * g.price + 0.02 * moneyness**1.5
        half = np.minimum(spread, np.maximum(g.price, 0.01)) / 2
        bid = np.maximum(np.floor((g.price - half) * 100 + 1e-9) / 100, 0.0)
        ask = np.maximum(np.ceil((g.price + half) * 100 - 1e-9) / 100, bid + 0.01)
        quotes = ChainQuotes(
            version=self.version,
            bid=bid,
            ask=ask,
            model=g.price,
            iv=iv,
            delta=g.delta,
            gamma=g.gamma,
            vega=g.vega,
            theta=g.theta,
            close=cached.close if cached is not None else np.round(g.price, 2),
        )
        self._chain_quotes[symbol] = quotes
        return quotes

    def quote(self, instrument: Instrument) -> Quote:
        """The current quote of a stock, the VIX index or an option."""
        if instrument.sec_type == "IND":
            v = round_tick(self.vix)
            return Quote(
                bid=math.nan, ask=math.nan, last=v, close=self._vix_close, bid_size=0, ask_size=0
            )
        if instrument.sec_type == "STK":
            und = self._underlying(instrument.symbol)
            bid = math.floor(und.price * 100) / 100
            return Quote(
                bid=bid,
                ask=round_tick(bid + 0.01),
                last=round_tick(und.price),
                close=und.prev_close,
                bid_size=STOCK_SIZE,
                ask_size=STOCK_SIZE,
            )
        und = self._underlying(instrument.symbol)
        assert und.chain is not None
        q = self.chain_quotes(instrument.symbol)
        i = und.chain.index_of(instrument.con_id)
        bid, ask = float(q.bid[i]), float(q.ask[i])
        return Quote(
            bid=bid,
            ask=ask,
            last=round_tick((bid + ask) / 2),
            close=float(q.close[i]),
            bid_size=OPTION_SIZE,
            ask_size=OPTION_SIZE,
            iv=float(q.iv[i]),
            delta=float(q.delta[i]),
            gamma=float(q.gamma[i]),
            vega=float(q.vega[i]),
            theta=float(q.theta[i]),
            model=float(q.model[i]),
            und_price=und.price,
        )

    def price_of(self, instrument: Instrument) -> float:
        """A mark for valuation: the mid of the quote (the last for the index)."""
        q = self.quote(instrument)
        return q.last if math.isnan(q.bid) else (q.bid + q.ask) / 2

    def underlying_price(self, symbol: str) -> float:
        return self._underlying(symbol).price

    def state(self) -> dict[str, object]:
        """A JSON-friendly summary, for the control channel's ``state`` verb."""
        return {
            "time": self.now.isoformat(),
            "paused": self.paused,
            "vix": round(self.vix, 4),
            "prices": {s: round(u.price, 4) for s, u in self.underlyings.items()},
            "iv_shock": {s: u.iv_shock for s, u in self.underlyings.items()},
            "atm_iv_30d": self.snapshot_atm_iv(),
        }
