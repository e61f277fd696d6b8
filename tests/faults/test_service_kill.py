"""Each service killed with SIGKILL at a step of the cycle and restarted: the step is done once.

Execution killed after placing an order and before recording it is
``tests/integration/execution/test_execution_recovery.py::
test_kill_9_between_placing_and_recording_does_not_place_again``; here it is killed while its
exit order works, and the order fills before it is back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fault_harness import assert_closed_once
from fixtures.processes import Child
from fixtures.system import SERVICES, System, open_system

from shared.bus import Bus
from shared.config import Config
from shared.enums import Action
from shared.events import OrderPlaced, PositionOpened, PositionSnapshot

pytestmark = pytest.mark.slow


async def _start_all_but(system: System, child: Child) -> None:
    system.make_neutral("SPY")
    await child.start()
    await system.start(*(n for n in SERVICES if n != child.name))
    await system.wait_market_data()


async def test_decision_killed_after_publishing_a_close_before_acking_exits_once(
    system: System, spawn: Callable[..., Child]
):
    decision = spawn("decision", system.config)
    await _start_all_but(system, decision)
    built = await system.open_strategy("SPY")
    await system.take_profit(built.strategy_id, Action.CLOSE)
    await decision.kill()  # the CLOSE is out; the snapshot behind it is not acked
    await decision.start()  # it gets the snapshot again and may decide again
    await assert_closed_once(system, built.strategy_id, built.quantity)
    await decision.stop()
    decision.assert_clean()


async def test_monitor_killed_while_writing_the_fill_keeps_one_position(
    system: System, spawn: Callable[..., Child]
):
    monitor = spawn("monitor", system.config)
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

    await system.take_profit(built.strategy_id, Action.CLOSE)
    await assert_closed_once(system, built.strategy_id, built.quantity)
    await monitor.stop()
    monitor.assert_clean()


async def test_execution_killed_while_its_exit_works_and_fills_records_the_exit_once(
    config: Config, bus: Bus, data_root: Path, spawn: Callable[..., Child]
):
    # orders rest where they are placed: the exit fills while execution is down
    async with open_system(config, bus, data_root, orders={"walk_interval_s": 600.0}) as system:
        execution = spawn("execution", system.config)
        system.make_neutral("SPY")
        await system.start(*(n for n in SERVICES if n != "execution"))
        await execution.start()
        await system.wait_market_data()
        opening, built, entry = await system.resting_entry("SPY")
        sid = built.strategy_id
        system.fill_now(entry)
        await opening

        await system.take_profit(sid, Action.CLOSE)
        exit_order = await system.sim_order(sid, "exit")
        await system.inbox.wait_for(OrderPlaced, lambda e: e.order_ref == exit_order.order_ref)
        await execution.kill()
        system.sim.disconnect_all()  # the dead client's socket
        system.fill_now(exit_order)  # while nobody listens
        await execution.start()  # finds the exit ended at the broker: settles, no new order
        await assert_closed_once(system, sid, built.quantity)
        await execution.stop()
    execution.assert_clean()
