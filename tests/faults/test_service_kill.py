"""Each service killed with SIGKILL at a step of the cycle and restarted: the step is done once.

Execution killed after placing an order and before recording it is
``tests/integration/execution/test_execution_recovery.py::
test_kill_9_between_placing_and_recording_does_not_place_again``; here it is killed while its
exit order works, and the order fills before it is back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fault_harness import (
    assert_closed_once,
    fill_now,
    sim_order,
    take_profit,
)
from fixtures.child import Child
from fixtures.system import SERVICES, System, open_system

from shared.bus import Bus
from shared.config import Config
from shared.events import OrderPlaced, PositionOpened, PositionSnapshot, StrategyBuilt

pytestmark = pytest.mark.slow


async def _start_all_but(system: System, child: Child) -> None:
    system.make_neutral("SPY")
    await child.start()
    await system.start(*(n for n in SERVICES if n != child.name))
    await system.wait_market_data()


async def test_decision_killed_after_publishing_a_close_before_acking_exits_once(
    system: System, tmp_path: Path
):
    decision = Child("decision", system, tmp_path)
    try:
        await _start_all_but(system, decision)
        built = await system.open_strategy("SPY")
        await take_profit(system, built.strategy_id)
        await decision.kill()  # the CLOSE is out; the snapshot behind it is not acked
        await decision.start()  # it gets the snapshot again and may decide again
        await assert_closed_once(system, built.strategy_id, built.quantity)
    finally:
        await decision.process.stop()
    decision.assert_clean()


async def test_monitor_killed_while_writing_the_fill_keeps_one_position(
    system: System, tmp_path: Path
):
    monitor = Child("monitor", system, tmp_path)
    try:
        await _start_all_but(system, monitor)
        built = await system.open_strategy("SPY")
        await monitor.kill()  # the entry fill's batch: positions row being committed, unacked
        seen = len(system.inbox.of(PositionSnapshot, lambda s: s.strategy_id == built.strategy_id))
        await monitor.start()  # the fill comes again after ack_wait
        system.sim.market.jump("SPY", 0.001)  # a tick so the monitor revalues at once
        snapshot = await system.inbox.wait_for(
            PositionSnapshot,
            lambda s: s.strategy_id == built.strategy_id,
            timeout=30,
            count=seen + 1,
        )
        assert snapshot.quantity == built.quantity  # the replayed fill did not add to it
        assert len(system.inbox.of(PositionOpened, lambda e: e.strategy_id == built.strategy_id))

        await take_profit(system, built.strategy_id)
        await assert_closed_once(system, built.strategy_id, built.quantity)
    finally:
        await monitor.process.stop()
    monitor.assert_clean()


async def test_execution_killed_while_its_exit_works_and_fills_records_the_exit_once(
    config: Config, bus: Bus, data_root: Path, tmp_path: Path
):
    # orders rest where they are placed: the exit fills while execution is down
    async with open_system(config, bus, data_root, orders={"walk_interval_s": 600.0}) as system:
        execution = Child("execution", system, tmp_path)
        try:
            system.make_neutral("SPY")
            await system.start(*(n for n in SERVICES if n != "execution"))
            await execution.start()
            await system.wait_market_data()
            opening = asyncio.create_task(system.open_strategy("SPY"))
            built = await system.inbox.wait_for(StrategyBuilt, timeout=30)
            sid = built.strategy_id
            fill_now(system, await sim_order(system, sid, "entry"))
            await opening

            await take_profit(system, sid)
            exit_order = await sim_order(system, sid, "exit")
            await system.inbox.wait_for(OrderPlaced, lambda e: e.order_ref == exit_order.order_ref)
            await execution.kill()
            system.sim.disconnect_all()  # the dead client's socket
            fill_now(system, exit_order)  # while nobody listens
            await execution.start()  # finds the exit ended at the broker: settles, no new order
            await assert_closed_once(system, sid, built.quantity)
        finally:
            await execution.process.stop()
        execution.assert_clean()
