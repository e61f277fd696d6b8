"""What an exit did, told once: ``ExitExecuted`` with the units its orders closed, or FAILED
with the reason (a redelivered decision answered again is the same event: de-duplicated)."""

from __future__ import annotations

from collections.abc import Iterable

from services.execution.book import Holding
from services.execution.order_manager import WorkingOrder
from services.execution.placing import OrderPlacer
from shared.domain.strategy import derive_id
from shared.enums import Action, ExitResult
from shared.events import ExitExecuted


def exit_event_id(
    strategy_id: str, decision_id: str | None, result: ExitResult, refs: Iterable[str]
) -> str:
    return derive_id("exit", strategy_id, decision_id or "", result.value, *refs)


class ExitReports:
    def __init__(self, placer: OrderPlacer) -> None:
        self.placer = placer

    async def result(
        self,
        h: Holding,
        action: Action,
        refs: list[str],
        wo: WorkingOrder,
        *,
        new_strategy_id: str | None = None,
        reason: str = "",
    ) -> None:
        """What the exit working on ``h`` did, from the units its orders closed."""
        if h.exit_units == 0:
            why = reason or wo.reason or f"{wo.spec.purpose.value} order {wo.status.value}"
            await self.failed(h.strategy_id, action, h.working_decision, None, why, wo)
            return
        if new_strategy_id is not None:
            result = ExitResult.ROLLED
        else:
            result = ExitResult.CLOSED if h.held == 0 else ExitResult.REDUCED
        await self.placer.publish(
            ExitExecuted(
                event_id=exit_event_id(h.strategy_id, h.working_decision, result, refs),
                correlation_id=h.strategy_id,
                market_time=self.placer.now(),
                strategy_id=h.strategy_id,
                action=action,
                result=result,
                decision_id=h.working_decision,
                closed_quantity=h.exit_units,
                remaining_quantity=h.held,
                realized_pnl=round(h.exit_pnl, 2),
                new_strategy_id=new_strategy_id,
                order_refs=refs,
                reason=reason,
                exec_ids=list(h.exit_fills),
            )
        )

    async def failed(
        self,
        strategy_id: str,
        action: Action,
        decision_id: str | None,
        rule: str | None,
        reason: str,
        wo: WorkingOrder | None = None,
    ) -> None:
        h = self.placer.book.get(strategy_id)
        refs = [wo.spec.order_ref] if wo else []
        await self.placer.publish(
            ExitExecuted(
                event_id=exit_event_id(strategy_id, decision_id, ExitResult.FAILED, refs),
                correlation_id=strategy_id,
                market_time=self.placer.now(),
                strategy_id=strategy_id,
                action=action,
                result=ExitResult.FAILED,
                decision_id=decision_id,
                rule=rule,
                remaining_quantity=h.held if h else 0,
                order_refs=refs,
                reason=reason,
            )
        )
