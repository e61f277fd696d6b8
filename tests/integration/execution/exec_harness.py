"""The execution service, assembled as it runs, against the in-process IB simulator over a real
socket; only its records (the bus and the tables) are this harness's lists.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from services.execution.book import Holding, HoldingBook
from services.execution.handlers import ExecutionService
from services.execution.ib_client import IBClient
from services.execution.market_data import MarketDataRelay
from services.execution.order_manager import OrderManager
from services.execution.workflow import ExecutionWorkflows
from services.ibsim.server import Simulator
from shared.config import BreakerConfig, Config, IBConfig, OrdersConfig, SimConfig, UniverseConfig
from shared.events import Event

_client_ids = itertools.count(11)


@dataclass
class Records:
    """What the service publishes, saves and writes, kept in lists."""

    events: list[Event] = field(default_factory=list)
    saved: dict[str, Holding] = field(default_factory=dict)
    rows: dict[str, list[Any]] = field(default_factory=dict)

    async def publish(self, event: Event) -> Event:
        self.events.append(event)
        return event

    async def save(self, h: Holding, *, durable: bool = False) -> None:
        self.saved[h.strategy_id] = h

    def add_rows(self, table: str, rows: Any) -> None:
        self.rows.setdefault(table, []).append(rows)


@dataclass
class Harness:
    sim: Simulator
    svc: ExecutionService
    records: Records

    @property
    def client(self) -> IBClient:
        return self.svc.client

    @property
    def relay(self) -> MarketDataRelay:
        return self.svc.relay

    @property
    def orders(self) -> OrderManager:
        return self.svc.orders

    @property
    def flows(self) -> ExecutionWorkflows:
        return self.svc.flows

    @property
    def book(self) -> HoldingBook:
        return self.svc.book

    @property
    def events(self) -> list[Event]:
        return self.records.events

    @property
    def saved(self) -> dict[str, Holding]:
        return self.records.saved

    def of(self, kind: type, **match: object) -> list:
        return [
            e
            for e in self.events
            if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())
        ]

    async def wait_for(self, kind: type, timeout_s: float = 10.0, **match: object) -> object:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not self.of(kind, **match):
            if asyncio.get_running_loop().time() > deadline:
                got = [
                    type(e).__name__ for e in self.events if type(e).__name__ != "MarketDataUpdated"
                ]
                raise AssertionError(f"no {kind.__name__} {match}; got {got}")
            await asyncio.sleep(0.02)
        return self.of(kind, **match)[-1]


ORDERS = OrdersConfig(walk_interval_s=0.2, walk_step_fraction=1 / 3, walk_max_steps=3)
# the simulator enforces no pacing; a chain snapshot at IB's 45 messages/s takes seconds
FAST_PACING = 2000
SIM = SimConfig(tick_interval_s=0.05, time_speed=1.0, symbols={"SPY": 580.0})


async def build(
    sim: Simulator,
    orders: OrdersConfig = ORDERS,
    holdings: list[Holding] | None = None,
    breaker: BreakerConfig | None = None,
) -> Harness:
    config = Config(
        ib=IBConfig(
            port=sim.port,
            client_id=next(_client_ids),
            request_timeout_s=5.0,
            reconnect_min_s=0.1,
            reconnect_max_s=0.5,
            max_messages_per_s=FAST_PACING,
            market_data_max_rate_hz=4,
        ),
        universe=UniverseConfig(symbols=["SPY"]),
        orders=orders,
        breaker=breaker or BreakerConfig(),
    )
    records = Records()
    svc = ExecutionService(config, records, holdings)
    await svc.start()
    await svc.client.wait_ready(10)
    return Harness(sim, svc, records)


async def teardown(h: Harness) -> None:
    await h.svc.stop()
