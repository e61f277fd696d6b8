"""What execution records and what it never does twice: a saved order unknown at the broker is
settled, never sent again; a fill beyond an order's size alerts and halts; one exit at a time."""

from __future__ import annotations

import asyncio

from fixtures.events import decision
from fixtures.execution import Harness, build, sim_orders, teardown
from fixtures.waiting import until
from test_orders_sim import built, open_condor

from services.execution.book import Holding
from services.execution.fills import ComboExecution
from services.execution.orders import OrderRole, OrderSpec
from services.ibsim.server import Simulator
from shared.enums import Action, OrderPurpose, OrderSide, OrderStatus, Severity, StrategyStatus
from shared.events import AlertRaised, CloseAll, OrderDenied, OrderStatusChanged


async def test_an_order_saved_as_working_but_unknown_at_the_broker_is_settled_not_sent_again(
    harness: Harness, sim: Simulator
):
    # an entry saved as working whose broker order ended while execution was away (or never
    # got there): after the restart it is settled from the broker, not placed an hour late
    ev = await built(harness, "ghost")
    legs = tuple(await harness.relay.qualify("SPY", list(ev.legs)))
    spec = OrderSpec(
        strategy_id="ghost",
        symbol="SPY",
        order_ref="v6:ghost:entry:0",
        purpose=OrderPurpose.ENTRY,
        role=OrderRole.ENTRY,
        legs=legs,
        quantity=1,
        limit_price=ev.limit_price,
        worst_price=ev.worst_price,
        natural_price=ev.worst_price,
    )
    saved = Holding(
        strategy_id="ghost",
        symbol="SPY",
        strategy_type=ev.strategy_type,
        legs=legs,
        target_quantity=1,
        working=spec,
    )
    restarted = await build(sim, holdings=[saved])
    try:
        ended = await restarted.wait_for(
            OrderStatusChanged, strategy_id="ghost", status=OrderStatus.CANCELLED
        )
        assert "not at the broker" in ended.reason
        assert restarted.book.get("ghost").status is StrategyStatus.FAILED
        assert restarted.book.get("ghost").working is None
        assert sim_orders(sim, "ghost") == []
    finally:
        await teardown(restarted)


async def test_a_fill_beyond_the_order_size_alerts_and_halts_entries(harness: Harness):
    await open_condor(harness, "over", quantity=1)
    wo = harness.orders.working["v6:over:entry:0"]
    extra = ComboExecution(
        key_exec_id="broker-error-1",
        units=1,
        side=OrderSide.BUY,
        price=-1.0,
        legs=(),
        exec_ids=("broker-error-1",),
    )
    await harness.orders._filled(wo, extra)  # the broker reports one more unit than asked
    alert = await harness.wait_for(AlertRaised, strategy_id="over")
    assert alert.severity is Severity.CRITICAL and "beyond" in alert.message
    assert harness.book.get("over").held == 1  # never more than the order's size
    assert harness.flows.entries.halted
    ev = await built(harness, "after")
    await harness.flows.entries.on_strategy_built(ev)
    denied = await harness.wait_for(OrderDenied, strategy_id="after")
    assert "halted" in denied.reason


async def test_a_reduce_and_a_close_all_at_once_make_one_exit(harness: Harness):
    await open_condor(harness, "race", quantity=4)
    await asyncio.gather(
        harness.flows.exits.execute_exit_decision(decision("race", Action.REDUCE, close_ratio=0.5)),
        harness.flows.exits.execute_close_all(CloseAll(symbol="SPY")),
    )
    await until(lambda: len(sim_orders(harness.sim, "race")) >= 2, "the exit at the simulator")
    refs = [o.order_ref for o in sim_orders(harness.sim, "race")]
    exits = [r for r in refs if not r.endswith(":entry:0")]
    assert len(exits) == 1, refs  # the second path saw the first's exit working
