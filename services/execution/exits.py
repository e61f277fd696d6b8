"""Exits: a decision (CLOSE, REDUCE, ROLL) or the operator's close-all carried out on a holding.

At most one exit works on a strategy at a time, whatever path asks for it: the check that none
is working and the placing of one happen under the strategy's lock, because the decisions and
the commands are consumed side by side and placing awaits the broker. A redelivered decision
whose exit is working or done changes nothing; a decision for a strategy whose opening order
has filled but not yet ended is retried shortly (transient).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from services.execution.closing import Closer
from services.execution.orders import OrderRole, reduce_units
from services.execution.placing import OrderPlacer
from services.execution.reports import ExitReports
from services.execution.rolls import RollWorkflow
from shared.enums import Action, Urgency
from shared.errors import Transient
from shared.events import CloseAll, DecisionMade

log = logging.getLogger(__name__)


class ExitWorkflow:
    def __init__(
        self, placer: OrderPlacer, closer: Closer, rolls: RollWorkflow, reports: ExitReports
    ) -> None:
        self.placer = placer
        self.closer = closer
        self.rolls = rolls
        self.reports = reports
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def execute_exit_decision(self, d: DecisionMade) -> None:
        if d.action is Action.HOLD:
            return
        async with self._locks[d.strategy_id]:
            await self._exit(d)

    async def _exit(self, d: DecisionMade) -> None:
        h = self.placer.book.get(d.strategy_id)
        if h is not None and h.working_decision == d.decision_id:
            return  # a redelivery of the decision whose exit is working or done
        if h is None or not h.is_open:
            why = "unknown strategy" if h is None else f"strategy is {h.status.value}"
            await self.reports.failed(d.strategy_id, d.action, d.decision_id, d.rule, why)
            return
        if h.working is not None:
            if h.working.opens(h.strategy_id):
                # filled, but its order has not ended yet: the decision is retried shortly
                raise Transient(f"the order opening {h.strategy_id} is still working")
            log.info("an exit is already working", extra={"strategy_id": h.strategy_id})
            return
        if d.action is Action.ROLL:
            await self.rolls.roll(h, d)
            return
        units = h.held
        role = OrderRole.CLOSE
        if d.action is Action.REDUCE:
            role = OrderRole.REDUCE
            units = reduce_units(h.held, d.close_ratio or 0.5)
            if units == 0:
                why = f"{h.held} unit(s) cannot be reduced by {d.close_ratio} in whole contracts"
                await self.reports.failed(h.strategy_id, d.action, d.decision_id, d.rule, why)
                return
        await self.closer.close(h, units, role, d.urgency, d.decision_id, d.action)

    async def execute_close_all(self, cmd: CloseAll) -> None:
        for h in self.placer.book.open_holdings(cmd.symbol):
            async with self._locks[h.strategy_id]:
                if h.working is not None or not h.is_open:
                    continue
                # an operator's close-all means out now: a marketable limit, not a slow walk
                # that a moving market can outrun
                await self.closer.close(
                    h,
                    h.held,
                    OrderRole.CLOSE,
                    Urgency.IMMEDIATE,
                    f"close_all:{cmd.event_id}",
                    Action.CLOSE,
                )
