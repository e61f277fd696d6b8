"""The one wrapper around ib_async: connection, pacing, market-data lines, the timeout helper.

Connects with the configured client id and reconnects with back-off forever. After every
(re)connect it runs the registered synchronisation callbacks (re-attach orders, record missed
executions, reconcile) before declaring itself ready. Every IB request goes through ``call``,
which refuses while disconnected and turns a silent IB into ``IBTimeout``.

Pacing: ib_async's client already queues outgoing messages above ``MaxRequests`` per
``RequestsInterval``; we set those from ``ib.max_messages_per_s`` instead of adding a second
limiter in front of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ib_async import IB

from shared.clock import MarketClock
from shared.config import IBConfig
from shared.enums import BrokerState
from shared.errors import IBTimeout, Transient, V6Error

log = logging.getLogger(__name__)

T = TypeVar("T")
StateListener = Callable[[BrokerState, str], Awaitable[None]]
SyncCallback = Callable[[], Awaitable[None]]

TIME_REFRESH_S = 5.0


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
    """The service's IB connection; ``ib`` is the live ib_async object (valid while ready)."""

    def __init__(self, config: IBConfig, clock: MarketClock | None = None) -> None:
        self.config = config
        self.clock = clock or MarketClock()
        self.ib = IB()
        self.ib.client.MaxRequests = config.max_messages_per_s
        self.ib.client.RequestsInterval = 1.0
        self.lines = LineBudget(config.max_market_data_lines)
        self.ready = asyncio.Event()
        self.state = BrokerState.DISCONNECTED
        self._state_listeners: list[StateListener] = []
        self._sync_callbacks: list[SyncCallback] = []
        self._lost = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.ib.disconnectedEvent += self._lost.set
        self.connects = 0

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
        self.ib.disconnect()

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
                await self.ib.connectAsync(
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
                self.ib.disconnect()

    async def _synchronise(self) -> bool:
        try:
            await self.refresh_time()
            for callback in self._sync_callbacks:
                await callback()
        except Exception:
            log.exception("synchronisation after connect failed; reconnecting")
            self.ib.disconnect()
            return False
        return True

    async def refresh_time(self) -> None:
        self.clock.observe(await self.call("reqCurrentTime", self.ib.reqCurrentTimeAsync))

    async def _time_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(TIME_REFRESH_S)
            if self.ready.is_set():
                with contextlib.suppress(Transient):
                    await self.refresh_time()

    # --- requests -----------------------------------------------------------------------

    async def call(
        self, what: str, request: Callable[..., Awaitable[T]], *args: object, **kwargs: object
    ) -> T:
        """``await request(*args)`` within ``ib.request_timeout_s``; the one IB await helper."""
        if not self.ib.isConnected():
            raise BrokerUnavailable(f"{what}: IB is not connected")
        try:
            return await asyncio.wait_for(request(*args, **kwargs), self.config.request_timeout_s)
        except TimeoutError as exc:
            raise IBTimeout(f"{what} got no answer in {self.config.request_timeout_s}s") from exc
        except ConnectionError as exc:
            raise BrokerUnavailable(f"{what}: {exc}") from exc
