"""IV rank and percentile of an underlying from a year of daily implied-vol closes.

The history comes from execution (``v6.rpc.history`` what=OPTION_IMPLIED_VOLATILITY) once per
trading day per symbol; a failed request is retried after ``retry_after``, not on every update.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Awaitable, Callable

import numpy as np

from shared.events import Bar

log = logging.getLogger(__name__)

FetchHistory = Callable[[str], Awaitable[list[Bar]]]


def rank_and_percentile(closes: np.ndarray, iv: float) -> tuple[float, float]:
    """(IV rank 0-100, IV percentile 0-1) of ``iv`` against ``closes``; NaN when unknowable."""
    if closes.size < 2 or not math.isfinite(iv):
        return math.nan, math.nan
    lo, hi = float(closes.min()), float(closes.max())
    rank = 50.0 if hi == lo else min(max((iv - lo) / (hi - lo) * 100.0, 0.0), 100.0)
    return rank, float(np.mean(closes < iv))


class IVHistory:
    def __init__(
        self, fetch: FetchHistory | None, retry_after: dt.timedelta = dt.timedelta(minutes=10)
    ) -> None:
        self._fetch = fetch
        self._retry_after = retry_after
        self._closes: dict[str, tuple[dt.date, np.ndarray]] = {}
        self._failed_at: dict[str, dt.datetime] = {}

    async def ensure(self, symbols: set[str], now: dt.datetime) -> None:
        """Fetch the history of each symbol not yet loaded for ``now``'s trading day."""
        if self._fetch is None:
            return
        day = now.date()
        for symbol in symbols:
            cached = self._closes.get(symbol)
            if cached is not None and cached[0] == day:
                continue
            failed = self._failed_at.get(symbol)
            if failed is not None and now - failed < self._retry_after:
                continue
            try:
                bars = await self._fetch(symbol)
            except Exception as exc:  # any failure only leaves the rank unknown
                self._failed_at[symbol] = now
                log.warning("iv history unavailable", extra={"symbol": symbol, "error": str(exc)})
                continue
            closes = np.array([b.close for b in bars if b.close > 0], dtype=np.float64)
            self._closes[symbol] = (day, closes)
            self._failed_at.pop(symbol, None)

    def stats(self, symbol: str, iv: float) -> tuple[float, float]:
        cached = self._closes.get(symbol)
        if cached is None:
            return math.nan, math.nan
        return rank_and_percentile(cached[1], iv)
