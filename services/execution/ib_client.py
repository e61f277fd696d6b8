"""The one wrapper around ib_async: connection, pacing, market-data lines, orders, the timeout
helper. The rest of the service calls its methods in the project's own terms (legs, quotes, bars,
executions, positions, ``OrderSpec``); IB's objects stop here and in ``translate``.

Connects with the configured client id and reconnects with back-off forever. After every
(re)connect it runs the registered synchronisation callbacks (re-attach orders, record missed
executions, reconcile) before declaring itself ready. Every IB request goes through ``call``,
which refuses while disconnected and turns a silent IB into ``IBTimeout``. Orders go out, change
or are cancelled only while the ``may_trade`` it is given allows (execution's lease).

Pacing: ib_async's client already queues outgoing messages above ``MaxRequests`` per
``RequestsInterval``; we set those from ``ib.max_messages_per_s`` instead of adding a second
limiter in front of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import msgspec
from ib_async import IB, Contract, Fill, Option, Ticker, Trade

from services.execution.fills import Execution
from services.execution.orders import OrderSpec
from services.execution.reconcile import BrokerPosition
from services.execution.translate import (
    BrokerOrder,
    bars_from_ib,
    execution_from_fill,
    facts_of,
    ib_expiry,
    limit_order,
    option_contract,
    order_contract,
    position_from_ib,
    quote_from_ticker,
    right_to_ib,
    underlying_contract,
)
from services.execution.validation import ContractFacts
from shared.clock import MarketClock
from shared.config import IBConfig
from shared.enums import BrokerState
from shared.errors import IBTimeout, Transient, V6Error
from shared.events import Bar, Leg, Quote

log = logging.getLogger(__name__)

T = TypeVar("T")
StateListener = Callable[[BrokerState, str], Awaitable[None]]
SyncCallback = Callable[[], Awaitable[object]]
QuoteListener = Callable[[list[Quote]], None]
StatusListener = Callable[[BrokerOrder], None]
ExecutionListener = Callable[[BrokerOrder, Execution], None]
ErrorListener = Callable[[int, int, str], None]  # (request or order id, code, message)

TIME_REFRESH_S = 5.0
# model Greeks (tick 13) come with every option subscription; 106 asks for the option IV
OPTION_TICKS = "106"
# snapshots per request batch: a batch must pass the pacing limit within the request timeout
SNAPSHOT_BATCH = 40


class BrokerUnavailable(Transient):
    """IB is not connected right now; the work is retried after the reconnect."""


class MarketDataLinesExhausted(V6Error):
    """Subscribing would exceed ``ib.max_market_data_lines``."""


class LineBudget:
    """Counts market-data lines against the account's limit, one per subscribed instrument."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: set[int] = set()

    def acquire(self, key: int) -> bool:
        """True if ``key`` holds a line (already, or newly); False when the limit is reached."""
        if key in self._held:
            return True
        if len(self._held) >= self.limit:
            return False
        self._held.add(key)
        return True

    def release(self, key: int) -> None:
        self._held.discard(key)

    def clear(self) -> None:
        self._held.clear()

    def __contains__(self, key: int) -> bool:
        return key in self._held

    def __len__(self) -> int:
        return len(self._held)


class IBClient:
    """The service's IB connection and everything asked of IB through it."""

    def __init__(
        self,
        config: IBConfig,
        clock: MarketClock | None = None,
        may_trade: Callable[[], bool] = lambda: True,
    ) -> None:
        """``may_trade``: whether this instance may send orders for the account now (it holds
        execution's lease, ``lease.py``); asked before every order sent, changed or cancelled."""
        self.config = config
        self.clock = clock or MarketClock()
        self._may_trade = may_trade
        self._ib = IB()
        self._ib.client.MaxRequests = config.max_messages_per_s
        self._ib.client.RequestsInterval = 1.0
        self.lines = LineBudget(config.max_market_data_lines)
        self.ready = asyncio.Event()
        self.state = BrokerState.DISCONNECTED
        self._state_listeners: list[StateListener] = []
        self._sync_callbacks: list[SyncCallback] = []
        self._lost = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._ib.disconnectedEvent += self._lost.set
        self.connects = 0
        # the instruments whose quotes stream, by con_id: (md symbol, contract), kept across
        # reconnects so that every stream is asked for again
        self._streams: dict[int, tuple[str, Contract]] = {}
        self._quote_listeners: list[QuoteListener] = []
        self._ib.pendingTickersEvent += self._on_tickers

    # --- registration --------------------------------------------------------------------

    def on_state(self, listener: StateListener) -> None:
        self._state_listeners.append(listener)

    def on_synchronise(self, callback: SyncCallback) -> None:
        """Run ``callback`` after every (re)connect, before the client is ready."""
        self._sync_callbacks.append(callback)

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if not self._tasks:
            self._stopping.clear()
            self._tasks = [
                asyncio.create_task(self._connection_loop(), name="ib-connection"),
                asyncio.create_task(self._time_loop(), name="ib-time"),
            ]

    async def stop(self) -> None:
        self._stopping.set()
        self._lost.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self.ready.clear()
        self._ib.disconnect()

    async def wait_ready(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self.ready.wait(), timeout_s)
        except TimeoutError as exc:
            raise BrokerUnavailable(f"IB not ready within {timeout_s}s") from exc

    def now(self) -> dt.datetime:
        """Market time: the gateway's clock, extrapolated between refreshes."""
        return self.clock.now()

    async def _set_state(self, state: BrokerState, detail: str = "") -> None:
        self.state = state
        for listener in self._state_listeners:
            try:
                await listener(state, detail)
            except Exception:
                log.exception("broker state listener failed")

    async def _connection_loop(self) -> None:
        delay = self.config.reconnect_min_s
        while not self._stopping.is_set():
            self._lost.clear()
            try:
                await self._ib.connectAsync(
                    self.config.host,
                    self.config.port,
                    clientId=self.config.client_id,
                    timeout=self.config.connect_timeout_s,
                    account=self.config.account,
                )
            except (OSError, ConnectionError, TimeoutError) as exc:
                state = BrokerState.RECONNECTING if self.connects else BrokerState.DISCONNECTED
                await self._set_state(state, f"connect failed: {exc!r}; retry in {delay:.1f}s")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.reconnect_max_s)
                continue
            delay = self.config.reconnect_min_s
            self.connects += 1
            self.lines.clear()  # ib_async forgets every subscription on disconnect
            await self._set_state(BrokerState.CONNECTED, f"{self.config.host}:{self.config.port}")
            if await self._synchronise():
                self.ready.set()
                await self._set_state(BrokerState.SYNCHRONIZED)
            await self._lost.wait()
            self.ready.clear()
            if not self._stopping.is_set():
                await self._set_state(BrokerState.DISCONNECTED, "connection lost")
                self._ib.disconnect()

    async def _synchronise(self) -> bool:
        try:
            await self.refresh_time()
            for callback in self._sync_callbacks:
                await callback()
        except Exception:
            log.exception("synchronisation after connect failed; reconnecting")
            self._ib.disconnect()
            return False
        return True

    async def refresh_time(self) -> None:
        self.clock.observe(await self.call("reqCurrentTime", self._ib.reqCurrentTimeAsync))

    async def _time_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(TIME_REFRESH_S)
            if self.ready.is_set():
                with contextlib.suppress(Transient):
                    await self.refresh_time()

    @property
    def connected(self) -> bool:
        return self._ib.isConnected()

    # --- requests -----------------------------------------------------------------------

    async def call(
        self, what: str, request: Callable[..., Awaitable[T]], *args: object, **kwargs: object
    ) -> T:
        """``await request(*args)`` within ``ib.request_timeout_s``; the one IB await helper."""
        if not self._ib.isConnected():
            raise BrokerUnavailable(f"{what}: IB is not connected")
        try:
            return await asyncio.wait_for(request(*args, **kwargs), self.config.request_timeout_s)
        except TimeoutError as exc:
            raise IBTimeout(f"{what} got no answer in {self.config.request_timeout_s}s") from exc
        except ConnectionError as exc:
            raise BrokerUnavailable(f"{what}: {exc}") from exc

    # --- contracts ----------------------------------------------------------------------

    async def qualify_underlyings(self, symbols: Iterable[str], vix_symbol: str) -> dict[str, int]:
        """The con_id of each of ``symbols`` that IB knows (the VIX as an index)."""
        symbols = list(symbols)
        contracts = [underlying_contract(s, vix_symbol) for s in symbols]
        qualified = await self.call(
            "qualify underlyings", self._ib.qualifyContractsAsync, *contracts
        )
        ids: dict[str, int] = {}
        for symbol, contract in zip(symbols, qualified, strict=False):
            if contract is not None and contract.conId:
                ids[symbol] = contract.conId
                self._streams.setdefault(contract.conId, (symbol, contract))
        return ids

    async def qualify_legs(self, symbol: str, legs: list[Leg]) -> list[Leg]:
        """The legs with their IB contract ids (asked of IB for those without one)."""
        missing = [leg for leg in legs if leg.con_id is None]
        if not missing:
            return legs
        contracts = [option_contract(symbol, leg) for leg in missing]
        qualified = await self.call("qualify legs", self._ib.qualifyContractsAsync, *contracts)
        ids = {
            (c.right, c.strike, c.lastTradeDateOrContractMonth[:8]): c.conId
            for c in qualified
            if c is not None and c.conId
        }
        out: list[Leg] = []
        for leg in legs:
            if leg.con_id is None:
                key = (right_to_ib(leg.right), leg.strike, ib_expiry(leg.expiry))
                if key not in ids:
                    raise ValueError(f"leg {key} is not a listed contract")
                leg = msgspec.structs.replace(leg, con_id=ids[key])
            out.append(leg)
        return out

    async def contract_facts(self, con_ids: Iterable[int]) -> dict[int, ContractFacts]:
        """What the broker says each of ``con_ids`` is (ids it does not know are left out)."""
        ids = sorted(set(con_ids))
        qualified = await self.call(
            "describe contracts",
            self._ib.qualifyContractsAsync,
            *(Contract(conId=con_id) for con_id in ids),
        )
        return {c.conId: facts_of(c) for c in qualified if c is not None and c.conId in ids}

    # --- streaming quotes ---------------------------------------------------------------

    def on_quotes(self, listener: QuoteListener) -> None:
        """``listener`` gets the new quotes of streamed instruments after every IB update."""
        self._quote_listeners.append(listener)

    def streams(self, con_id: int) -> bool:
        return con_id in self.lines

    def stream_underlying(self, con_id: int) -> None:
        """Stream the quotes of an underlying qualified by ``qualify_underlyings``."""
        self._stream(con_id, *self._streams[con_id])

    def stream_leg(self, symbol: str, leg: Leg) -> None:
        """Stream the quotes of an option leg (it must carry its con_id)."""
        assert leg.con_id is not None
        if leg.con_id not in self.lines:
            self._stream(leg.con_id, symbol, option_contract(symbol, leg))

    def resume_streams(self) -> None:
        """After a reconnect: every stream asked for before (IB forgot them all)."""
        for con_id, (symbol, contract) in list(self._streams.items()):
            self._stream(con_id, symbol, contract)

    def _stream(self, con_id: int, symbol: str, contract: Contract) -> None:
        if con_id in self.lines:
            return
        if not self.lines.acquire(con_id):
            raise MarketDataLinesExhausted(
                f"{self.lines.limit} market data lines in use; cannot add {symbol}"
            )
        self._streams[con_id] = (symbol, contract)
        generic = OPTION_TICKS if contract.secType == "OPT" else ""
        self._ib.reqMktData(contract, generic, False, False)

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        # the gateway stamps underlying ticks with its time (tick 45): following it at once
        # keeps market time right across a jump (a simulator advancing days, a market open)
        for ticker in tickers:
            if isinstance(ticker.lastTimestamp, dt.datetime):
                self.clock.observe(ticker.lastTimestamp)
        now = self.now()
        quotes: list[Quote] = []
        for ticker in tickers:
            contract = ticker.contract
            if contract is None or contract.conId not in self.lines:
                continue
            symbol, _ = self._streams[contract.conId]
            quotes.append(quote_from_ticker(ticker, symbol, now))
        if quotes:
            for listener in self._quote_listeners:
                listener(quotes)

    # --- chains and history -------------------------------------------------------------

    async def option_params(self, symbol: str, con_id: int) -> tuple[list[dt.date], list[float]]:
        """Every listed expiry and strike of ``symbol``'s options."""
        params = await self.call(
            "reqSecDefOptParams", self._ib.reqSecDefOptParamsAsync, symbol, "", "STK", con_id
        )
        expiries = sorted(
            {dt.datetime.strptime(e, "%Y%m%d").date() for p in params for e in p.expirations}
        )
        strikes = sorted({float(k) for p in params for k in p.strikes})
        return expiries, strikes

    async def chain_quotes(
        self, symbol: str, expiries: list[dt.date], strikes: list[float]
    ) -> list[Quote]:
        """Snapshot quotes (no standing lines) of the listed options at ``strikes``."""
        # one contract-details request per expiry lists its options; far fewer messages than
        # qualifying every strike and right one by one under IB's pacing limit
        wanted = set(strikes)
        contracts: list[Contract] = []
        for expiry in expiries:
            details = await self.call(
                "chain contract details",
                self._ib.reqContractDetailsAsync,
                Option(symbol, ib_expiry(expiry), exchange="SMART", currency="USD"),
            )
            contracts += [d.contract for d in details if d.contract and d.contract.strike in wanted]
        quotes: list[Quote] = []
        now = self.now()
        for start in range(0, len(contracts), SNAPSHOT_BATCH):
            tickers = await self.call(
                "chain snapshot",
                self._ib.reqTickersAsync,
                *contracts[start : start + SNAPSHOT_BATCH],
            )
            quotes += [quote_from_ticker(t, symbol, now) for t in tickers]
        return quotes

    async def daily_bars(self, symbol: str, vix_symbol: str, duration: str, what: str) -> list[Bar]:
        bars = await self.call(
            "reqHistoricalData",
            self._ib.reqHistoricalDataAsync,
            underlying_contract(symbol, vix_symbol),
            "",
            duration,
            "1 day",
            what,
            True,
        )
        return bars_from_ib(bars)

    # --- orders -------------------------------------------------------------------------

    def on_order_status(self, listener: StatusListener) -> None:
        self._ib.orderStatusEvent += lambda trade: listener(BrokerOrder(trade))

    def on_execution(self, listener: ExecutionListener) -> None:
        def executed(trade: Trade, fill: Fill) -> None:
            listener(BrokerOrder(trade), execution_from_fill(fill))

        self._ib.execDetailsEvent += executed

    def on_error(self, listener: ErrorListener) -> None:
        self._ib.errorEvent += lambda req_id, code, message, _contract: listener(
            req_id, code, message
        )

    def order_by_ref(self, order_ref: str) -> BrokerOrder | None:
        """The broker's order with this ref among the session's open and completed orders."""
        for trade in self._ib.trades():
            if trade.order.orderRef == order_ref:
                return BrokerOrder(trade)
        return None

    def executions_of(self, order_ref: str) -> list[Execution]:
        """The session's executions of the order with this ref, oldest first."""
        fills = sorted(
            (f for f in self._ib.fills() if f.execution.orderRef == order_ref),
            key=lambda f: f.time,
        )
        return [execution_from_fill(f) for f in fills]

    def commission(self, exec_ids: Iterable[str], *, complete: bool = True) -> float | None:
        """The commissions of these executions; None while a report is missing (``complete``),
        else the sum of the reports that are in."""
        fills = {f.execution.execId: f for f in self._ib.fills()}
        reports = [fills[i].commissionReport for i in exec_ids if i in fills]
        if complete and not all(r.execId for r in reports):
            return None
        return round(sum(r.commission for r in reports if r.execId), 6)

    def _refusal(self) -> str | None:
        """Why no order may go out now, if none may: the one check before every order sent."""
        if not self._ib.isConnected():
            return "IB not connected"
        if not self._may_trade():
            return "this instance does not hold the account's execution lease"
        return None

    def place(self, spec: OrderSpec) -> BrokerOrder:
        """Send ``spec`` as a new order; refused while disconnected or without the lease."""
        if (refusal := self._refusal()) is not None:
            raise BrokerUnavailable(f"cannot place {spec.order_ref}: {refusal}")
        return BrokerOrder(
            self._ib.placeOrder(order_contract(spec), limit_order(spec, self.config.account))
        )

    def modify(self, order: BrokerOrder, ib_price: float) -> bool:
        """Move a working order's limit to ``ib_price`` (IB's terms); False if it cannot move."""
        trade = order.trade
        if trade.isDone() or self._refusal() is not None:
            return False
        trade.order.lmtPrice = ib_price
        self._ib.placeOrder(trade.contract, trade.order)
        return True

    def cancel(self, order: BrokerOrder) -> None:
        if not order.is_done and self._refusal() is None:
            self._ib.cancelOrder(order.trade.order)

    # --- account ------------------------------------------------------------------------

    def positions(self) -> list[BrokerPosition]:
        """Every position the broker reports to this session, of every account."""
        return [position_from_ib(p) for p in self._ib.positions()]
