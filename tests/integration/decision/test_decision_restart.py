"""kill -9 of the decision service (a real subprocess) while a position is open."""

from __future__ import annotations

import asyncio

import pytest
from fixtures.consumers import wait_acked
from fixtures.events import snapshot

from shared.bus import Bus
from shared.enums import Action, ExitResult
from shared.events import DecisionMade, ExitExecuted

pytestmark = pytest.mark.slow


async def test_restart_keeps_trailing_peak_and_reduce_done(bus: Bus, inbox, spawn) -> None:
    service = spawn("decision")
    await service.start()
    await bus.publish(snapshot(0, quantity=2, upl_pct=0.62))  # the peak
    await bus.publish(snapshot(30, quantity=2, upl_pct=0.55))
    reduce = await inbox.wait_for(DecisionMade, lambda d: d.action == Action.REDUCE)
    await bus.publish(
        ExitExecuted(
            strategy_id="s-1",
            action=Action.REDUCE,
            result=ExitResult.REDUCED,
            decision_id=reduce.decision_id,
            closed_quantity=1,
            remaining_quantity=1,
        )
    )
    await wait_acked(bus, "decision", "exits")  # its state committed: nothing to redeliver
    await service.kill()

    await service.start()
    # 55% again on the remaining 2 units: REDUCE was done, so nothing
    await bus.publish(snapshot(60, quantity=2, upl_pct=0.55))
    # 0.24 <= 0.40 x peak 0.62: only a restored peak arms the trailing stop
    for seconds in (90, 120, 150):
        await bus.publish(snapshot(seconds, quantity=2, upl_pct=0.24))
    close = await inbox.wait_for(DecisionMade, lambda d: d.action == Action.CLOSE)
    assert close.rule == "trailing_stop"
    await asyncio.sleep(1.0)
    decided = [(d.action, d.rule) for d in inbox.of(DecisionMade)]
    assert decided == [(Action.REDUCE, "take_profit"), (Action.CLOSE, "trailing_stop")]
