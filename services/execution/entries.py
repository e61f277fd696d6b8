"""Entries: a built strategy checked from first principles (``validation``) and opened as one
order (a BAG of its legs), its fills booked, and its brackets placed once it filled.

``halted`` (the operator's halt) and an open circuit breaker deny new entries only.
"""

from __future__ import annotations

import logging

from services.execution.book import Holding
from services.execution.brackets import Brackets
from services.execution.order_manager import Filled, WorkingOrder
from services.execution.orders import OrderRole, OrderSpec, net_prices
from services.execution.placing import QUOTE_WAIT_S, OrderPlacer
from services.execution.validation import contract_problems, structure_problems
from shared.domain.calendar import trading_date
from shared.domain.strategy import order_ref
from shared.enums import OrderStatus, StrategyStatus
from shared.events import Leg, OrderDenied, StrategyBuilt

log = logging.getLogger(__name__)


class EntryOrderWorkflow:
    def __init__(self, placer: OrderPlacer, brackets: Brackets) -> None:
        self.placer = placer
        self.brackets = brackets
        self.halted = False

    def _refusal(self, ev: StrategyBuilt) -> str | None:
        """Why ``ev`` may not open, from what needs no broker (size, structure, prices)."""
        now = self.placer.now()
        problems = structure_problems(ev, self.placer.config, trading_date(now))
        if problems:
            return "; ".join(problems)
        if self.halted:
            return "trading halted: new entries are denied"
        return None

    async def _contract_refusal(self, ev: StrategyBuilt, legs: list[Leg]) -> str | None:
        """Why ``legs`` may not open: a con_id that is not the contract its leg claims."""
        facts = await self.placer.client.contract_facts(leg.con_id or 0 for leg in legs)
        problems = contract_problems(ev.symbol, legs, facts)
        if problems:
            return "; ".join(problems)
        now = self.placer.now()
        # asked last: in half-open the breaker lets this one order through as its trial
        if not self.placer.breaker.allow(now):
            return f"circuit breaker open until {self.placer.breaker.reopens_at(now)}"
        return None

    async def on_strategy_built(self, ev: StrategyBuilt) -> None:
        placer = self.placer
        ref = order_ref(ev.strategy_id, ev.purpose)
        known = placer.book.get(ev.strategy_id)
        if known is not None and (known.working is None or ref in placer.orders.working):
            log.info("strategy already handled", extra={"strategy_id": ev.strategy_id})
            return
        if known is None:
            refusal = self._refusal(ev)
            if refusal:
                await self._deny(ev, ref, refusal)
                return
        try:
            legs = await placer.md.qualify(ev.symbol, list(ev.legs))
        except ValueError as exc:  # a leg that is not a listed contract
            await self._deny(ev, ref, str(exc))
            return
        if known is None:
            refusal = await self._contract_refusal(ev, legs)
            if refusal:
                await self._deny(ev, ref, refusal)
                return
        await placer.md.track(ev.symbol, legs)
        await placer.md.wait_quotes(legs, timeout_s=QUOTE_WAIT_S)
        prices = net_prices(legs, placer.md.quotes)
        spec = OrderSpec(
            strategy_id=ev.strategy_id,
            symbol=ev.symbol,
            order_ref=ref,
            purpose=ev.purpose,
            role=OrderRole.ENTRY,
            legs=tuple(legs),
            quantity=ev.quantity,
            limit_price=ev.limit_price,
            worst_price=ev.worst_price,
            natural_price=prices[1] if prices else ev.worst_price,
            oca_group=ev.oca_group,
            strategy_type=ev.strategy_type,
            rolled_from=ev.rolled_from,
            take_profit=ev.take_profit if ev.bracket else None,
            stop_loss=ev.stop_loss if ev.bracket else None,
        )
        holding = known or placer.book.add(
            Holding(
                strategy_id=ev.strategy_id,
                symbol=ev.symbol,
                strategy_type=ev.strategy_type,
                legs=tuple(legs),
                target_quantity=ev.quantity,
                rolled_from=ev.rolled_from,
                updated_at=placer.now(),
            )
        )
        await placer.place(spec, [holding], ev.correlation_id or ev.strategy_id)

    async def _deny(self, ev: StrategyBuilt, ref: str, reason: str) -> None:
        placer = self.placer
        holding = Holding(
            strategy_id=ev.strategy_id,
            symbol=ev.symbol,
            strategy_type=ev.strategy_type,
            legs=tuple(ev.legs),
            target_quantity=ev.quantity,
            status=StrategyStatus.FAILED,
            status_reason=reason,
            updated_at=placer.now(),
        )
        placer.book.add(holding)
        await placer.save(holding)
        await placer.publish(
            OrderDenied(
                correlation_id=ev.correlation_id or ev.strategy_id,
                market_time=placer.now(),
                strategy_id=ev.strategy_id,
                order_ref=ref,
                purpose=ev.purpose,
                reason=reason,
            )
        )

    async def on_fill(self, wo: WorkingOrder, fill: Filled) -> None:
        """An opening fill (an entry, or the second step of a roll) booked on its strategy."""
        h = self.placer.book.get(wo.spec.strategy_id)
        if h is not None and h.first_time(fill.key):
            h.apply_entry_fill(fill.units, fill.net, self.placer.now())
            await self.placer.save(h)

    async def on_done(self, wo: WorkingOrder) -> None:
        placer = self.placer
        placer.order_ended(wo)
        h = placer.book.get(wo.spec.strategy_id)
        if h is None:
            return
        h.working = None
        now = placer.now()
        if wo.status is OrderStatus.DRY_RUN:
            h.status_reason = "dry run: no order placed"
        elif wo.filled == 0 and h.held == 0:
            h.move(StrategyStatus.FAILED, now, wo.reason or f"entry order {wo.status.value}")
        h.updated_at = now
        await placer.save(h)
        if h.held > 0 and (wo.spec.take_profit is not None or wo.spec.stop_loss is not None):
            await self.brackets.place(h, wo.spec)
