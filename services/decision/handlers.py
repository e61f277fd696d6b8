"""decision's wiring: snapshots (core ``position.*``) -> DecisionWorkflow -> tables, then bus.

A decision is stored (its row and the rule state that says it is working) before it is
published: a crash in between republishes it at start-up with the same id, which JetStream
de-duplicates, instead of losing it or deciding it twice. The rule state of a HOLD (a new
trailing peak) is written without waiting: at worst a restart forgets the last peak update.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.decision.tables import (
    ALERTS,
    DECISIONS,
    RULE_STATES,
    alert_from_row,
    alert_row,
    decision_row,
    state_from_row,
    state_row,
)
from services.decision.workflow import DecisionWorkflow
from shared.bus.client import Delivery
from shared.clock import Clock
from shared.domain.alerts import UnknownAlert
from shared.enums import Action, AlertStatus
from shared.errors import Invalid
from shared.events import AcknowledgeAlert, ExitExecuted, PositionSnapshot, ResolveAlert
from shared.service import Runtime

log = logging.getLogger(__name__)


class DecisionHandlers:
    def __init__(self, rt: Runtime, workflow: DecisionWorkflow, clock: Clock) -> None:
        self.rt = rt
        self.workflow = workflow
        self.clock = clock

    async def on_snapshot(self, snapshot: PositionSnapshot) -> None:
        out = self.workflow.on_snapshot(snapshot)
        now = self.clock.now()
        pending: list[asyncio.Future[None]] = []
        if out.stored is not None:
            pending.append(self.rt.writers[RULE_STATES.name].add(state_row(out.stored, now)))
        acting = out.decision is not None and out.decision.action is not Action.HOLD
        if acting:
            pending.append(self.rt.writers[DECISIONS.name].add(decision_row(out.decision)))
        if out.alerts:
            rows = [alert_row(self.workflow.alerts.get(a.alert_id)) for a in out.alerts]
            pending.append(self.rt.writers[ALERTS.name].add(rows))
        if acting:
            # stored before it is published (see the module doc), committed now
            await self.rt.flush_writers()
            await asyncio.gather(*pending)
        if out.decision is not None:
            await self.rt.bus.publish(out.decision)
        for alert in out.alerts:
            await self.rt.bus.publish(alert)

    async def on_exit_executed(self, event: ExitExecuted, delivery: Delivery) -> None:
        stored = self.workflow.on_exit_executed(event)
        # committed by the runtime before the message is acked
        self.rt.writers[RULE_STATES.name].add(state_row(stored, self.clock.now()))

    async def on_alert_command(self, command: Any, delivery: Delivery) -> None:
        try:
            result = self.workflow.on_alert_command(command)
        except UnknownAlert as exc:
            raise Invalid(f"no alert {command.alert_id}") from exc
        if result is None:
            return  # already in that status: a redelivered command
        alert, changed = result
        self.rt.writers[ALERTS.name].add(alert_row(alert))
        await self.rt.bus.publish(changed)

    async def republish_working(self) -> None:
        for decision in self.workflow.working_decisions():
            await self.rt.bus.publish(decision)


async def wire(rt: Runtime) -> None:
    states = (await rt.tables[RULE_STATES.name].read()).to_pylist()
    alerts = (
        await rt.tables[ALERTS.name].read(
            [("status", "in", [AlertStatus.ACTIVE.value, AlertStatus.ACKNOWLEDGED.value])]
        )
    ).to_pylist()
    clock = rt.clock  # market time: the bus feeds it every event's market_time
    workflow = DecisionWorkflow(
        rt.config,
        clock,
        states=[state_from_row(r) for r in states],
        alerts=[alert_from_row(r) for r in alerts],
    )
    handlers = DecisionHandlers(rt, workflow, clock)
    log.info("rule states restored", extra={"strategies": len(states), "alerts": len(alerts)})
    await handlers.republish_working()
    await rt.consume("exits", handlers.on_exit_executed, ExitExecuted)
    await rt.consume("commands", handlers.on_alert_command, AcknowledgeAlert | ResolveAlert)
    await rt.subscribe(handlers.on_snapshot, PositionSnapshot)
