"""The closed loop across the real services: entry → combo order → fills → monitoring →
decision → exit, against the IB simulator, with orders counted at the simulator."""

from __future__ import annotations

import datetime as dt

import pytest
from fixtures.system import System

from shared.enums import Action, ExitResult, OrderPurpose, StrategyType
from shared.events import (
    AlertRaised,
    CloseAll,
    DecisionMade,
    ExitExecuted,
    PositionClosed,
    PositionSnapshot,
)

pytestmark = pytest.mark.slow


async def test_exit_workflow_close(system: System):
    system.make_neutral("SPY")
    await system.start()
    await system.wait_market_data()
    built = await system.open_strategy("SPY")
    assert built.strategy_type is StrategyType.IRON_CONDOR

    decision = await system.take_profit(built.strategy_id)
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


async def test_end_to_end(system: System):
    """Entry → monitoring → take profit → exit → a new entry is allowed again; no duplicates."""
    system.make_neutral("SPY")
    await system.start()
    await system.wait_market_data()
    first = await system.open_strategy("SPY")
    await system.take_profit(first.strategy_id)
    await system.inbox.wait_for(
        ExitExecuted,
        lambda e: e.strategy_id == first.strategy_id and e.result is ExitResult.CLOSED,
        timeout=40,
    )
    await system.inbox.wait_for(PositionClosed, lambda e: e.strategy_id == first.strategy_id)

    system.sim.market.shock_iv(1.5)  # premium is rich again: IV rank back above the threshold
    system.make_neutral("SPY")
    second = await system.open_strategy("SPY")
    assert second.strategy_id != first.strategy_id

    refs = [o.order_ref for o in system.sim.orders]
    assert len(refs) == len(set(refs)), "an order ref reached the simulator twice"
    entries = [r for r in refs if r.endswith(f":{OrderPurpose.ENTRY.value}:0")]
    assert len(entries) == 2


async def test_close_all_for_one_symbol_closes_only_its_strategies(system: System):
    for symbol in ("SPY", "QQQ"):
        system.make_neutral(symbol)
    system.sim.market.shock_iv(0.3, symbol="QQQ")  # rich premium on QQQ too
    await system.start()
    await system.wait_market_data("SPY")
    await system.wait_market_data("QQQ")
    spy = await system.open_strategy("SPY")
    qqq = await system.open_strategy("QQQ")

    await system.bus.publish(CloseAll(symbol="SPY"))
    closed = await system.inbox.wait_for(
        ExitExecuted, lambda e: e.strategy_id == spy.strategy_id, timeout=40
    )
    assert closed.result is ExitResult.CLOSED
    await system.inbox.wait_for(PositionClosed, lambda e: e.strategy_id == spy.strategy_id)
    assert not system.inbox.of(ExitExecuted, lambda e: e.strategy_id == qqq.strategy_id)
    assert not [o for o in system.orders_for(qqq.strategy_id) if ":exit:" in o.order_ref]


async def test_exit_workflow_roll(system: System):
    system.make_neutral("SPY")
    await system.start()
    await system.wait_market_data()
    built = await system.open_strategy("SPY")
    expiry = built.legs[0].expiry
    today = system.sim.market.now.date()
    # to 23 days before expiry: inside the roll window (25), short of the forced roll (21);
    # IV up a little so the time decay does not hand over a take profit first
    system.sim.market.shock_iv(0.25)
    system.sim.market.advance(dt.timedelta(days=(expiry - today).days - 23))

    decision = await system.inbox.wait_for(
        DecisionMade,
        lambda d: d.strategy_id == built.strategy_id and d.action is not Action.HOLD,
        timeout=30,
    )
    assert decision.action is Action.ROLL, decision
    assert decision.roll_to_dte == 45
    rolled = await system.inbox.wait_for(
        ExitExecuted, lambda e: e.strategy_id == built.strategy_id, timeout=40
    )
    assert rolled.result is ExitResult.ROLLED, rolled.reason
    new_id = rolled.new_strategy_id
    assert new_id
    await system.inbox.wait_for(PositionClosed, lambda e: e.strategy_id == built.strategy_id)
    snapshot = await system.inbox.wait_for(
        PositionSnapshot, lambda s: s.strategy_id == new_id, timeout=30
    )
    assert 35 <= snapshot.dte <= 60
    assert snapshot.strategy_type is StrategyType.IRON_CONDOR
