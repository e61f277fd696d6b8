"""monitor's wiring: decode -> PositionMonitoringWorkflow -> tables and snapshots.

- orders and exits (durable consumers) change the book; the runtime commits the positions rows
  before it acks the messages, so a restart (even kill -9) restores exactly what was applied
  (and a redelivered fill is recognised by its exec id);
- market data (core ``md.>``) marks symbols dirty; a short wall-clock timer revalues the dirty
  ones, which conflates a burst of ticks into one valuation per strategy per
  ``monitor.revalue_min_interval_s``;
- a market-time timer revalues everything every ``monitor.interval_s``; ``cmd.snapshot_now``
  does it at once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from services.monitor.book import Position
from services.monitor.tables import (
    OPTION_SNAPSHOTS,
    POSITION_SNAPSHOTS,
    POSITIONS,
    option_rows,
    position_from_row,
    position_row,
    snapshot_row,
)
from services.monitor.workflow import PositionMonitoringWorkflow
from shared.bus.client import Delivery
from shared.clock import Clock, WallClock
from shared.enums import StrategyStatus
from shared.events import (
    Bar,
    CloseAll,
    Event,
    ExitExecuted,
    HistoryProvided,
    HistoryRequested,
    MarketDataUpdated,
    OrderDenied,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
    SnapshotNow,
    StrategyBuilt,
)
from shared.service import Runtime

log = logging.getLogger(__name__)

ORDER_EVENTS = OrderPlaced | OrderStatusChanged | OrderFilled | OrderRejected | OrderDenied
HISTORY_TIMEOUT_S = 10.0


class MonitorHandlers:
    def __init__(self, rt: Runtime, clock: Clock, positions: list[Position]) -> None:
        self.rt = rt
        self.clock = clock
        self.workflow = PositionMonitoringWorkflow(
            rt.config, clock, positions, fetch_history=self.fetch_iv_history
        )
        self._dirty: set[str] = set()
        self._all_dirty = False
        self._last_revalue = float("-inf")
        self._min_interval_s = rt.config.monitor.revalue_min_interval_s

    # --- durable intake -------------------------------------------------------------------

    async def on_order_event(self, event: Any, delivery: Delivery) -> None:
        wf = self.workflow
        if delivery.deliveries > 1:
            wf.restore(event.strategy_id)
        book_events: list[Event] = []
        if isinstance(event, OrderPlaced):
            wf.on_order_placed(event)
        elif isinstance(event, OrderFilled):
            book_events.extend(wf.on_order_filled(event))
        else:
            wf.on_order_ended(event)
        await self._commit(book_events)

    async def on_exit_executed(self, event: ExitExecuted, delivery: Delivery) -> None:
        if delivery.deliveries > 1:
            self.workflow.restore(event.strategy_id)
        await self._commit(self.workflow.on_exit_executed(event))

    async def on_strategy_built(self, event: StrategyBuilt) -> None:
        # a hint only (core delivery, may be missed): OrderPlaced carries the same structure
        self.workflow.on_strategy_built(event)
        self._store_positions()

    async def on_command(self, event: Any, delivery: Delivery) -> None:
        if isinstance(event, SnapshotNow):
            await self.revalue(None)
        # CloseAll is execution's to carry out; the book follows from its fills and exits

    async def _commit(self, book_events: list[Any]) -> None:
        """Queue the changed positions (committed before the ack), announce opens and closes."""
        self._store_positions()
        for event in book_events:
            await self.rt.bus.publish(event)

    # --- market data and valuation --------------------------------------------------------

    async def on_market_data(self, event: MarketDataUpdated) -> None:
        touched = self.workflow.on_market_data(event)
        affected = self.workflow.symbols_affected(touched)
        if affected is None:
            self._all_dirty = True
        else:
            self._dirty |= affected
        rows = option_rows(event, self.clock.now())
        if rows:
            self.rt.writers[OPTION_SNAPSHOTS.name].add(rows)
        # leading edge: the first update after a quiet spell is valued at once (a jump must
        # reach the rules fast); a burst after it waits for the timer's trailing edge
        if time.monotonic() - self._last_revalue >= self._min_interval_s:
            await self.revalue_dirty()

    async def revalue_dirty(self) -> None:
        if not (self._all_dirty or self._dirty):
            return
        symbols = None if self._all_dirty else self._dirty
        self._dirty, self._all_dirty = set(), False
        self._last_revalue = time.monotonic()
        await self.revalue(symbols)

    async def revalue_all(self) -> None:
        await self.revalue(None)

    async def revalue(self, symbols: set[str] | None) -> None:
        snapshots = await self.workflow.monitor_positions(symbols)
        for snapshot in snapshots:
            await self.rt.bus.publish(snapshot)
        if snapshots:
            # the time series is fire-and-forget: a lost batch loses history, not the book
            self.rt.writers[POSITION_SNAPSHOTS.name].add([snapshot_row(s) for s in snapshots])
        self._store_positions()

    def _store_positions(self) -> None:
        changed = self.workflow.positions_since()
        if changed:
            now = self.clock.now()
            self.rt.writers[POSITIONS.name].add([position_row(p, now) for p in changed])

    async def fetch_iv_history(self, symbol: str) -> list[Bar]:
        reply = await self.rt.bus.request(
            HistoryRequested(symbol=symbol, what="OPTION_IMPLIED_VOLATILITY"),
            self.rt.subjects.rpc_history(),
            HistoryProvided,
            timeout=HISTORY_TIMEOUT_S,
        )
        if reply.error:
            raise RuntimeError(reply.error)
        return reply.bars


async def wire(rt: Runtime) -> None:
    clock = rt.clock  # market time: the bus feeds it every event's market_time
    table = rt.tables[POSITIONS.name]
    # closed strategies stay in the table as history; the book restores the others
    rows = (await table.read([("status", "!=", StrategyStatus.CLOSED.value)])).to_pylist()
    handlers = MonitorHandlers(rt, clock, [position_from_row(r) for r in rows])
    log.info("book restored", extra={"open": len(handlers.workflow.book.open_positions())})
    cfg = rt.config.monitor
    await rt.subscribe(handlers.on_market_data, MarketDataUpdated)
    await rt.subscribe(handlers.on_strategy_built, StrategyBuilt)
    await rt.consume("orders", handlers.on_order_event, ORDER_EVENTS)
    await rt.consume("exits", handlers.on_exit_executed, ExitExecuted)
    await rt.consume("commands", handlers.on_command, SnapshotNow | CloseAll)
    # conflation is about CPU, so it runs on the wall clock; the valuation cadence on market time
    rt.every(cfg.revalue_min_interval_s, handlers.revalue_dirty, WallClock())
    rt.every(cfg.interval_s, handlers.revalue_all, clock)
