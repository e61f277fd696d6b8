"""The whole system for end-to-end tests: a real nats-server, the IB simulator over its TWS
socket, and the four services, each with its own NATS connection and its own Delta tables.

The simulator's market is paused so a test moves it on purpose (prices, IV, time); services
run in-process (``run_service``) unless a test needs to kill one, which it then runs as a real
subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fixtures.inbox import Inbox
from fixtures.market import make_neutral

from services.decision import SERVICE as DECISION
from services.entry import SERVICE as ENTRY
from services.execution import SERVICE as EXECUTION
from services.ibsim.server import Simulator
from services.monitor import SERVICE as MONITOR
from shared.bus import Bus
from shared.config import Config, SimConfig, dump_config, load_config
from shared.events import EntrySignalEvaluated, EvaluateEntry, MarketDataUpdated, StrategyBuilt
from shared.service import Runtime, ServiceDef, run_service
from shared.storage import Table, TableSpec

SERVICES: dict[str, ServiceDef] = {
    "execution": EXECUTION,
    "monitor": MONITOR,
    "decision": DECISION,
    "entry": ENTRY,
}

# a Tuesday, inside the entry window (not the first or last 30 minutes of the session)
START = "2026-11-24T10:45:00-05:00"


def sim_config(**overrides: Any) -> SimConfig:
    tree = {"symbols": {"SPY": 580.0, "QQQ": 500.0}, "tick_interval_s": 0.05, "start_time": START}
    tree.update(overrides)
    return SimConfig(**tree)


def system_config(config: Config, ib_port: int, **sections: dict[str, Any]) -> Config:
    """The test config, pointed at the simulator, with intervals short enough for a test."""
    tree = dump_config(config)
    tree["universe"]["symbols"] = ["SPY", "QQQ"]
    tree["ib"].update(port=ib_port, client_id=41, request_timeout_s=5.0)
    tree["orders"].update(walk_interval_s=0.2)
    # evaluations are asked for with evaluate_entry; the schedule stays out of the way
    tree["entry"].update(interval_s=36_000.0)
    tree["monitor"].update(interval_s=5.0, revalue_min_interval_s=0.1)
    for section, values in sections.items():
        tree[section].update(values)
    return load_config(env={}, overrides=tree)


async def table_rows(data_root: Path, service: str, spec: TableSpec) -> list[dict[str, Any]]:
    """A service's table, read-only, as a report would read it."""
    table = await asyncio.to_thread(Table.open, f"{data_root}/{service}", spec)
    return (await table.read()).to_pylist()


@dataclass
class System:
    sim: Simulator
    config: Config
    bus: Bus
    inbox: Inbox
    data_root: Path
    services: dict[str, Runtime] = field(default_factory=dict)
    stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def start(self, *names: str) -> None:
        for name in names or tuple(SERVICES):
            self.services[name] = await self.stack.enter_async_context(
                run_service(SERVICES[name], self.config)
            )

    def make_neutral(self, symbol: str) -> None:
        """Put the price on its 20-day average: a neutral trend, so selling premium is a condor."""
        market = self.sim.market
        make_neutral(market, self.sim.history(market.underlyings[symbol].instrument), symbol)

    async def wait_market_data(self, symbol: str = "SPY", timeout: float = 20.0) -> None:
        """Until execution relays the symbol and VIX (the entry signal needs both)."""
        for wanted in (symbol, self.config.universe.vix_symbol):
            await self.inbox.wait_for(MarketDataUpdated, lambda e, w=wanted: e.symbol == w, timeout)

    async def open_strategy(self, symbol: str = "SPY", timeout: float = 30.0) -> StrategyBuilt:
        """Ask entry to evaluate ``symbol`` and wait until the built strategy is open."""
        from shared.events import PositionOpened  # monitor publishes it on the entry fill

        before = len(self.inbox.of(StrategyBuilt, lambda e: e.symbol == symbol))
        await self.bus.publish(EvaluateEntry(symbol=symbol))
        signal = await self.inbox.wait_for(
            EntrySignalEvaluated, lambda e: e.symbol == symbol, timeout
        )
        assert signal.accepted, signal.reasons
        built = await self.inbox.wait_for(
            StrategyBuilt, lambda e: e.symbol == symbol, timeout, count=before + 1
        )
        await self.inbox.wait_for(
            PositionOpened, lambda e: e.strategy_id == built.strategy_id, timeout
        )
        return built

    def orders_for(self, strategy_id: str) -> list[Any]:
        """The orders the simulator received for a strategy (any purpose)."""
        return [o for o in self.sim.orders if strategy_id in (o.order_ref or "")]


def now_of(system: System) -> dt.datetime:
    return system.sim.market.now


@pytest.fixture
async def system(config: Config, bus: Bus, data_root: Path) -> AsyncIterator[System]:
    inbox = Inbox()
    await bus.subscribe(bus.subjects.all(), inbox.on_event)
    async with Simulator(sim_config(), port=0) as sim:
        sim.market.pause()  # tests move the market on purpose
        system = System(sim, system_config(config, sim.port), bus, inbox, data_root)
        async with system.stack:
            yield system
