"""Market data relay: quotes onto ``md.<SYMBOL>`` (conflated), chain and history on request.

Subscribes the universe underlyings and VIX, and every leg of every order and open strategy;
each ticker update replaces the pending quote of its instrument, and a flush loop publishes one
``MarketDataUpdated`` per symbol at most ``md_max_rate_hz`` times a second. Option chains are
answered with snapshot quotes (no standing lines), and daily history is cached per trading day.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec
from ib_async import Contract, Option, Ticker

from services.execution.conflate import Conflator
from services.execution.ib_client import IBClient, MarketDataLinesExhausted
from services.execution.translate import (
    bars_from_ib,
    ib_expiry,
    option_contract,
    quote_from_ticker,
    underlying_contract,
)
from shared.config import UniverseConfig
from shared.enums import Right
from shared.events import (
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
# model Greeks (tick 13) come with every option subscription; 106 asks for the option IV
OPTION_TICKS = "106"
# snapshots per request batch: a batch must pass the pacing limit within the request timeout
SNAPSHOT_BATCH = 40
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
        self._symbol_of: dict[int, str] = {}  # con_id -> the md symbol it is published under
        self._contracts: dict[int, Contract] = {}
        self._underlying_ids: dict[str, int] = {}
        self._secdef_cache: dict[tuple[str, dt.date], tuple[list[dt.date], list[float]]] = {}
        self._history_cache: dict[tuple[str, str, str, dt.date], list] = {}
        self._flush_task: asyncio.Task[None] | None = None
        self._due = asyncio.Event()  # a symbol became due: flush now, not at the next tick
        client.ib.pendingTickersEvent += self._on_tickers

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
        contracts = [underlying_contract(s, self.universe.vix_symbol) for s in symbols]
        qualified = await self.client.call(
            "qualify underlyings", self.client.ib.qualifyContractsAsync, *contracts
        )
        for symbol, contract in zip(symbols, qualified, strict=False):
            if contract is not None and contract.conId:
                self._underlying_ids[symbol] = contract.conId
                self._subscribe(symbol, contract)
        for con_id, contract in list(self._contracts.items()):
            self._subscribe(self._symbol_of[con_id], contract)

    def _subscribe(self, symbol: str, contract: Contract) -> None:
        if contract.conId in self.client.lines:
            return
        if not self.client.lines.acquire(contract.conId):
            raise MarketDataLinesExhausted(
                f"{self.client.lines.limit} market data lines in use; cannot add {symbol}"
            )
        self._symbol_of[contract.conId] = symbol
        self._contracts[contract.conId] = contract
        generic = OPTION_TICKS if contract.secType == "OPT" else ""
        self.client.ib.reqMktData(contract, generic, False, False)

    async def qualify(self, symbol: str, legs: list[Leg]) -> list[Leg]:
        """The legs with their IB contract ids (asked of IB for those without one)."""
        missing = [leg for leg in legs if leg.con_id is None]
        if not missing:
            return legs
        contracts = [option_contract(symbol, leg) for leg in missing]
        qualified = await self.client.call(
            "qualify legs", self.client.ib.qualifyContractsAsync, *contracts
        )
        ids = {
            (c.right, c.strike, c.lastTradeDateOrContractMonth[:8]): c.conId
            for c in qualified
            if c is not None and c.conId
        }
        out: list[Leg] = []
        for leg in legs:
            if leg.con_id is None:
                key = ("C" if leg.right is Right.CALL else "P", leg.strike, ib_expiry(leg.expiry))
                if key not in ids:
                    raise ValueError(f"leg {key} is not a listed contract")
                leg = msgspec.structs.replace(leg, con_id=ids[key])
            out.append(leg)
        return out

    async def track(self, symbol: str, legs: list[Leg]) -> None:
        """Keep quotes of ``legs`` flowing (the legs of an order or an open strategy)."""
        for leg in legs:
            if leg.con_id is not None and leg.con_id not in self.client.lines:
                contract = option_contract(symbol, leg)
                self._subscribe(symbol, contract)

    async def wait_quotes(self, legs: list[Leg], timeout_s: float) -> None:
        await self._wait_ids([leg.con_id for leg in legs], timeout_s)

    async def _wait_ids(self, con_ids: list[int | None], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(c in self.quotes for c in con_ids):
                return
            await asyncio.sleep(0.02)

    # --- relay ------------------------------------------------------------------------

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        # the gateway stamps underlying ticks with its time (tick 45): following it at once
        # keeps market time right across a jump (a simulator advancing days, a market open)
        for ticker in tickers:
            if isinstance(ticker.lastTimestamp, dt.datetime):
                self.client.clock.observe(ticker.lastTimestamp)
        now = self.client.now()
        for ticker in tickers:
            contract = ticker.contract
            if contract is None or contract.conId not in self._symbol_of:
                continue
            symbol = self._symbol_of[contract.conId]
            quote = quote_from_ticker(ticker, symbol, now)
            self.quotes[contract.conId] = quote
            self._conflator.put(symbol, contract.conId, quote)
            if self._conflator.is_due(symbol, time.monotonic()):
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
            quotes = await self._snapshot_chain(req.symbol, window, near)
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
            params = await self.client.call(
                "reqSecDefOptParams",
                self.client.ib.reqSecDefOptParamsAsync,
                symbol,
                "",
                "STK",
                con_id,
            )
            expiries = sorted(
                {dt.datetime.strptime(e, "%Y%m%d").date() for p in params for e in p.expirations}
            )
            strikes = sorted({float(k) for p in params for k in p.strikes})
            self._secdef_cache[key] = (expiries, strikes)
        return self._secdef_cache[key]

    async def _snapshot_chain(
        self, symbol: str, expiries: list[dt.date], strikes: list[float]
    ) -> list[Quote]:
        # one contract-details request per expiry lists its options; far fewer messages than
        # qualifying every strike and right one by one under IB's pacing limit
        wanted = set(strikes)
        contracts: list[Contract] = []
        for expiry in expiries:
            details = await self.client.call(
                "chain contract details",
                self.client.ib.reqContractDetailsAsync,
                Option(symbol, ib_expiry(expiry), exchange="SMART", currency="USD"),
            )
            contracts += [d.contract for d in details if d.contract and d.contract.strike in wanted]
        quotes: list[Quote] = []
        now = self.client.now()
        for start in range(0, len(contracts), SNAPSHOT_BATCH):
            tickers = await self.client.call(
                "chain snapshot",
                self.client.ib.reqTickersAsync,
                *contracts[start : start + SNAPSHOT_BATCH],
            )
            quotes += [quote_from_ticker(t, symbol, now) for t in tickers]
        return quotes

    async def on_history_requested(self, req: HistoryRequested) -> HistoryProvided:
        today = self.client.now().date()
        key = (req.symbol, req.what, req.duration, today)
        try:
            if key not in self._history_cache:
                contract = underlying_contract(req.symbol, self.universe.vix_symbol)
                bars = await self.client.call(
                    "reqHistoricalData",
                    self.client.ib.reqHistoricalDataAsync,
                    contract,
                    "",
                    req.duration,
                    "1 day",
                    req.what,
                    True,
                )
                self._history_cache[key] = bars_from_ib(bars)
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
