"""The broker side failing: the simulator dropping every client connection mid-order and
mid-fill, rejecting orders until the circuit breaker opens, and going away for a while."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from fault_harness import assert_closed_once
from fixtures.system import System, open_system, sim_config

from services.ibsim.server import Simulator
from shared.bus import Bus
from shared.config import Config
from shared.enums import Action, BrokerState, OrderStatus
from shared.events import (
    BrokerConnectionChanged,
    OrderDenied,
    OrderPlaced,
    OrderStatusChanged,
)

pytestmark = pytest.mark.slow

# orders rest where they are placed: the test decides when the market comes to them
RESTING = {"walk_interval_s": 600.0}


def _states(system: System) -> list[BrokerState]:
    return [e.state for e in system.inbox.of(BrokerConnectionChanged)]


async def _synchronized(system: System, times: int, timeout: float = 20.0) -> None:
    await system.inbox.wait_for(
        BrokerConnectionChanged,
        lambda e: e.state is BrokerState.SYNCHRONIZED,
        timeout,
        count=times,
    )


async def test_broker_drops_during_a_working_entry_and_during_the_exit_fill_each_fill_once(
    config: Config, bus: Bus, data_root: Path
):
    async with open_system(config, bus, data_root, orders=RESTING) as system:
        system.make_neutral("SPY")
        await system.start()
        await system.wait_market_data()
        opening, built, entry = await system.resting_entry("SPY")
        sid = built.strategy_id

        system.sim.disconnect_all()  # the entry is working at the broker
        system.fill_now(entry)  # and fills while execution is away
        assert await opening == built  # re-attached after the reconnect: the fill arrives
        await _synchronized(system, times=2)

        await system.take_profit(sid, Action.CLOSE)
        exit_order = await system.sim_order(sid, "exit")
        await system.inbox.wait_for(OrderPlaced, lambda e: e.order_ref == exit_order.order_ref)
        system.fill_now(exit_order)
        system.sim.disconnect_all()  # the execution report is cut off on its way
        await _synchronized(system, times=3)
        await assert_closed_once(system, sid, built.quantity)
        assert _states(system).count(BrokerState.DISCONNECTED) == 2


async def test_rejections_open_the_breaker_entries_are_denied_exits_still_go(
    config: Config, bus: Bus, data_root: Path
):
    # open long enough that the days the take profit needs do not half-open it
    breaker = {"failures": 2, "window_s": 600.0, "open_s": 90 * 86_400.0}
    async with open_system(config, bus, data_root, breaker=breaker) as system:
        system.make_neutral("SPY")
        await system.start()
        await system.wait_market_data()
        built = await system.open_strategy("SPY")

        async def enter_again(name: str) -> None:
            await bus.publish(msgspec.structs.replace(built, strategy_id=name, event_id=name))

        for name in ("rejected-1", "rejected-2"):
            system.sim.reject_next_order()
            await enter_again(name)
            await system.inbox.wait_for(
                OrderStatusChanged,
                lambda e, n=name: e.strategy_id == n and e.status is OrderStatus.REJECTED,
            )
        await enter_again("after-breaker")
        denied = await system.inbox.wait_for(
            OrderDenied, lambda e: e.strategy_id == "after-breaker", timeout=10
        )
        assert "breaker" in denied.reason
        assert not system.orders_for("after-breaker")

        await system.take_profit(built.strategy_id, Action.CLOSE)
        await assert_closed_once(system, built.strategy_id, built.quantity)


async def test_simulator_gone_for_a_while_execution_retries_and_resumes(
    config: Config, bus: Bus, data_root: Path
):
    async with open_system(config, bus, data_root, ib={"reconnect_max_s": 0.5}) as system:
        system.make_neutral("SPY")
        await system.start()
        await system.wait_market_data()
        await _synchronized(system, times=1)
        port = system.sim.port

        await system.sim.stop()
        await system.inbox.wait_for(
            BrokerConnectionChanged, lambda e: e.state is BrokerState.DISCONNECTED
        )
        await asyncio.sleep(2.0)  # connection attempts fail meanwhile
        async with Simulator(sim_config(), port=port) as comeback:
            comeback.market.pause()
            system.sim = comeback
            await _synchronized(system, times=2)
            states = _states(system)
            assert states.index(BrokerState.DISCONNECTED) < len(states) - 1
            assert states[-1] is BrokerState.SYNCHRONIZED

            system.make_neutral("SPY")
            built = await system.open_strategy("SPY")  # trading resumed on the new gateway
            assert len(system.orders_for(built.strategy_id)) == 1
