"""IV rank and percentile of an underlying from a year of daily implied-vol closes.

The history comes from execution (``v6.rpc.history`` what=OPTION_IMPLIED_VOLATILITY) once per
trading day per symbol; a failed request is retried after ``retry_after``, not on every update.
IB's implied-volatility bars are annualized decimals (0.18), like the legs' model IV.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Awaitable, Callable

import numpy as np

from shared.domain.calendar import trading_date
from shared.domain.ivstats import DEFAULT_LOOKBACK, iv_percentile, iv_rank
from shared.events import Bar

log = logging.getLogger(__name__)

NEUTRAL = (50.0, 0.5)  # IV rank, IV percentile when unknown

FetchHistory = Callable[[str], Awaitable[list[Bar]]]


class IVHistory:
    """Closes per symbol for the current trading day, loaded in the background.

    Valuation never waits for a history request. Until it answers (or when the IV is unknown)
    rank and percentile are neutral, 50 and 0.5 (ivstats' "neither high nor low"): a NaN would
    make a "percentile below 0.30" test fire, since every comparison with NaN is False.
    """

    def __init__(
        self,
        fetch: FetchHistory | None,
        lookback: int = DEFAULT_LOOKBACK,
        retry_after: dt.timedelta = dt.timedelta(minutes=10),
    ) -> None:
        self._fetch = fetch
        self._lookback = lookback
        self._retry_after = retry_after
        self._closes: dict[str, tuple[dt.date, np.ndarray]] = {}
        self._asked_at: dict[str, dt.datetime] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, symbols: set[str], now: dt.datetime) -> None:
        """Start fetching each symbol not loaded for ``now``'s trading day nor asked recently."""
        if self._fetch is None:
            return
        day = trading_date(now)
        for symbol in symbols:
            cached = self._closes.get(symbol)
            if cached is not None and cached[0] == day:
                continue
            asked = self._asked_at.get(symbol)
            if asked is not None and now - asked < self._retry_after:
                continue
            self._asked_at[symbol] = now
            task = asyncio.create_task(self._load(symbol, day))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _load(self, symbol: str, day: dt.date) -> None:
        assert self._fetch is not None
        try:
            bars = await self._fetch(symbol)
        except Exception as exc:  # any failure only leaves the rank unknown until a retry
            log.warning("iv history unavailable", extra={"symbol": symbol, "error": str(exc)})
            return
        closes = np.array([b.close for b in bars if b.close > 0], dtype=np.float64)
        self._closes[symbol] = (day, closes)

    async def settle(self) -> None:
        """Wait for the requests in flight (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def stats(self, symbol: str, iv: float) -> tuple[float, float]:
        cached = self._closes.get(symbol)
        if cached is None:
            return NEUTRAL
        if not math.isfinite(iv):
            return NEUTRAL
        closes = cached[1]
        return iv_rank(closes, iv, self._lookback), iv_percentile(closes, iv, self._lookback)
