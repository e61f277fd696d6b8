"""The execution service's parts wired against the in-process IB simulator over a real socket.

Events are collected from the same ``publish`` callable the service hands to ``Bus.publish``.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from services.execution.book import Book, Holding
from services.execution.ib_client import IBClient
from services.execution.market_data import MarketDataRelay
from services.execution.workflow import Workflows
from services.execution.working import OrderManager
from services.ibsim.server import Simulator
from shared.config import BreakerConfig, IBConfig, OrdersConfig, SimConfig, UniverseConfig
from shared.domain.breaker import CircuitBreaker
from shared.events import Event

_client_ids = itertools.count(11)


@dataclass
class Harness:
    sim: Simulator
    client: IBClient
    relay: MarketDataRelay
    orders: OrderManager
    flows: Workflows
    events: list[Event] = field(default_factory=list)
    saved: dict[str, Holding] = field(default_factory=dict)

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
    book: Book | None = None,
    breaker: BreakerConfig | None = None,
) -> Harness:
    ib_config = IBConfig(
        port=sim.port,
        client_id=next(_client_ids),
        request_timeout_s=5.0,
        reconnect_min_s=0.1,
        reconnect_max_s=0.5,
        max_messages_per_s=FAST_PACING,
    )
    client = IBClient(ib_config)
    events: list[Event] = []
    saved: dict[str, Holding] = {}

    async def publish(event: Event) -> Event:
        events.append(event)
        return event

    async def save(h: Holding, *, durable: bool = False) -> None:
        saved[h.strategy_id] = h

    relay = MarketDataRelay(client, UniverseConfig(symbols=["SPY"]), publish, max_rate_hz=4)
    manager = OrderManager(client, publish, orders, relay.quotes)
    flows = Workflows(
        client,
        manager,
        book or Book(),
        CircuitBreaker(breaker or BreakerConfig()),
        relay,
        orders,
        publish,
        save,
    )
    client.on_synchronise(relay.resubscribe)
    client.on_synchronise(manager.resynchronise)
    client.on_synchronise(flows.resume_working)
    await relay.start()
    await client.start()
    await client.wait_ready(10)
    return Harness(sim, client, relay, manager, flows, events, saved)


async def teardown(h: Harness) -> None:
    await h.orders.stop()
    await h.relay.stop()
    await h.client.stop()
