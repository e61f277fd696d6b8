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

    unsaved: set[str]  # records not committed yet (the service reports unhealthy meanwhile)

    async def publish(self, event: Event) -> Event: ...

    async def save(self, holding: Holding, *, durable: bool = False) -> None: ...

    def add_rows(self, table: str, rows: Row | Iterable[Row]) -> None: ...


class Recorder:
    """The bus and the tables of one execution service, behind ``publish`` and ``save``."""

    def __init__(self, rt: Runtime, order_rows: dict[str, dict[str, Any]] | None = None) -> None:
        self.rt = rt
        self._order_rows = order_rows or {}
        # what has not landed yet: strategies (holdings) and table:key of event rows
        self.unsaved: set[str] = set()

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
        if isinstance(event, OrderFilled):
            self._add(FILLS.name, event.exec_id, fill_row(event))
        elif isinstance(event, ExitExecuted):
            self._add(EXITS.name, event.event_id, exit_row(event))
        elif isinstance(event, ORDER_EVENTS):
            row = order_row(event, self._order_rows.get(event.order_ref))
            self._order_rows[event.order_ref] = row
            self._add(ORDERS.name, event.order_ref, row)

    def _add(self, table: str, key: str, row: Row, delay: float = SAVE_RETRY_MIN_S) -> None:
        """Queue ``row``; if its batch fails to commit, queue it again until it lands."""
        committed = self.rt.writers[table].add(row)

        def landed(fut: asyncio.Future[None]) -> None:
            if fut.cancelled() or fut.exception() is None:
                self.unsaved.discard(f"{table}:{key}")
                return
            self.unsaved.add(f"{table}:{key}")
            # an order's row is upserted: the newest state of it goes again, never an older one
            latest = self._order_rows.get(key, row) if table == ORDERS.name else row
            again = min(delay * 2, SAVE_RETRY_MAX_S)
            asyncio.get_running_loop().call_later(delay, self._add, table, key, latest, again)

        committed.add_done_callback(landed)

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
