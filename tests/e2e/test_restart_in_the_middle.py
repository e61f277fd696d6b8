"""Restart in the middle: kill -9 the decision service (then, separately, the monitor) while a
position is open, restart it, and the position is still monitored and its exit happens once.

Execution and entry (and whichever of monitor/decision is not under test) run in-process; the
service under test is a real subprocess with the same configuration, so SIGKILL leaves no chance
to flush, drain or ack.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fixtures.consumers import wait_acked
from fixtures.processes import Child
from fixtures.system import SERVICES, System

from shared.enums import Action, ExitResult, OrderPurpose
from shared.events import ExitExecuted, PositionSnapshot, StrategyBuilt

pytestmark = pytest.mark.slow


def _snapshots(system: System, strategy_id: str) -> int:
    return len(system.inbox.of(PositionSnapshot, lambda s: s.strategy_id == strategy_id))


async def _restart_in_the_middle(system: System, child: Child) -> None:
    name = child.name
    system.make_neutral("SPY")
    await child.start()
    # execution last: the paused market sends VIX once, so its readers listen first
    await system.start(*(n for n in SERVICES if n != name))
    await system.wait_market_data()
    built = await system.open_strategy("SPY")
    sid = built.strategy_id
    await _open_and_monitored(system, built)

    await child.kill()
    await child.start()
    # the restarted service is in the loop again: new snapshots of the position arrive
    seen = _snapshots(system, sid)
    system.sim.market.jump("SPY", 0.001)  # a tick so the monitor revalues at once
    await system.inbox.wait_for(
        PositionSnapshot, lambda s: s.strategy_id == sid, timeout=30, count=seen + 1
    )

    await system.take_profit(sid, Action.CLOSE, Action.REDUCE)
    closed = await system.inbox.wait_for(
        ExitExecuted,
        lambda e: e.strategy_id == sid and e.result is ExitResult.CLOSED,
        timeout=40,
    )
    assert closed.realized_pnl is not None and closed.realized_pnl > 0
    for service in SERVICES:  # a duplicate comes from a redelivery: every one is handled now
        await wait_acked(system.bus, service)

    exit_refs = [o.order_ref for o in system.orders_for(sid) if o.order_ref.split(":")[2] == "exit"]
    assert len(exit_refs) == len(set(exit_refs)) == 1, exit_refs
    entries = [o for o in system.orders_for(sid) if o.order_ref.split(":")[2] == OrderPurpose.ENTRY]
    assert len(entries) == 1
    closes = system.inbox.of(
        ExitExecuted, lambda e: e.strategy_id == sid and e.result is ExitResult.CLOSED
    )
    assert len(closes) == 1


async def _open_and_monitored(system: System, built: StrategyBuilt) -> None:
    """Until the open position has been valued and judged (the state a crash interrupts)."""
    await system.inbox.wait_for(
        PositionSnapshot, lambda s: s.strategy_id == built.strategy_id, timeout=30, count=2
    )


async def test_decision_killed_while_a_position_is_open_still_closes_it_once(
    system: System, spawn: Callable[..., Child]
):
    await _restart_in_the_middle(system, spawn("decision", system.config))


async def test_monitor_killed_while_a_position_is_open_still_closes_it_once(
    system: System, spawn: Callable[..., Child]
):
    await _restart_in_the_middle(system, spawn("monitor", system.config))
