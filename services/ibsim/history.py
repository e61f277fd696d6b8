"""A year (and more) of seeded daily history per underlying, ending on the live market's start.

The last bar's close is the live start price and the last implied-volatility bar is the live
30-day ATM IV, so IV rank, IV percentile and moving averages computed from history line up with
the first live ticks. The IV path drifts lower through the year and climbs back over the last
weeks, which leaves the current IV high in its 52-week range (IV rank well above 50): the demo
then sells premium. A scenario's ``shock_iv`` moves the live IV and so the rank.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.ibsim.instruments import xnys

HISTORY_SESSIONS = 300  # more than "1 Y" (≈ 252) so every duration up to a year is full
HV_WINDOW = 20
REALIZED_TO_IMPLIED = 0.85
WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "OPTION_IMPLIED_VOLATILITY", "HISTORICAL_VOLATILITY")
_DURATION = re.compile(r"^\s*(\d+)\s*([SDWMY])\s*$", re.IGNORECASE)
_DURATION_DAYS = {"S": 1 / 86400, "D": 1, "W": 7, "M": 31, "Y": 366}


class HistoryRequestError(ValueError):
    """A request the simulator cannot serve (IB answers these with error 162/321)."""


@dataclass(frozen=True, slots=True)
class DailyBar:
    date: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: int
    wap: float
    bar_count: int


@dataclass(frozen=True)
class SymbolHistory:
    dates: list[dt.date]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    iv: np.ndarray
    hv: np.ndarray

    def bars(self, what: str) -> list[DailyBar]:
        if what in ("TRADES", "MIDPOINT"):
            o, h, lo, c = self.open, self.high, self.low, self.close
            vol = self.volume if what == "TRADES" else np.full(len(c), -1)
        elif what == "OPTION_IMPLIED_VOLATILITY":
            o = h = lo = c = self.iv
            vol = np.zeros(len(c), dtype=np.int64)
        elif what == "HISTORICAL_VOLATILITY":
            o = h = lo = c = self.hv
            vol = np.zeros(len(c), dtype=np.int64)
        else:
            raise HistoryRequestError(f"whatToShow {what} is not available")
        return [
            DailyBar(
                date=d,
                open=round(float(o[i]), 6),
                high=round(float(h[i]), 6),
                low=round(float(lo[i]), 6),
                close=round(float(c[i]), 6),
                volume=int(vol[i]),
                wap=round(float((h[i] + lo[i] + c[i]) / 3), 6),
                bar_count=int(max(vol[i] // 100, 0)),
            )
            for i, d in enumerate(self.dates)
        ]


def _rng(seed: int, symbol: str) -> np.random.Generator:
    # crc32, not hash(): hash() is salted per process and would break reproducibility
    return np.random.default_rng([seed, zlib.crc32(symbol.encode())])


def iv_path(rng: np.random.Generator, current_iv: float, n: int) -> np.ndarray:
    """IV that drifts from ~1.15x to ~0.7x the current level, then climbs back to it."""
    t = np.linspace(0.0, 1.0, n)
    rebound_at = 1.0 - 15 / n
    trend = np.where(
        t < rebound_at,
        np.log(1.15) + (np.log(0.7) - np.log(1.15)) * t / rebound_at,
        np.log(0.7) * (1.0 - (t - rebound_at) / (1.0 - rebound_at)),
    )
    noise = np.zeros(n)
    shocks = rng.normal(0.0, 0.015, n)
    for i in range(1, n):
        noise[i] = 0.9 * noise[i - 1] + shocks[i]
    return current_iv * np.exp(trend + noise - noise[-1])


def build_history(
    symbol: str, seed: int, last_session: dt.date, close: float, current_iv: float
) -> SymbolHistory:
    """Daily bars for the ``HISTORY_SESSIONS`` sessions ending on ``last_session``."""
    rng = _rng(seed, symbol)
    n = HISTORY_SESSIONS
    sessions = xnys().sessions_window(pd.Timestamp(last_session), -(n + HV_WINDOW))
    dates = [s.date() for s in sessions]
    iv = iv_path(rng, current_iv, n + HV_WINDOW)
    daily_vol = iv * REALIZED_TO_IMPLIED / np.sqrt(252)
    returns = rng.normal(0.0, 1.0, n + HV_WINDOW) * daily_vol
    returns[0] = 0.0
    # walk backwards from today's close so the series ends exactly on the live start price
    log_close = np.log(close) - (np.cumsum(returns[::-1])[::-1] - returns)
    closes = np.exp(log_close)
    prev = np.concatenate([[closes[0]], closes[:-1]])
    opens = prev * np.exp(rng.normal(0.0, 0.25, len(closes)) * daily_vol)
    spread = np.abs(rng.normal(0.0, 0.6, len(closes))) * daily_vol
    highs = np.maximum(opens, closes) * np.exp(spread)
    lows = np.minimum(opens, closes) * np.exp(-spread * rng.uniform(0.5, 1.5, len(closes)))
    volume = (rng.lognormal(17.5, 0.3, len(closes))).astype(np.int64)
    log_ret = np.diff(np.log(closes), prepend=np.log(closes[0]))
    windows = np.lib.stride_tricks.sliding_window_view(log_ret, HV_WINDOW)
    hv = np.concatenate([np.full(HV_WINDOW - 1, np.nan), windows.std(axis=1, ddof=1)])
    hv *= np.sqrt(252)
    keep = slice(HV_WINDOW, None)
    return SymbolHistory(
        dates=dates[keep],
        open=np.round(opens[keep], 2),
        high=np.round(highs[keep], 2),
        low=np.round(lows[keep], 2),
        close=np.round(closes[keep], 2),
        volume=volume[keep],
        iv=iv[keep],
        hv=hv[keep],
    )


def duration_days(duration: str) -> float:
    """Calendar days covered by an IB duration string (``"1 Y"``, ``"30 D"``, ``"6 M"``)."""
    match = _DURATION.match(duration)
    if not match:
        raise HistoryRequestError(f"invalid duration {duration!r}")
    count, unit = int(match.group(1)), match.group(2).upper()
    return count * _DURATION_DAYS[unit]


def select_bars(history: SymbolHistory, what: str, duration: str, end: dt.date) -> list[DailyBar]:
    """The bars of ``what`` for the duration ending on ``end`` (inclusive)."""
    first = end - dt.timedelta(days=duration_days(duration))
    return [b for b in history.bars(what) if first < b.date <= end]
