"""The closed loop across the real services: entry → combo order → fills → monitoring →
decision → exit, against the IB simulator, with orders counted at the simulator."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import System

from shared.enums import Action, ExitResult, OrderPurpose, StrategyType
from shared.events import AlertRaised, DecisionMade, ExitExecuted, PositionClosed, PositionSnapshot

pytestmark = pytest.mark.slow


async def _take_profit(system: System, strategy_id: str) -> DecisionMade:
    """Move the market so the condor has earned most of its credit: IV collapses, time passes."""
    system.sim.market.shock_iv(-0.6)
    system.sim.market.advance(dt.timedelta(days=3))
    return await system.inbox.wait_for(
        DecisionMade,
        lambda d: d.strategy_id == strategy_id and d.action is not Action.HOLD,
        timeout=30,
    )


async def test_exit_workflow_close(system: System):
    system.make_neutral("SPY")
    await system.start()
    await system.wait_market_data()
    built = await system.open_strategy("SPY")
    assert built.strategy_type is StrategyType.IRON_CONDOR

    decision = await _take_profit(system, built.strategy_id)
    assert decision.action in (Action.CLOSE, Action.REDUCE)
    snapshot = system.inbox.of(PositionSnapshot, lambda s: s.strategy_id == built.strategy_id)[-1]
    assert snapshot.upl_pct > 0.5  # a profit, with the right sign for a credit condor

    exit_ = await system.inbox.wait_for(
        ExitExecuted,
        lambda e: e.strategy_id == built.strategy_id and e.result is ExitResult.CLOSED,
        timeout=40,
    )
    assert exit_.realized_pnl is not None and exit_.realized_pnl > 0
    await system.inbox.wait_for(PositionClosed, lambda e: e.strategy_id == built.strategy_id)
    assert system.inbox.of(AlertRaised, lambda a: a.strategy_id == built.strategy_id)
    purposes = [o.order_ref.split(":")[2] for o in system.orders_for(built.strategy_id)]
    assert purposes.count(OrderPurpose.ENTRY.value) == 1
