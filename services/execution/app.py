"""The execution service assembled on its runtime: IB client, relay, orders, workflows, tables.

Every event goes out through ``publish``, which also turns it into rows (orders upserted by ref,
fills by exec id, exits), so what is on the bus and what is in the tables never diverge. The
book is rebuilt from the holdings table at start, and the fills already recorded are loaded so
that executions replayed by IB after a restart or reconnect are not recorded twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.execution.book import Book, Holding
from services.execution.ib_client import IBClient
from services.execution.market_data import MarketDataRelay
from services.execution.tables import (
    BROKER_POSITIONS,
    CONTROLS,
    EXITS,
    FILLS,
    HOLDINGS,
    ORDER_EVENTS,
    ORDERS,
    RECONCILIATION,
    exit_row,
    fill_row,
    finding_rows,
    holding_from_row,
    holding_row,
    order_row,
    position_rows,
)
from services.execution.workflow import RollSetup, Workflows
from services.execution.working import OrderManager
from shared.clock import MarketClock
from shared.domain.breaker import CircuitBreaker
from shared.domain.builders import StrategyBuilder
from shared.enums import BrokerState
from shared.events import BrokerConnectionChanged, Event, ExitExecuted, OrderFilled
from shared.service import Runtime

log = logging.getLogger(__name__)

HALTED = "halted"


class ExecutionService:
    """The parts of one running execution service and how they are connected."""

    def __init__(self, rt: Runtime, holdings: list[Holding], recorded_fills: set[str]) -> None:
        cfg = rt.config
        self.rt = rt
        # the gateway's time drives the service clock (a test may hand in a fixed clock)
        self.client = IBClient(cfg.ib, rt.clock if isinstance(rt.clock, MarketClock) else None)
        self.relay = MarketDataRelay(
            self.client, cfg.universe, self.publish, cfg.ib.market_data_max_rate_hz
        )
        self.orders = OrderManager(
            self.client, self.publish, cfg.orders, self.relay.quotes, recorded_fills
        )
        roll = RollSetup(
            builder=StrategyBuilder(
                cfg.builder, cfg.entry.max_position_risk_pct, cfg.rules.dte_roll.forced_at_dte
            ),
            rule=cfg.rules.dte_roll,
            time_exit_dte=cfg.rules.time_exit.at_dte,
        )
        self.flows = Workflows(
            self.client,
            self.orders,
            Book(holdings),
            CircuitBreaker(cfg.breaker),
            self.relay,
            cfg.orders,
            self.publish,
            self.save,
            roll,
        )
        self._order_rows: dict[str, dict[str, Any]] = {}
        self.background: set[asyncio.Task[None]] = set()
        self.client.on_state(self._broker_state)
        # after every (re)connect, in this order: quotes flowing again, orders re-attached and
        # missed fills recorded, saved working orders resumed, then positions compared
        self.client.on_synchronise(self.relay.resubscribe)
        self.client.on_synchronise(self.orders.resynchronise)
        self.client.on_synchronise(self.flows.resume_working)
        self.client.on_synchronise(self.reconcile)

    @classmethod
    async def load(cls, rt: Runtime) -> ExecutionService:
        rows = (await rt.tables[HOLDINGS.name].read()).to_pylist()
        fills = await rt.tables[FILLS.name].read(columns=["exec_id"])
        service = cls(
            rt, [holding_from_row(r) for r in rows], set(fills.column("exec_id").to_pylist())
        )
        orders = (await rt.tables[ORDERS.name].read()).to_pylist()
        service._order_rows = {r["order_ref"]: r for r in orders}
        controls = (await rt.tables[CONTROLS.name].read([("name", "=", HALTED)])).to_pylist()
        service.flows.halted = any(r["on"] for r in controls)
        log.info(
            "book restored",
            extra={"holdings": len(rows), "open": len(service.flows.book.open_holdings())},
        )
        return service

    # --- output: the bus and the tables ---------------------------------------------------

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
        writer = self.rt.writers[HOLDINGS.name]
        writer.add(holding_row(holding, self.client.now()))
        if durable:
            await writer.flush()

    def set_halted(self, on: bool, reason: str = "") -> None:
        self.flows.halted = on
        self.rt.writers[CONTROLS.name].add(
            {"name": HALTED, "on": on, "reason": reason, "updated_at": self.client.now()}
        )

    async def reconcile(self) -> None:
        findings = await self.flows.reconcile_positions()
        now = self.client.now()
        self.rt.writers[BROKER_POSITIONS.name].add(position_rows(self.client.ib.positions(), now))
        if findings:
            self.rt.writers[RECONCILIATION.name].add(finding_rows(findings, now))

    async def _broker_state(self, state: BrokerState, detail: str) -> None:
        log.info("broker connection", extra={"state": state.value, "detail": detail})
        await self.publish(
            BrokerConnectionChanged(market_time=self.client.now(), state=state, detail=detail)
        )

    def health(self) -> dict[str, Any]:
        return {
            "broker": self.client.state.value,
            "broker_ready": self.client.ready.is_set(),
            "halted": self.flows.halted,
            "working_orders": sum(not wo.done.is_set() for wo in self.orders.working.values()),
            "open_strategies": len(self.flows.book.open_holdings()),
        }

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.relay.start()
        await self.client.start()

    async def stop(self) -> None:
        await self.orders.stop()
        await self.relay.stop()
        await self.client.stop()
