"""execution's wiring: durable consumers into the workflows, the chain/history responders.

- ``strategy.built`` → open the strategy (one order); ``decision.*`` → carry out the exit;
  ``cmd.close_all`` / ``cmd.halt`` / ``cmd.resume``;
- request/reply ``rpc.chain`` and ``rpc.history`` for entry (and monitor);
- the health endpoint reports the broker connection besides the runtime's own state.

Work that needs IB waits (bounded) for the connection to be synchronised; if it is not, the
message is retried later (``BrokerUnavailable`` is transient).
"""

from __future__ import annotations

import logging
from typing import Any

from services.execution.app import ExecutionService
from shared.bus.client import Delivery
from shared.events import (
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

READY_WAIT_S = 5.0


class ExecutionHandlers:
    def __init__(self, svc: ExecutionService, ready_wait_s: float) -> None:
        self.svc = svc
        self.ready_wait_s = ready_wait_s

    async def on_strategy_built(self, event: StrategyBuilt, _delivery: Delivery) -> None:
        await self.svc.client.wait_ready(self.ready_wait_s)
        await self.svc.flows.on_strategy_built(event)

    async def on_decision(self, event: DecisionMade, _delivery: Delivery) -> None:
        await self.svc.client.wait_ready(self.ready_wait_s)
        await self.svc.flows.execute_exit_decision(event)

    async def on_command(self, event: Any, _delivery: Delivery) -> None:
        if isinstance(event, Halt):
            self.svc.set_halted(True, event.reason)
            log.warning("trading halted: new entries are denied", extra={"reason": event.reason})
        elif isinstance(event, Resume):
            self.svc.set_halted(False)
            log.info("trading resumed")
        elif isinstance(event, CloseAll):
            await self.svc.client.wait_ready(self.ready_wait_s)
            await self.svc.flows.execute_close_all(event)


async def wire(rt: Runtime) -> None:
    svc = await ExecutionService.load(rt)
    rt.add_health(svc.health)  # the broker state, halt, working orders, open strategies
    await svc.start()
    rt.on_stop(svc.stop)

    # a handler must finish well within ack_wait, or the message comes back while it works
    ready_wait = min(READY_WAIT_S, rt.config.nats.ack_wait_s / 2)
    handlers = ExecutionHandlers(svc, ready_wait)
    await rt.bus.serve(rt.subjects.rpc_chain(), svc.relay.on_chain_requested, ChainRequested)
    await rt.bus.serve(rt.subjects.rpc_history(), svc.relay.on_history_requested, HistoryRequested)
    await rt.consume("strategy_built", handlers.on_strategy_built, StrategyBuilt)
    await rt.consume("decisions", handlers.on_decision, DecisionMade)
    await rt.consume("commands", handlers.on_command, CloseAll | Halt | Resume)
