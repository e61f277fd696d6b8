"""One clock for every service (architecture.md, "Time").

Live, "now" is the wall clock. Against the simulator, "now" is the market's time: the simulator
may run accelerated, execution stamps its events with the gateway's time, and every other service
follows the latest market time it has seen (``MarketClock.observe``). Timers ("every 30 s") are
in that time: ``sleep(30)`` waits 30 market seconds, which is shorter in wall time when the
market runs fast.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class WallClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FixedClock:
    """A clock that moves only when told to: for pure domain tests."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start

    def now(self) -> dt.datetime:
        return self._now

    def set(self, when: dt.datetime) -> None:
        self._now = when

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


class MarketClock:
    """Market time followed from observed event times, extrapolated between observations.

    The speed (market seconds per wall second) is estimated from the two most distant recent
    observations, so an accelerated simulator shortens timers in wall time. Until a first
    observation arrives, it behaves as the wall clock.
    """

    _MIN_SPAN_WALL_S = 0.5

    def __init__(self, speed: float = 1.0, max_speed: float = 10_000.0) -> None:
        self._anchor_market: dt.datetime | None = None
        self._anchor_wall = 0.0
        self._first: tuple[dt.datetime, float] | None = None
        self.speed = speed
        self._max_speed = max_speed

    def observe(self, market_time: dt.datetime | None) -> None:
        if market_time is None:
            return
        wall = time.monotonic()
        if self._anchor_market is not None and market_time <= self.now():
            return  # time never runs backwards; late events do not pull it back
        if self._first is None:
            self._first = (market_time, wall)
        else:
            m0, w0 = self._first
            span = wall - w0
            if span >= self._MIN_SPAN_WALL_S:
                measured = (market_time - m0).total_seconds() / span
                self.speed = min(max(measured, 1e-3), self._max_speed)
                if span > 60:  # forget old history so a change of speed is picked up
                    self._first = (market_time, wall)
        self._anchor_market = market_time
        self._anchor_wall = wall

    def now(self) -> dt.datetime:
        if self._anchor_market is None:
            return dt.datetime.now(dt.UTC)
        elapsed = (time.monotonic() - self._anchor_wall) * self.speed
        return self._anchor_market + dt.timedelta(seconds=elapsed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds / max(self.speed, 1e-3), 0.0))
