"""Market data relay: quotes onto ``md.<SYMBOL>`` (conflated), chain and history on request.

Subscribes the universe underlyings and VIX, and every leg of every order and open strategy;
each ticker update replaces the pending quote of its instrument, and a flush loop publishes one
``MarketDataUpdated`` per symbol at most ``ib.market_data_max_rate_hz`` times a second. Option
chains are answered with snapshot quotes (no standing lines), and daily history is cached per
trading day.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

from services.execution.conflate import Conflator
from services.execution.ib_client import IBClient
from shared.config import UniverseConfig
from shared.events import (
    Bar,
    ChainProvided,
    ChainRequested,
    Event,
    HistoryProvided,
    HistoryRequested,
    Leg,
    MarketDataUpdated,
    Quote,
)

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[object]]
SPOT_WAIT_S = 2.0


class MarketDataRelay:
    def __init__(
        self,
        client: IBClient,
        universe: UniverseConfig,
        publish: Publish,
        max_rate_hz: float = 4.0,
    ) -> None:
        self.client = client
        self.universe = universe
        self.publish = publish
        self.quotes: dict[int, Quote] = {}
        self._conflator: Conflator[int, Quote] = Conflator(max_rate_hz)
        self._underlying_ids: dict[str, int] = {}
        self._secdef_cache: dict[tuple[str, dt.date], tuple[list[dt.date], list[float]]] = {}
        self._history_cache: dict[tuple[str, str, str, dt.date], list[Bar]] = {}
        self._flush_task: asyncio.Task[None] | None = None
        self._due = asyncio.Event()  # a symbol became due: flush now, not at the next tick
        client.on_quotes(self._on_quotes)

    # --- subscriptions ----------------------------------------------------------------

    async def start(self) -> None:
        self._flush_task = asyncio.create_task(self._flush_loop(), name="md-flush")

    async def stop(self) -> None:
        if self._flush_task is not None:
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task

    async def resubscribe(self) -> None:
        """After a connect: the universe, VIX and every instrument subscribed before."""
        symbols = [*self.universe.symbols, self.universe.vix_symbol]
        ids = await self.client.qualify_underlyings(symbols, self.universe.vix_symbol)
        for symbol in symbols:
            if symbol in ids:
                self._underlying_ids[symbol] = ids[symbol]
                self.client.stream_underlying(ids[symbol])
        self.client.resume_streams()

    async def qualify(self, symbol: str, legs: list[Leg]) -> list[Leg]:
        """The legs with their IB contract ids (asked of IB for those without one)."""
        return await self.client.qualify_legs(symbol, legs)

    async def track(self, symbol: str, legs: list[Leg]) -> None:
        """Keep quotes of ``legs`` flowing (the legs of an order or an open strategy)."""
        for leg in legs:
            if leg.con_id is not None:
                self.client.stream_leg(symbol, leg)

    async def wait_quotes(self, legs: list[Leg], timeout_s: float) -> None:
        await self._wait_ids([leg.con_id for leg in legs], timeout_s)

    async def _wait_ids(self, con_ids: list[int | None], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(c in self.quotes for c in con_ids):
                return
            await asyncio.sleep(0.02)

    # --- relay ------------------------------------------------------------------------

    def _on_quotes(self, quotes: list[Quote]) -> None:
        for quote in quotes:
            assert quote.con_id is not None
            self.quotes[quote.con_id] = quote
            self._conflator.put(quote.symbol, quote.con_id, quote)
            if self._conflator.is_due(quote.symbol, time.monotonic()):
                self._due.set()

    async def _flush_loop(self) -> None:
        interval = self._conflator.min_interval_s
        while True:
            # leading edge: the first tick after a quiet spell goes out at once; the rest of a
            # burst waits for its symbol's interval (checked at half-interval ticks)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), interval / 2)
            self._due.clear()
            for symbol, quotes in self._conflator.due(time.monotonic()).items():
                try:
                    await self.publish(
                        MarketDataUpdated(
                            market_time=self.client.now(), symbol=symbol, quotes=quotes
                        )
                    )
                except Exception:
                    log.exception("market data publish failed", extra={"symbol": symbol})

    # --- request/reply ----------------------------------------------------------------

    async def on_chain_requested(self, req: ChainRequested) -> ChainProvided:
        today = self.client.now().date()
        try:
            spot = await self._spot(req.symbol)
            expiries, strikes = await self._secdef(req.symbol, today)
            window = [e for e in expiries if req.min_dte <= (e - today).days <= req.max_dte]
            near = sorted(strikes, key=lambda k: abs(k - spot))[: req.strikes_around * 2]
            near.sort()
            quotes = await self.client.chain_quotes(req.symbol, window, near)
        except Exception as exc:
            log.exception("chain request failed", extra={"symbol": req.symbol})
            return ChainProvided(
                correlation_id=req.event_id,
                market_time=self.client.now(),
                symbol=req.symbol,
                underlying_price=0.0,
                expiries=[],
                strikes=[],
                quotes=[],
                error=f"{type(exc).__name__}: {exc}",
            )
        return ChainProvided(
            correlation_id=req.event_id,
            market_time=self.client.now(),
            symbol=req.symbol,
            underlying_price=spot,
            expiries=window,
            strikes=near,
            quotes=quotes,
        )

    async def _spot(self, symbol: str) -> float:
        con_id = self._underlying_ids.get(symbol)
        if con_id is not None and con_id not in self.quotes:
            # just (re)subscribed: the first ticks are on their way
            await self._wait_ids([con_id], SPOT_WAIT_S)
        quote = self.quotes.get(con_id) if con_id else None
        if quote is not None:
            for value in (quote.last, quote.close):
                if value:
                    return value
            if quote.bid and quote.ask:
                return (quote.bid + quote.ask) / 2
        raise LookupError(f"no price for {symbol} yet")

    async def _secdef(self, symbol: str, today: dt.date) -> tuple[list[dt.date], list[float]]:
        key = (symbol, today)
        if key not in self._secdef_cache:
            con_id = self._underlying_ids.get(symbol, 0)
            self._secdef_cache[key] = await self.client.option_params(symbol, con_id)
        return self._secdef_cache[key]

    async def on_history_requested(self, req: HistoryRequested) -> HistoryProvided:
        today = self.client.now().date()
        key = (req.symbol, req.what, req.duration, today)
        try:
            if key not in self._history_cache:
                self._history_cache[key] = await self.client.daily_bars(
                    req.symbol, self.universe.vix_symbol, req.duration, req.what
                )
        except Exception as exc:
            log.exception("history request failed", extra={"symbol": req.symbol})
            return HistoryProvided(
                correlation_id=req.event_id,
                market_time=self.client.now(),
                symbol=req.symbol,
                what=req.what,
                bars=[],
                error=f"{type(exc).__name__}: {exc}",
            )
        return HistoryProvided(
            correlation_id=req.event_id,
            market_time=self.client.now(),
            symbol=req.symbol,
            what=req.what,
            bars=self._history_cache[key],
        )
