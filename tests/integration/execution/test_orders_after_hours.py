"""An order sent after the close: IB holds it until the open (warning 399), and the walk
waits for the open instead of spending its steps on a price no exchange sees."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import msgspec
import pytest
from fixtures.execution import FAST_ORDERS, SIM, Harness, sim_orders
from fixtures.waiting import until
from test_orders_sim import built

from services.ibsim import Simulator
from shared.domain.calendar import NEW_YORK
from shared.enums import OrderStatus
from shared.events import OrderStatusChanged, StrategyBuilt

NEXT_OPEN = dt.datetime(2026, 6, 16, 9, 30, tzinfo=NEW_YORK)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    evening = msgspec.structs.replace(SIM, start_time="2026-06-15T20:00:00")  # after the close
    async with Simulator(evening, port=0) as s:
        yield s


async def test_an_entry_after_the_close_waits_for_the_open_and_fills_there(harness: Harness):
    sim = harness.sim
    ev = await built(harness, "night")
    marketable = {f: getattr(ev, f) for f in ev.__struct_fields__}
    marketable["limit_price"] = ev.worst_price
    await harness.flows.entries.on_strategy_built(StrategyBuilt(**marketable))
    await until(lambda: sim_orders(sim, "night"), "the order at the simulator")
    [order] = sim_orders(sim, "night")
    # the walk's whole length in market time passes, twice over: nothing is walked or cancelled
    walk = dt.timedelta(seconds=FAST_ORDERS.walk_interval_s * (FAST_ORDERS.walk_max_steps + 1))
    later = sim.market.now + 2 * walk
    await until(lambda: sim.market.now >= later, "market time past the walk")
    assert order.status == "PreSubmitted" and order.held_for_open
    assert order.lmt_price == -ev.worst_price  # IB's terms for a credit: not walked
    assert not harness.of(OrderStatusChanged, strategy_id="night", status=OrderStatus.CANCELLED)

    sim.market.advance(NEXT_OPEN - sim.market.now)
    filled = await harness.wait_for(
        OrderStatusChanged, strategy_id="night", status=OrderStatus.FILLED
    )
    assert filled.filled == 2
    assert order.executions[0].time >= NEXT_OPEN
