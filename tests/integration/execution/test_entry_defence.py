"""Each hostile ``strategy.built`` of the attack ends as ``OrderDenied`` and nothing reaches
the simulator: execution checks an order from first principles, whatever the event claims."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from fixtures.execution import Harness, sim_orders
from fixtures.waiting import until
from test_orders_sim import condor_legs

from services.execution.orders import net_prices
from shared.enums import StrategyType
from shared.events import OrderDenied, OrderPlaced, StrategyBuilt


async def _condor(h: Harness, sid: str) -> StrategyBuilt:
    """A sane iron condor from the simulator's chain, priced at its mid (the baseline); wide
    enough that a 50-lot's loss is above the default ``orders.max_order_risk``."""
    legs, _ = await condor_legs(h, strikes_around=40)
    legs = await h.relay.qualify("SPY", legs)
    await h.relay.track("SPY", legs)
    await h.relay.wait_quotes(legs, 3.0)
    mid, natural = net_prices(legs, h.relay.quotes)
    return StrategyBuilt(
        strategy_id=sid,
        symbol="SPY",
        strategy_type=StrategyType.IRON_CONDOR,
        legs=legs,
        quantity=1,
        limit_price=mid,
        worst_price=natural,
        max_profit=100.0,
        max_loss=300.0,
    )


def _replace(**change: object) -> Callable[[StrategyBuilt], StrategyBuilt]:
    return lambda ev: msgspec.structs.replace(ev, **change)


def _strangle(ev: StrategyBuilt) -> StrategyBuilt:
    shorts = [leg for leg in ev.legs if leg.quantity < 0]
    return msgspec.structs.replace(
        ev, strategy_type=StrategyType.SHORT_STRANGLE, legs=shorts, limit_price=3.0, worst_price=2.0
    )


def _long_put_is_a_far_call(ev: StrategyBuilt) -> StrategyBuilt:
    far_call = ev.legs[3]  # the long call's contract id under the long put's description
    legs = [msgspec.structs.replace(ev.legs[0], con_id=far_call.con_id), *ev.legs[1:]]
    return msgspec.structs.replace(ev, legs=legs)


def _ratio(ev: StrategyBuilt) -> StrategyBuilt:
    legs = [msgspec.structs.replace(leg, quantity=leg.quantity * 1000) for leg in ev.legs]
    return msgspec.structs.replace(ev, legs=legs)


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        (_strangle, "naked short"),
        (_long_put_is_a_far_call, "is SPY OPT CALL"),
        (_replace(quantity=10**9), "orders.max_quantity"),
        (_ratio, "orders.max_leg_ratio"),
        (_replace(quantity=50, max_loss=1.0), "orders.max_order_risk"),
        (_replace(limit_price=-50.0, worst_price=-50.0), "leaves no risk or no reward"),
        (_replace(worst_price=-1000.0), "worst price -1000 leaves no risk or no reward"),
    ],
    ids=[
        "strangle",
        "wrong-con-id",
        "quantity-1e9",
        "ratio-1000",
        "max-loss-claim",
        "limit",
        "worst",
    ],
)
async def test_a_hostile_strategy_is_denied_and_nothing_reaches_the_broker(
    harness: Harness, attack: Callable[[StrategyBuilt], StrategyBuilt], reason: str
):
    sid = "hostile"
    ev = attack(await _condor(harness, sid))
    await harness.flows.entries.on_strategy_built(ev)
    denied = await harness.wait_for(OrderDenied, strategy_id=sid)
    assert reason in denied.reason, denied.reason
    assert sim_orders(harness.sim, sid) == []
    assert harness.of(OrderPlaced, strategy_id=sid) == []
    assert harness.book.get(sid).status.value == "failed"


async def test_the_sane_condor_of_these_attacks_is_placed(harness: Harness):
    ev = await _condor(harness, "sane")
    await harness.flows.entries.on_strategy_built(ev)
    await harness.wait_for(OrderPlaced, strategy_id="sane")
    await until(lambda: sim_orders(harness.sim, "sane"), "the order at the simulator")
    assert len(sim_orders(harness.sim, "sane")) == 1
