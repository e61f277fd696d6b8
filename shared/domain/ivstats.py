"""Implied-volatility rank and percentile, the underlying's trend, and relative changes.

The sample for rank and percentile is the last ``lookback`` values of the history (default 252
trading days, one year of daily bars), non-finite values dropped, with ``current`` appended as
the newest value when it is given (today's IV, not yet a daily bar); the value ranked is the
newest one. Both are NaN for an empty sample. A flat sample (every value equal, or a single
value) is neither high nor low: rank 50, percentile 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from shared.enums import Trend

DEFAULT_LOOKBACK = 252


def _sample(history: Sequence[float], current: float | None, lookback: int) -> np.ndarray:
    if lookback < 1:
        raise ValueError(f"lookback must be at least 1, got {lookback}")
    values = np.asarray(history, dtype=np.float64)
    if current is not None:
        values = np.append(values, current)
    values = values[np.isfinite(values)]
    return values[-lookback:]


def iv_rank(
    history: Sequence[float], current: float | None = None, lookback: int = DEFAULT_LOOKBACK
) -> float:
    """Where the newest IV sits between the sample's low (0) and high (100)."""
    sample = _sample(history, current, lookback)
    if sample.size == 0:
        return math.nan
    low, high = float(sample.min()), float(sample.max())
    if high == low:
        return 50.0
    # clamp: (x - low) / (high - low) can round to 1 + 1e-16 when x is the maximum
    return min(100.0, max(0.0, 100.0 * (float(sample[-1]) - low) / (high - low)))


def iv_percentile(
    history: Sequence[float], current: float | None = None, lookback: int = DEFAULT_LOOKBACK
) -> float:
    """Share (0-1) of the earlier values in the sample below the newest; ties count half."""
    sample = _sample(history, current, lookback)
    if sample.size == 0:
        return math.nan
    newest, earlier = sample[-1], sample[:-1]
    if earlier.size == 0:
        return 0.5
    below = np.count_nonzero(earlier < newest)
    equal = np.count_nonzero(earlier == newest)
    return float((below + 0.5 * equal) / earlier.size)


def moving_average(closes: Sequence[float], days: int) -> float:
    """Simple average of the last ``days`` closes."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if len(closes) < days:
        raise ValueError(f"need {days} closes for the moving average, have {len(closes)}")
    return float(np.mean(np.asarray(closes[-days:], dtype=np.float64)))


def trend(
    closes: Sequence[float],
    ma_days: int = 20,
    band_pct: float = 0.01,
    price: float | None = None,
) -> Trend:
    """Price against its ``ma_days`` moving average: within ±``band_pct`` neutral.

    ``price`` defaults to the last close; pass the live underlying price to judge the trend
    intraday. Raises ValueError with fewer than ``ma_days`` closes.
    """
    average = moving_average(closes, ma_days)
    level = float(closes[-1]) if price is None else price
    distance = change_pct(average, level)
    if distance > band_pct:
        return Trend.BULLISH
    if distance < -band_pct:
        return Trend.BEARISH
    return Trend.NEUTRAL


def change_pct(old: float, new: float) -> float:
    """Relative change from ``old`` to ``new`` (0.10 = up 10%); NaN when ``old`` is 0 or NaN."""
    if old == 0 or not math.isfinite(old):
        return math.nan
    return (new - old) / old
