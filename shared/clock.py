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

    def observe(self, market_time: dt.datetime | None) -> None:
        """Told the market time of every event received; only a market clock follows it."""


class WallClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def observe(self, market_time: dt.datetime | None) -> None:
        pass

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FixedClock:
    """A clock that moves only when told to: for pure domain tests."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start

    def now(self) -> dt.datetime:
        return self._now

    def observe(self, market_time: dt.datetime | None) -> None:
        pass  # moves only when a test says so

    def set(self, when: dt.datetime) -> None:
        self._now = when

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


class MarketClock:
    """Market time followed from observed event times, extrapolated between observations.

    ``speed`` is market seconds per wall second: 1 against a real gateway, the simulator's
    configured ``time_speed`` against it. It is given, not estimated, because the market's time
    also jumps (a simulator told to advance days, a weekend): an estimate taken across a jump
    would send the clock racing. Each observation re-anchors the clock, so a jump is followed at
    once; ``now()`` never goes backwards, so an observation older than what was already reported
    (a late event, extrapolation past a paused market) holds the clock until time catches up.
    Until a first observation arrives, it behaves as the wall clock.
    """

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._anchor_market: dt.datetime | None = None
        self._anchor_wall = 0.0
        self._reported: dt.datetime | None = None

    def observe(self, market_time: dt.datetime | None) -> None:
        if market_time is None:
            return
        if self._anchor_market is not None and market_time <= self._anchor_market:
            return  # an older or repeated stamp says nothing new
        self._anchor_market = market_time
        self._anchor_wall = time.monotonic()

    def now(self) -> dt.datetime:
        if self._anchor_market is None:
            return dt.datetime.now(dt.UTC)
        elapsed = (time.monotonic() - self._anchor_wall) * self.speed
        current = self._anchor_market + dt.timedelta(seconds=elapsed)
        if self._reported is not None and current < self._reported:
            return self._reported
        self._reported = current
        return current

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds / self.speed, 0.0))
