"""Closing a holding, all of it or part: one order on the reversed legs, walked from mid
toward the natural price, or a marketable limit when the exit is immediate."""

from __future__ import annotations

from services.execution.book import Holding
from services.execution.brackets import Brackets
from services.execution.order_manager import Filled, WorkingOrder
from services.execution.orders import (
    CLOSING_PURPOSE,
    OrderRole,
    OrderSpec,
    closing_legs,
    exit_ref,
)
from services.execution.placing import OrderPlacer
from services.execution.reports import ExitReports
from shared.enums import Action, Urgency

IMMEDIATE_SLIPPAGE = 0.02  # per leg, per share


class Closer:
    def __init__(self, placer: OrderPlacer, brackets: Brackets, reports: ExitReports) -> None:
        self.placer = placer
        self.brackets = brackets
        self.reports = reports

    async def close(
        self,
        h: Holding,
        units: int,
        role: OrderRole,
        urgency: Urgency,
        decision_id: str,
        action: Action,
    ) -> None:
        """Place the order closing ``units`` of ``h`` for ``decision_id`` (or say why not)."""
        placer = self.placer
        if not placer.breaker.allow(placer.now(), is_exit=True):
            why = "circuit breaker open: exits are held too (breaker.allow_exits_when_open)"
            await self.reports.failed(h.strategy_id, action, decision_id, None, why)
            return
        await self.brackets.cancel(h)
        units = min(units, h.held)
        if units == 0:
            why = "already closed by its bracket order"
            await self.reports.failed(h.strategy_id, action, decision_id, None, why)
            return
        legs = list(closing_legs(h.legs))
        mid, natural = await placer.quoted(h.symbol, legs)
        marketable = urgency is Urgency.IMMEDIATE and placer.config.immediate_marketable
        # an immediate exit may give a few ticks past the natural price it saw, because the
        # quotes it priced from can be a tick old by the time the order arrives
        floor = natural - IMMEDIATE_SLIPPAGE * len(legs) if marketable else natural
        spec = OrderSpec(
            strategy_id=h.strategy_id,
            symbol=h.symbol,
            order_ref=exit_ref(h.strategy_id, role, h.exit_seq),
            purpose=CLOSING_PURPOSE[role],
            role=role,
            legs=tuple(legs),
            quantity=units,
            limit_price=natural if marketable else mid,
            worst_price=floor,
            natural_price=floor,
        )
        h.start_exit(decision_id, placer.now())
        await placer.place(spec, [h])

    async def on_fill(self, wo: WorkingOrder, fill: Filled) -> None:
        h = self.placer.book.get(wo.spec.strategy_id)
        if h is not None and h.first_time(fill.key):
            h.apply_exit_fill(fill.key, fill.units, fill.net, self.placer.now())
            await self.placer.save(h)

    async def on_done(self, wo: WorkingOrder) -> None:
        self.placer.order_ended(wo)
        h = self.placer.book.get(wo.spec.strategy_id)
        if h is None:
            return
        action = Action.REDUCE if wo.spec.role is OrderRole.REDUCE else Action.CLOSE
        h.release(self.placer.now())
        await self.placer.save(h)
        await self.reports.result(h, action, [wo.spec.order_ref], wo)
