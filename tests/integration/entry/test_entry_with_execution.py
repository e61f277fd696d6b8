"""Entry and execution as services against the IB simulator: the whole entry path, no stand-ins.

entry asks execution for history and the chain, execution asks the simulator over the TWS
protocol, entry's StrategyBuilt becomes one BAG order at the simulator, its fill comes back as
execution's order events, and entry's strategies table shows the strategy open.
"""

from __future__ import annotations

import asyncio

import pytest
from entry_desk import wait_status
from fixtures.market import make_neutral
from fixtures.system import sim_config

from services.entry import SERVICE as ENTRY
from services.execution import SERVICE as EXECUTION
from services.ibsim.server import Simulator
from shared.config import Config, dump_config, load_config
from shared.domain.strategy import order_ref
from shared.enums import OrderPurpose, StrategyType
from shared.events import EntrySignalEvaluated, EvaluateEntry, MarketDataUpdated, StrategyBuilt
from shared.service import run_service

SIM = sim_config(symbols={"SPY": 580.0})


def _wired(config: Config, port: int) -> Config:
    tree = dump_config(config)
    tree["ib"].update(port=port, client_id=31, request_timeout_s=5.0)
    tree["orders"].update(walk_interval_s=0.2)
    return load_config(env={}, overrides=tree)


@pytest.mark.slow
async def test_entry_workflow_full(entry_config, bus, inbox, data_root):
    async with Simulator(SIM, port=0) as sim:
        spy = sim.market.underlyings["SPY"].instrument
        make_neutral(sim.market, sim.history(spy), "SPY")
        config = _wired(entry_config, sim.port)
        md = asyncio.Event()

        async def on_md(event: MarketDataUpdated) -> None:
            if event.symbol == "SPY":
                md.set()

        await bus.subscribe(bus.subjects.md("SPY"), on_md, MarketDataUpdated)
        # entry listens before execution relays: a quiet market may send VIX only once
        async with run_service(ENTRY, config), run_service(EXECUTION, config):
            async with asyncio.timeout(20):
                await md.wait()
            await bus.publish(EvaluateEntry(symbol="SPY"))
            signal = await inbox.next_of(EntrySignalEvaluated, after=0, timeout=30)
            assert signal.accepted, signal.reasons
            built = await inbox.next_of(StrategyBuilt, after=0)
            assert built.strategy_type is StrategyType.IRON_CONDOR
            await wait_status(data_root, built.strategy_id, "open", timeout=30)
        ref = order_ref(built.strategy_id, OrderPurpose.ENTRY)
        orders = [o for o in sim.orders if o.order_ref == ref]
    assert len(orders) == 1
    assert orders[0].instrument.sec_type == "BAG"
    assert len(orders[0].legs) == 4
    assert orders[0].filled == built.quantity
