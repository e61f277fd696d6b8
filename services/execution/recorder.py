"""What execution tells the world and keeps: every event out through ``publish``, which also
turns it into rows (orders upserted by ref, fills by exec id, exits), and every holding saved.

So what is on the bus and what is in the tables never diverge.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from services.execution.book import Holding
from services.execution.tables import (
    EXITS,
    FILLS,
    HOLDINGS,
    ORDER_EVENTS,
    ORDERS,
    exit_row,
    fill_row,
    holding_row,
    order_row,
)
from shared.events import Event, ExitExecuted, OrderFilled
from shared.service import Runtime

log = logging.getLogger(__name__)

SAVE_RETRY_MIN_S = 0.2
SAVE_RETRY_MAX_S = 5.0

Row = Mapping[str, Any]


class Records(Protocol):
    """Where execution's events and rows go (the bus and its tables, or a test's lists)."""

    unsaved: set[str]  # strategies whose latest holding has not been committed yet

    async def publish(self, event: Event) -> Event: ...

    async def save(self, holding: Holding, *, durable: bool = False) -> None: ...

    def add_rows(self, table: str, rows: Row | Iterable[Row]) -> None: ...


class Recorder:
    """The bus and the tables of one execution service, behind ``publish`` and ``save``."""

    def __init__(self, rt: Runtime, order_rows: dict[str, dict[str, Any]] | None = None) -> None:
        self.rt = rt
        self._order_rows = order_rows or {}
        self.unsaved: set[str] = set()  # strategies whose latest holding row has not landed

    async def publish(self, event: Event) -> Event:
        nc = self.rt.bus.nc
        if nc.is_closed or nc.is_draining:
            # stopping: unrecorded fills come back from IB after the restart, the rest is moot
            log.info("not published: the bus is closing", extra={"event": type(event).__name__})
            return event
        sent = await self.rt.bus.publish(event)
        self._record(sent)
        return sent

    def _record(self, event: Event) -> None:
        writers = self.rt.writers
        if isinstance(event, OrderFilled):
            writers[FILLS.name].add(fill_row(event))
        elif isinstance(event, ExitExecuted):
            writers[EXITS.name].add(exit_row(event))
        elif isinstance(event, ORDER_EVENTS):
            row = order_row(event, self._order_rows.get(event.order_ref))
            self._order_rows[event.order_ref] = row
            writers[ORDERS.name].add(row)

    async def save(self, holding: Holding, *, durable: bool = False) -> None:
        """Persist ``holding``, committed before this returns, retried until it lands.

        Every save waits for its commit, ``durable`` or not: a holding changes on the broker's
        callbacks, which belong to no message, so nothing would ever redeliver a lost row.
        Meanwhile the strategy is listed in ``unsaved`` (the service reports unhealthy).
        """
        writer = self.rt.writers[HOLDINGS.name]
        delay = SAVE_RETRY_MIN_S
        while True:
            writer.add(holding_row(holding, self.rt.clock.now()))
            try:
                await writer.flush()
            except Exception:
                self.unsaved.add(holding.strategy_id)
                log.exception("holding not saved: retrying", extra={"id": holding.strategy_id})
                await asyncio.sleep(delay)
                delay = min(delay * 2, SAVE_RETRY_MAX_S)
                continue
            self.unsaved.discard(holding.strategy_id)
            return

    def add_rows(self, table: str, rows: Row | Iterable[Row]) -> None:
        """Rows that no event carries (controls, broker positions, reconciliation findings)."""
        self.rt.writers[table].add(rows)
