"""Entry's wiring: decode → book / workflow → tables and bus. Handlers stay thin.

- ``v6.md.>`` (core): quotes for the market state; every event's market time moves the clock.
- orders and exits (durable consumers): the strategies' lifecycle, upserted before the ack.
- commands (durable): halt / resume (persisted) and evaluate_entry.
- a timer every ``entry.interval_s`` of market time evaluates the universe in market hours.
"""

from __future__ import annotations

import logging

from services.entry.gateway import ExecutionGateway
from services.entry.market import QuoteCache
from services.entry.store import EntryStore, Halting
from services.entry.workflow import EntryWorkflow
from shared.bus import Delivery
from shared.clock import Clock
from shared.domain.calendar import session, trading_date
from shared.events import (
    EvaluateEntry,
    Event,
    ExitExecuted,
    Halt,
    MarketDataUpdated,
    OrderDenied,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
    Resume,
)
from shared.service import Runtime

log = logging.getLogger(__name__)

OrderEvent = OrderPlaced | OrderStatusChanged | OrderFilled | OrderRejected | OrderDenied
EntryCommand = Halt | Resume | EvaluateEntry


class EntryHandlers:
    def __init__(
        self, workflow: EntryWorkflow, store: EntryStore, clock: Clock, halting: Halting
    ) -> None:
        self.workflow = workflow
        self.store = store
        self.clock = clock
        self.halting = halting
        self.market_seen = False
        workflow.halted = halting.reason

    def _observe(self, event: Event) -> None:
        # the bus has told the clock; the timer waits until some market time was seen
        if event.market_time is not None:
            self.market_seen = True

    async def on_market_data(self, event: MarketDataUpdated) -> None:
        self._observe(event)
        self.workflow.quotes.on_market_data(event)

    async def on_strategy_event(self, event: OrderEvent | ExitExecuted, _: Delivery) -> None:
        self._observe(event)
        changed = self.workflow.book.apply(event, event.market_time or self.clock.now())
        await self.store.strategies_changed(changed)

    async def on_command(self, command: EntryCommand, _: Delivery) -> None:
        match command:
            case Halt() | Resume():
                await self._switch(command)
            case EvaluateEntry():
                symbols = [command.symbol.upper()] if command.symbol else None
                await self.workflow.run_cycle(symbols, command_id=command.event_id)

    async def on_timer(self) -> None:
        """The scheduled evaluation, in the exchange's regular session only.

        Nothing is evaluated before a first market time has been seen: until then the clock
        is the wall clock, which an accelerated or replayed market does not follow.
        """
        if not self.market_seen:
            return
        now = self.clock.now()
        today = session(trading_date(now), self.workflow.config.entry.calendar)
        if today is None or not today.open <= now < today.close:
            return
        await self.workflow.run_cycle()

    async def _switch(self, command: Halt | Resume) -> None:
        # a redelivered older command must not undo a newer one
        if not self.halting.is_newer(command.wall_time):
            return
        reason = (command.reason or "operator halt") if isinstance(command, Halt) else None
        self.halting = Halting(reason=reason, changed_at=command.wall_time)
        await self.store.save_halt(self.halting, command.event_id)
        self.workflow.halted = reason
        log.warning("entries halted" if reason else "entries resumed", extra={"reason": reason})


async def wire(runtime: Runtime) -> None:
    config = runtime.config
    clock = runtime.clock  # market time: the bus feeds it every event's market_time
    store = EntryStore(
        runtime.writers["signals"], runtime.tables["strategies"], runtime.tables["controls"]
    )
    book = await store.load_book()
    workflow = EntryWorkflow(
        config,
        clock,
        book,
        QuoteCache(config.universe.vix_symbol),
        ExecutionGateway(runtime.bus, clock, timeout_s=config.entry.rpc_timeout_s),
        runtime.bus.publish,
        store,
    )
    handlers = EntryHandlers(workflow, store, clock, await store.load_halt())
    await runtime.subscribe(handlers.on_market_data, MarketDataUpdated)
    await runtime.consume("orders", handlers.on_strategy_event, OrderEvent)
    await runtime.consume("exits", handlers.on_strategy_event, ExitExecuted)
    await runtime.consume("commands", handlers.on_command, EntryCommand)
    for record in book.pending():
        # built before a restart: announced again under the same event id (JetStream drops a
        # copy it has; execution finds an order already placed by its orderRef)
        await workflow.announce(record)
    runtime.every(config.entry.interval_s, handlers.on_timer, clock)
    log.info("entry wired", extra={"strategies": len(book), "halted": handlers.halting.reason})
