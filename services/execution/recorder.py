"""What execution tells the world and keeps: every event out through ``publish``, which also
turns it into rows (orders upserted by ref, fills by exec id, exits), and every holding saved.

So what is on the bus and what is in the tables never diverge.
"""

from __future__ import annotations

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

Row = Mapping[str, Any]


class Records(Protocol):
    """Where execution's events and rows go (the bus and its tables, or a test's lists)."""

    async def publish(self, event: Event) -> Event: ...

    async def save(self, holding: Holding, *, durable: bool = False) -> None: ...

    def add_rows(self, table: str, rows: Row | Iterable[Row]) -> None: ...


class Recorder:
    """The bus and the tables of one execution service, behind ``publish`` and ``save``."""

    def __init__(self, rt: Runtime, order_rows: dict[str, dict[str, Any]] | None = None) -> None:
        self.rt = rt
        self._order_rows = order_rows or {}

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
        """Persist ``holding``; ``durable`` waits until it is committed (before an order)."""
        writer = self.rt.writers[HOLDINGS.name]
        writer.add(holding_row(holding, self.rt.clock.now()))
        if durable:
            await writer.flush()

    def add_rows(self, table: str, rows: Row | Iterable[Row]) -> None:
        """Rows that no event carries (controls, broker positions, reconciliation findings)."""
        self.rt.writers[table].add(rows)
