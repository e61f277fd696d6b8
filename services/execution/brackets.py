"""Brackets: a take-profit limit and a stop on the closing combo, one OCA group, placed once
the entry filled (IB cancels the other when one fills).

Placed after the fill rather than as IB child orders, because an IB child must trade the
parent's own contract and our closing combo is its reverse.
"""

from __future__ import annotations

import asyncio
import contextlib

from services.execution.book import Holding
from services.execution.order_manager import Filled, WorkingOrder
from services.execution.orders import OrderRole, OrderSpec, bracket_refs, closing_legs
from services.execution.placing import OrderPlacer
from services.execution.reports import ExitReports
from shared.enums import Action, OrderPurpose

CANCEL_WAIT_S = 5.0


class Brackets:
    def __init__(self, placer: OrderPlacer, reports: ExitReports) -> None:
        self.placer = placer
        self.reports = reports

    async def place(self, h: Holding, entry: OrderSpec) -> None:
        """The standing exits ``entry`` asked for, on what it filled."""
        tp_ref, sl_ref = bracket_refs(h.strategy_id)
        legs = closing_legs(h.legs)
        levels = ((tp_ref, entry.take_profit, False), (sl_ref, entry.stop_loss, True))
        specs = tuple(
            OrderSpec(
                strategy_id=h.strategy_id,
                symbol=h.symbol,
                order_ref=ref,
                purpose=OrderPurpose.EXIT,
                role=OrderRole.BRACKET,
                legs=legs,
                quantity=h.held,
                limit_price=price,
                worst_price=price,
                oca_group=f"v6:{h.strategy_id}:bracket",
                stop=stop,
            )
            for ref, price, stop in levels
            if price is not None
        )
        h.brackets = specs
        await self.placer.save(h, durable=True)
        await self.placer.place_standing(specs)

    async def on_fill(self, wo: WorkingOrder, fill: Filled) -> None:
        h = self.placer.book.get(wo.spec.strategy_id)
        if h is None or not h.first_time(fill.key):
            return
        now = self.placer.now()
        if h.working_decision != wo.spec.order_ref:
            h.start_exit(wo.spec.order_ref, now)
        h.apply_exit_fill(fill.key, fill.units, fill.net, now)
        await self.placer.save(h)

    async def on_done(self, wo: WorkingOrder) -> None:
        self.placer.order_ended(wo)
        h = self.placer.book.get(wo.spec.strategy_id)
        if h is None:
            return
        h.brackets = tuple(b for b in h.brackets if b.order_ref != wo.spec.order_ref)
        if wo.filled == 0:  # cancelled: its sibling filled, or another exit took over
            await self.placer.save(h)
            return
        # the broker cancels the rest of the OCA group, but not a sibling placed after the fill
        await self.cancel(h)
        h.release(self.placer.now())
        await self.placer.save(h)
        await self.reports.result(h, Action.CLOSE, [wo.spec.order_ref], wo)

    async def cancel(self, h: Holding) -> None:
        """Another exit takes over: the standing bracket orders go first (bounded wait)."""
        for spec in h.brackets:
            wo = self.placer.orders.working.get(spec.order_ref)
            if wo is not None and not wo.done.is_set():
                self.placer.orders.cancel(wo)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wo.done.wait(), CANCEL_WAIT_S)
