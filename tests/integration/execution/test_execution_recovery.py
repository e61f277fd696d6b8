"""Recovery: a broker disconnect mid-order, a kill -9 between placing and recording, and fills
from a gateway that sends no BAG execution."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

import msgspec
from fixtures.consumers import wait_acked
from fixtures.execution import (
    FAST_ORDERS,
    Harness,
    chain_of,
    condor_event,
    service_config,
    sim_orders,
)
from fixtures.inbox import Inbox
from fixtures.processes import Child
from fixtures.waiting import until

import services.execution
from services.execution.fills import Execution
from services.ibsim.server import Simulator
from shared.bus import Bus
from shared.config import Config
from shared.domain.chain import OptionChain
from shared.enums import BrokerState, OrderStatus
from shared.events import (
    BrokerConnectionChanged,
    ChainRequested,
    OrderFilled,
    OrderPlaced,
    OrderStatusChanged,
    StrategyBuilt,
)
from shared.service import run_service

# an order that asks more than the market rests: no walk within the test
RESTING = msgspec.structs.replace(FAST_ORDERS, walk_interval_s=60.0)


def make_marketable(sim: Simulator, sid: str) -> None:
    """The market comes to the resting order: its limit now pays any credit asked."""
    (order,) = sim_orders(sim, sid)
    order.lmt_price = 5.0


async def until_synchronised(tap: Inbox, times: int = 1, timeout: float = 20.0) -> None:
    await tap.wait_for(
        BrokerConnectionChanged, timeout=timeout, count=times, state=BrokerState.SYNCHRONIZED
    )


async def resting_condor(bus: Bus, sim: Simulator, sid: str, quantity: int) -> StrategyBuilt:
    ev = condor_event(await chain_of(bus, "SPY"), sid, quantity, credit_above_mid=0.5)
    await bus.publish(ev)
    await until(lambda: sim_orders(sim, sid), "the order reaching the simulator")
    return ev


async def test_disconnect_mid_order_reattaches_and_records_the_missed_fill_once(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox
):
    cfg = service_config(config, sim.port, ["SPY"], orders=RESTING)
    async with run_service(services.execution.SERVICE, cfg) as rt:
        await until_synchronised(tap)
        await resting_condor(bus, sim, "dc-1", quantity=2)
        await tap.wait_for(OrderPlaced, strategy_id="dc-1")
        sim.disconnect_all()
        make_marketable(sim, "dc-1")  # fills while the service is away
        await until_synchronised(tap, times=2)
        await tap.wait_for(OrderStatusChanged, strategy_id="dc-1", status=OrderStatus.FILLED)
        await tap.wait_until(
            lambda: sum(f.quantity for f in tap.of(OrderFilled, strategy_id="dc-1")) >= 2,
            "the fill made while disconnected",
        )
        await asyncio.sleep(0.5)  # room for a duplicate to show
        fills = tap.of(OrderFilled, strategy_id="dc-1")
        await rt.flush_writers()
        rows = (await rt.tables["fills"].read([("strategy_id", "=", "dc-1")])).to_pylist()
    assert sum(f.quantity for f in fills) == 2
    assert len({f.exec_id for f in fills}) == len(fills)
    assert sorted(r["exec_id"] for r in rows) == sorted(f.exec_id for f in fills)
    assert len(sim_orders(sim, "dc-1")) == 1
    states = [e.state for e in tap.of(BrokerConnectionChanged)]
    assert BrokerState.DISCONNECTED in states


async def test_kill_9_between_placing_and_recording_does_not_place_again(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox, spawn: Callable[..., Child]
):
    # a 1 s ack wait: the unacked StrategyBuilt comes back to the restarted service quickly
    cfg = service_config(config, sim.port, ["SPY"], orders=RESTING)
    cfg = msgspec.structs.replace(cfg, nats=msgspec.structs.replace(cfg.nats, ack_wait_s=1.0))
    child = await spawn("execution", cfg).start()
    proc = child.process
    await until_synchronised(tap)
    await resting_condor(bus, sim, "k9", quantity=1)
    proc.signal(signal.SIGKILL)  # the order is at the broker; its recording may not be
    assert await proc.wait() == -signal.SIGKILL
    sim.disconnect_all()  # the dead client's socket
    await child.start()
    await until_synchronised(tap, times=2)
    await wait_acked(bus, "execution", "strategy_built")  # the StrategyBuilt redelivered
    assert len(sim_orders(sim, "k9")) == 1, proc.output
    make_marketable(sim, "k9")
    filled = await tap.wait_for(OrderFilled, strategy_id="k9")
    assert filled.quantity == 1
    placed = tap.of(OrderPlaced, strategy_id="k9")
    assert {p.order_ref for p in placed} == {"v6:k9:entry:0"}
    await proc.stop()
    assert "Traceback" not in proc.output, proc.output


async def test_combo_fill_without_a_bag_execution_is_built_from_the_leg_executions(
    harness: Harness,
):
    # some gateways report only the legs of a combo fill: drop the BAG executions
    manager = harness.orders
    executed = manager._executed

    async def legs_only(wo: Any, execution: Execution) -> None:
        if not execution.is_bag:
            await executed(wo, execution)

    manager._executed = legs_only  # type: ignore[method-assign]
    chain = await harness.relay.on_chain_requested(
        ChainRequested(symbol="SPY", min_dte=35, max_dte=60, strikes_around=12)
    )
    ev = condor_event(OptionChain.from_event(chain), "legs-only", quantity=2)
    await harness.flows.entries.on_strategy_built(ev)
    fill = await harness.wait_for(OrderFilled, strategy_id="legs-only")
    await harness.wait_for(OrderStatusChanged, strategy_id="legs-only", status=OrderStatus.FILLED)
    assert fill.quantity == 2 and len(fill.legs) == 4
    signed = sum(lf.price if lf.side.value == "sell" else -lf.price for lf in fill.legs)
    assert abs(signed - fill.price) < 1e-6 and fill.price > 0  # a credit, from the legs
    assert harness.book.get("legs-only").held == 2
