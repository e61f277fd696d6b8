"""execution assembled on its runtime, and its wiring: durable consumers into the workflows,
the chain/history responders, the health figures.

- ``strategy.built`` → open the strategy (one order); ``decision.*`` → carry out the exit;
  ``cmd.close_all`` / ``cmd.halt`` / ``cmd.resume``;
- request/reply ``rpc.chain`` and ``rpc.history`` for entry (and monitor);
- the health endpoint reports the lease and the broker connection besides the runtime's own
  state.

Only the holder of the account's lease (``lease.py``) loads the book, connects to IB, consumes
and answers; another instance stands by until the lease is its own. A holder that loses it
disconnects from IB and stops with exit status 1, to be started again as a standby.

The book is rebuilt from the holdings table at start (a standby's: as the last holder left it,
when it takes over), and the fills already recorded are loaded
so that executions replayed by IB after a restart or reconnect are not recorded twice. Work that
needs IB waits (bounded) for the connection to be synchronised; if it is not, the message is
retried later (``BrokerUnavailable`` is transient).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from services.execution.book import Holding, HoldingBook
from services.execution.ib_client import IBClient
from services.execution.lease import Lease, open_lease
from services.execution.market_data import MarketDataRelay
from services.execution.order_manager import OrderManager, WorkingOrder
from services.execution.placing import OrderPlacer
from services.execution.reconcile import Finding, FindingKind, book_positions, reconcile
from services.execution.recorder import Recorder, Records
from services.execution.rolls import RollSetup
from services.execution.tables import (
    BROKER_POSITIONS,
    CONTROLS,
    FILLS,
    HOLDINGS,
    ORDERS,
    RECONCILIATION,
    finding_rows,
    holding_from_row,
    position_rows,
)
from services.execution.workflow import ExecutionWorkflows
from shared.bus.client import Delivery
from shared.clock import MarketClock
from shared.config import Config
from shared.domain.alerts import alert_id
from shared.domain.breaker import CircuitBreaker
from shared.domain.builders import StrategyBuilder
from shared.domain.strategy import derive_id
from shared.enums import BrokerState, Severity
from shared.events import (
    AlertRaised,
    BrokerConnectionChanged,
    BrokerPositionsReconciled,
    ChainRequested,
    CloseAll,
    DecisionMade,
    Halt,
    HistoryRequested,
    Resume,
    StrategyBuilt,
)
from shared.service import Runtime

log = logging.getLogger(__name__)

HALTED = "halted"
READY_WAIT_S = 5.0


class ExecutionService:
    """The parts of one running execution service and how they are connected."""

    def __init__(
        self,
        config: Config,
        records: Records,
        holdings: list[Holding] | None = None,
        recorded_fills: set[str] | None = None,
        clock: MarketClock | None = None,
        may_trade: Callable[[], bool] = lambda: True,
    ) -> None:
        self.records = records
        # the gateway's time drives the service clock; orders go out only while ``may_trade``
        self.client = IBClient(config.ib, clock, may_trade)
        publish = records.publish
        self.relay = MarketDataRelay(
            self.client, config.universe, publish, config.ib.market_data_max_rate_hz
        )
        self.orders = OrderManager(
            self.client,
            publish,
            config.orders,
            self.relay.quotes,
            recorded_fills,
            on_overfill=self._overfilled,
        )
        self.placer = OrderPlacer(
            self.client,
            self.orders,
            HoldingBook(holdings),
            CircuitBreaker(config.breaker),
            self.relay,
            config.orders,
            publish,
            records.save,
        )
        rules = config.rules
        self.flows = ExecutionWorkflows(
            self.placer,
            RollSetup(
                builder=StrategyBuilder(
                    config.builder, config.entry.max_position_risk_pct, rules.dte_roll.forced_at_dte
                ),
                rule=rules.dte_roll,
                time_exit_dte=rules.time_exit.at_dte,
            ),
        )
        self.client.on_state(self._broker_state)
        # after every (re)connect, in this order: quotes flowing again, orders re-attached and
        # missed fills recorded, saved working orders resumed, then positions compared
        self.client.on_synchronise(self.relay.resubscribe)
        self.client.on_synchronise(self.orders.resynchronise)
        self.client.on_synchronise(self.placer.resume_working)
        self.client.on_synchronise(self.reconcile)

    @classmethod
    async def load(cls, rt: Runtime, may_trade: Callable[[], bool]) -> ExecutionService:
        rows = (await rt.tables[HOLDINGS.name].read()).to_pylist()
        fills = await rt.tables[FILLS.name].read(columns=["exec_id"])
        orders = (await rt.tables[ORDERS.name].read()).to_pylist()
        service = cls(
            rt.config,
            Recorder(rt, {r["order_ref"]: r for r in orders}),
            [holding_from_row(r) for r in rows],
            set(fills.column("exec_id").to_pylist()),
            # a test may hand the runtime a fixed clock: the service then keeps its own
            rt.clock if isinstance(rt.clock, MarketClock) else None,
            may_trade,
        )
        controls = (await rt.tables[CONTROLS.name].read([("name", "=", HALTED)])).to_pylist()
        service.flows.entries.halted = any(r["on"] for r in controls)
        log.info(
            "book restored",
            extra={"holdings": len(rows), "open": len(service.book.open_holdings())},
        )
        return service

    @property
    def book(self) -> HoldingBook:
        return self.placer.book

    def set_halted(self, on: bool, reason: str = "") -> None:
        self.flows.entries.halted = on
        self.records.add_rows(
            CONTROLS.name,
            {"name": HALTED, "on": on, "reason": reason, "updated_at": self.client.now()},
        )

    async def _overfilled(self, wo: WorkingOrder, excess: int) -> None:
        """More filled than asked: nothing is trusted until an operator looks (entries halt)."""
        spec = wo.spec
        reason = (
            f"{spec.order_ref} filled {excess} unit(s) beyond its {spec.quantity}: the excess "
            "is held at the broker but booked to no strategy; entries halted"
        )
        self.set_halted(True, reason)
        await self.records.publish(
            AlertRaised(
                market_time=self.client.now(),
                alert_id=alert_id(derive_id("overfill", spec.order_ref, str(wo.filled + excess))),
                severity=Severity.CRITICAL,
                title="fill beyond the order's size",
                message=reason,
                strategy_id=spec.strategy_id,
                source="execution.orders",
            )
        )

    async def reconcile(self) -> list[Finding]:
        """Compare the broker's positions with the book; every difference is a critical alert."""
        account = self.client.config.account
        positions = self.client.positions()
        broker: dict[int, float] = {}
        names: dict[int, str] = {}
        for pos in positions:
            if account and pos.account != account:
                continue
            broker[pos.con_id] = broker.get(pos.con_id, 0.0) + pos.position
            names[pos.con_id] = pos.description
        held = [(h.legs, h.held) for h in self.book.holdings.values() if h.held > 0]
        ours = book_positions(held)
        findings = reconcile(broker, ours, names)
        now = self.client.now()
        publish = self.records.publish
        for f in findings:
            await publish(
                AlertRaised(
                    market_time=now,
                    alert_id=alert_id(derive_id("reconcile", now.isoformat(), str(f.con_id))),
                    severity=Severity.CRITICAL,
                    title=f"broker position {f.kind.value}",
                    message=f.detail,
                    source="execution.reconcile",
                )
            )
        kinds = [f.kind for f in findings]
        await publish(
            BrokerPositionsReconciled(
                market_time=now,
                matched=len(set(broker) | set(ours)) - len(findings),
                unknown=kinds.count(FindingKind.UNKNOWN),
                missing=kinds.count(FindingKind.MISSING),
                mismatched=kinds.count(FindingKind.MISMATCH),
                details=[f.detail for f in findings],
            )
        )
        self.records.add_rows(BROKER_POSITIONS.name, position_rows(positions, now))
        if findings:
            self.records.add_rows(RECONCILIATION.name, finding_rows(findings, now))
        return findings

    async def _broker_state(self, state: BrokerState, detail: str) -> None:
        log.info("broker connection", extra={"state": state.value, "detail": detail})
        await self.records.publish(
            BrokerConnectionChanged(market_time=self.client.now(), state=state, detail=detail)
        )

    def health(self) -> dict[str, Any]:
        unsaved = sorted(self.records.unsaved)
        return {
            **({"status": "unhealthy"} if unsaved else {}),
            "unsaved_records": unsaved,
            "broker": self.client.state.value,
            "broker_ready": self.client.ready.is_set(),
            "halted": self.flows.entries.halted,
            "working_orders": sum(not wo.done.is_set() for wo in self.orders.working.values()),
            "open_strategies": len(self.book.open_holdings()),
        }

    async def start(self) -> None:
        await self.relay.start()
        await self.client.start()

    async def stop(self) -> None:
        await self.orders.stop()
        await self.relay.stop()
        await self.client.stop()


class ExecutionHandlers:
    def __init__(self, svc: ExecutionService, ready_wait_s: float) -> None:
        self.svc = svc
        self.ready_wait_s = ready_wait_s

    async def on_strategy_built(self, event: StrategyBuilt, _delivery: Delivery) -> None:
        await self.svc.client.wait_ready(self.ready_wait_s)
        await self.svc.flows.entries.on_strategy_built(event)

    async def on_decision(self, event: DecisionMade, _delivery: Delivery) -> None:
        await self.svc.client.wait_ready(self.ready_wait_s)
        await self.svc.flows.exits.execute_exit_decision(event)

    async def on_command(self, event: Any, _delivery: Delivery) -> None:
        if isinstance(event, Halt):
            self.svc.set_halted(True, event.reason)
            log.warning("trading halted: new entries are denied", extra={"reason": event.reason})
        elif isinstance(event, Resume):
            self.svc.set_halted(False)
            log.info("trading resumed")
        elif isinstance(event, CloseAll):
            await self.svc.client.wait_ready(self.ready_wait_s)
            await self.svc.flows.exits.execute_close_all(event)


async def wire(rt: Runtime) -> None:
    lease = await open_lease(rt.bus, rt.config)
    rt.add_health(lambda: {"lease": lease.role.value})
    if await lease.try_acquire():
        await _trade(rt, lease)
        return
    standby = asyncio.create_task(_stand_by(rt, lease), name="execution-standby")
    rt.on_stop(lambda: _cancel(standby))


async def _stand_by(rt: Runtime, lease: Lease) -> None:
    await lease.acquire()
    try:
        await _trade(rt, lease)
    except Exception:
        log.exception("taking over as the active execution failed")
        rt.request_stop(exit_code=1)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _trade(rt: Runtime, lease: Lease) -> None:
    """The lease is this instance's: renew it, load the book (as the last holder left it),
    connect to IB, consume and answer; give it all up once the lease is lost."""
    renewing = asyncio.create_task(lease.keep(), name="execution-lease")

    async def release() -> None:
        await _cancel(renewing)
        await lease.release()

    # registered before svc.stop, so it runs after it: IB is disconnected before a standby
    # may take the lease and connect
    rt.on_stop(release)
    svc = await ExecutionService.load(rt, lease.valid)
    rt.add_health(svc.health)  # the broker state, halt, working orders, open strategies
    await svc.start()
    rt.on_stop(svc.stop)

    async def give_up() -> None:
        await lease.lost.wait()
        await svc.stop()  # nothing goes out any more (IBClient asks the lease); now off IB
        rt.request_stop(exit_code=1)

    given_up = asyncio.create_task(give_up(), name="execution-lease-lost")
    rt.on_stop(lambda: _cancel(given_up))

    # a handler must finish well within ack_wait, or the message comes back while it works
    ready_wait = min(READY_WAIT_S, rt.config.nats.ack_wait_s / 2)
    handlers = ExecutionHandlers(svc, ready_wait)
    await rt.bus.serve(rt.subjects.rpc_chain(), svc.relay.on_chain_requested, ChainRequested)
    await rt.bus.serve(rt.subjects.rpc_history(), svc.relay.on_history_requested, HistoryRequested)
    await rt.consume("strategy_built", handlers.on_strategy_built, StrategyBuilt)
    await rt.consume("decisions", handlers.on_decision, DecisionMade)
    await rt.consume("commands", handlers.on_command, CloseAll | Halt | Resume)
