"""Entry orders against the IB simulator: one BAG, fills with per-leg prices, the walk."""

from __future__ import annotations

import asyncio

import msgspec
from fixtures.events import decision
from fixtures.execution import FAST_ORDERS, Harness, build, sim_orders, teardown
from fixtures.waiting import until

from services.execution.orders import closing_legs, net_prices
from services.ibsim.orders import order_quote
from shared.enums import Action, ExitResult, OrderStatus, Right, Severity, StrategyType
from shared.events import (
    AlertRaised,
    ChainProvided,
    ChainRequested,
    ExitExecuted,
    Leg,
    MarketDataUpdated,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
    StrategyBuilt,
)


async def condor_legs(h: Harness, strikes_around: int = 20) -> tuple[list[Leg], ChainProvided]:
    chain = await h.relay.on_chain_requested(
        ChainRequested(symbol="SPY", min_dte=35, max_dte=60, strikes_around=strikes_around)
    )
    assert not chain.error, chain.error
    expiry = chain.expiries[0]
    spot = chain.underlying_price
    strikes = sorted(chain.strikes)

    def near(target: float) -> float:
        return min(strikes, key=lambda k: abs(k - target))

    lp, sp, sc, lc = near(spot * 0.95), near(spot * 0.97), near(spot * 1.03), near(spot * 1.05)
    return [
        Leg(right=Right.PUT, strike=lp, expiry=expiry, quantity=1),
        Leg(right=Right.PUT, strike=sp, expiry=expiry, quantity=-1),
        Leg(right=Right.CALL, strike=sc, expiry=expiry, quantity=-1),
        Leg(right=Right.CALL, strike=lc, expiry=expiry, quantity=1),
    ], chain


async def built(h: Harness, sid: str, offset: float = 0.0, quantity: int = 2) -> StrategyBuilt:
    legs, _ = await condor_legs(h)
    qualified = await h.relay.qualify("SPY", legs)
    await h.relay.track("SPY", qualified)
    await h.relay.wait_quotes(qualified, 3.0)
    mid, natural = net_prices(qualified, h.relay.quotes)
    return StrategyBuilt(
        strategy_id=sid,
        symbol="SPY",
        strategy_type=StrategyType.IRON_CONDOR,
        legs=legs,
        quantity=quantity,
        limit_price=round(mid + offset, 2),
        worst_price=round(natural if offset == 0 else mid + offset, 2),
        max_profit=100.0,
        max_loss=300.0,
    )


async def test_built_condor_is_one_bag_order_filled_with_per_leg_prices(harness: Harness):
    ev = await built(harness, "ic-1")
    # the walk ends at the natural price of the build: a market a cent away would never fill it
    harness.sim.market.pause()
    await harness.flows.entries.on_strategy_built(ev)
    await harness.flows.entries.on_strategy_built(ev)  # the same command delivered twice
    fill = await harness.wait_for(OrderStatusChanged, status=OrderStatus.FILLED)
    await harness.wait_for(OrderFilled, strategy_id="ic-1")
    assert len([o for o in harness.sim.orders if o.order_ref.startswith("v6:ic-1")]) == 1
    bag = next(o for o in harness.sim.orders if o.order_ref.startswith("v6:ic-1"))
    assert bag.instrument.sec_type == "BAG" and len(bag.legs) == 4
    placed = harness.of(OrderPlaced)
    assert len(placed) == 1 and placed[0].combo
    fills = harness.of(OrderFilled)
    assert sum(f.quantity for f in fills) == 2
    assert all(len(f.legs) == 4 for f in fills)
    for f in fills:
        # the combo price is the legs' prices netted, credit positive
        legs = sum((p.price if p.side.value == "sell" else -p.price) for p in f.legs)
        assert abs(legs - f.price) < 0.011
        assert f.price > 0
    assert fill.filled == 2
    holding = harness.book.get("ic-1")
    assert holding.held == 2 and holding.status.value == "open"


async def test_limit_below_the_market_is_walked_and_fills(harness: Harness):
    ev = await built(harness, "ic-walk", offset=0.30)  # asks 0.30 more credit than the mid
    legs = await harness.relay.qualify("SPY", list(ev.legs))
    _, natural = net_prices(legs, harness.relay.quotes)
    ev = StrategyBuilt(
        **{**{f: getattr(ev, f) for f in ev.__struct_fields__}, "worst_price": natural - 0.05}
    )
    await harness.flows.entries.on_strategy_built(ev)
    await harness.wait_for(OrderStatusChanged, strategy_id="ic-walk", status=OrderStatus.FILLED)
    order = next(o for o in harness.sim.orders if o.order_ref.startswith("v6:ic-walk"))
    assert order.lmt_price > -ev.limit_price  # walked: asks less credit than at first


async def test_limit_that_never_becomes_marketable_is_cancelled_after_the_walk(
    harness: Harness,
):
    ev = await built(harness, "ic-never", offset=1.0)
    ev = StrategyBuilt(
        **{
            **{f: getattr(ev, f) for f in ev.__struct_fields__},
            "worst_price": ev.limit_price - 0.10,
        }
    )
    await harness.flows.entries.on_strategy_built(ev)
    done = await harness.wait_for(
        OrderStatusChanged, strategy_id="ic-never", status=OrderStatus.CANCELLED
    )
    assert "walk ended unfilled" in done.reason
    assert harness.book.get("ic-never").status.value == "failed"


async def test_market_data_reaches_the_bus_with_greeks_and_conflated(harness: Harness):
    await built(harness, "md-only")
    harness.events.clear()
    await asyncio.sleep(1.0)
    updates = harness.of(MarketDataUpdated, symbol="SPY")
    assert 1 <= len(updates) <= 6  # 4 Hz at most, over a burst of 20 ticks/s x instruments
    options = [q for u in updates for q in u.quotes if q.sec_type.value == "opt"]
    assert options and any(q.delta is not None and q.iv for q in options)
    assert all(u.market_time is not None for u in updates)


async def open_condor(h: Harness, sid: str, quantity: int = 2) -> None:
    ev = await built(h, sid, quantity=quantity)
    ev = StrategyBuilt(
        **{**{f: getattr(ev, f) for f in ev.__struct_fields__}, "limit_price": ev.worst_price}
    )
    # a limit at the natural price never fills once the market ticks a cent away from it
    h.sim.market.pause()
    try:
        await h.flows.entries.on_strategy_built(ev)
        await h.wait_for(OrderStatusChanged, strategy_id=sid, status=OrderStatus.FILLED)
        await h.wait_for(OrderFilled, strategy_id=sid)
        while h.book.get(sid).working is not None:  # noqa: ASYNC110 - the order's end
            await asyncio.sleep(0.02)
    finally:
        h.sim.market.resume()


async def test_reduce_then_close_produce_the_right_combos_and_exit_events(harness: Harness):
    await open_condor(harness, "ic-exit", quantity=4)
    await harness.flows.exits.execute_exit_decision(
        decision("ic-exit", Action.REDUCE, close_ratio=0.5)
    )
    reduced = await harness.wait_for(ExitExecuted, strategy_id="ic-exit")
    assert reduced.result is ExitResult.REDUCED
    assert (reduced.closed_quantity, reduced.remaining_quantity) == (2, 2)
    close = decision("ic-exit", Action.CLOSE)
    await harness.flows.exits.execute_exit_decision(close)
    await harness.flows.exits.execute_exit_decision(close)  # a second CLOSE while the first works
    closed = await harness.wait_for(ExitExecuted, strategy_id="ic-exit", result=ExitResult.CLOSED)
    assert closed.realized_pnl is not None
    exits = [o for o in harness.sim.orders if o.order_ref.startswith("v6:ic-exit:")]
    assert len(exits) == 3  # entry, reduce, close
    assert all(o.instrument.sec_type == "BAG" for o in exits)
    assert not [p for p in harness.sim.positions() if p.position]


async def test_close_for_an_unknown_strategy_fails_with_a_reason(harness: Harness):
    await harness.flows.exits.execute_exit_decision(decision("nope", Action.CLOSE))
    failed = await harness.wait_for(ExitExecuted, strategy_id="nope")
    assert failed.result is ExitResult.FAILED and "unknown" in failed.reason


async def test_unknown_broker_position_raises_a_critical_alert(harness: Harness):
    await open_condor(harness, "ic-recon", quantity=1)
    harness.book.holdings.clear()  # the book forgets it: the broker still holds it
    findings = await harness.svc.reconcile()
    assert len(findings) == 4
    alerts = harness.of(AlertRaised)
    assert len(alerts) == 4 and all(a.severity is Severity.CRITICAL for a in alerts)


async def test_bracket_take_profit_and_stop_are_one_oca_group_and_the_take_profit_closes(
    harness: Harness,
):
    ev = await built(harness, "ic-bracket")
    legs = await harness.relay.qualify("SPY", list(ev.legs))
    _, closing_natural = net_prices(closing_legs(legs), harness.relay.quotes)
    ev = msgspec.structs.replace(
        ev,
        limit_price=ev.worst_price,
        bracket=True,
        take_profit=round(closing_natural - 0.30, 2),  # marketable: it fills at once
        stop_loss=-20.0,
    )
    await harness.flows.entries.on_strategy_built(ev)
    closed = await harness.wait_for(ExitExecuted, strategy_id="ic-bracket")
    assert closed.result is ExitResult.CLOSED and closed.closed_quantity == 2
    entry, tp, sl = sorted(
        (o for o in harness.sim.orders if o.order_ref.startswith("v6:ic-bracket:")),
        key=lambda o: o.order_id,
    )
    assert (tp.order_type, sl.order_type) == ("LMT", "STP")
    assert tp.oca_group == sl.oca_group != "" and not entry.oca_group
    assert tp.status == "Filled"
    for _ in range(50):
        if sl.status == "Cancelled":
            break
        await asyncio.sleep(0.02)
    assert sl.status == "Cancelled"  # one of the group filled
    assert not [p for p in harness.sim.positions() if p.position]
    assert harness.book.get("ic-bracket").brackets == ()


async def test_alternative_entries_in_one_oca_group_cancel_each_other_at_the_broker(
    harness: Harness,
):
    resting = await built(harness, "oca-b", offset=1.0)
    resting = msgspec.structs.replace(resting, oca_group="alt-1", worst_price=resting.limit_price)
    marketable = await built(harness, "oca-a")
    # a quarter beyond the natural of when it was built: marketable still when the market
    # has moved a few ticks by the time it arrives (it fills at the natural of then)
    beyond = round(marketable.worst_price - 0.25, 2)
    marketable = msgspec.structs.replace(
        marketable, oca_group="alt-1", limit_price=beyond, worst_price=beyond
    )
    await harness.flows.entries.on_strategy_built(resting)
    await harness.flows.entries.on_strategy_built(marketable)
    await harness.wait_for(OrderStatusChanged, strategy_id="oca-a", status=OrderStatus.FILLED)
    cancelled = await harness.wait_for(
        OrderStatusChanged, strategy_id="oca-b", status=OrderStatus.CANCELLED
    )
    assert "walk" not in cancelled.reason  # the broker cancelled it, not the walk's end
    assert harness.book.get("oca-b").status.value == "failed"


async def test_a_refused_modify_leaves_the_order_working_and_it_fills_later(sim):
    # walk steps a second apart: time to look at the order between the refusal and the next
    harness = await build(sim, orders=msgspec.structs.replace(FAST_ORDERS, walk_interval_s=1.0))
    try:
        ev = await built(harness, "ic-refused", offset=1.0)  # far from marketable: walked
        ev = msgspec.structs.replace(ev, worst_price=ev.limit_price - 0.50)
        sim.reject_next_modify("the broker will not move it")
        await harness.flows.entries.on_strategy_built(ev)
        (order,) = await until(lambda: sim_orders(sim, "ic-refused"), what="the order placed")
        first_limit = order.lmt_price
        wo = harness.orders.working[order.order_ref]
        await until(lambda: wo.change_refused, what="the walk's first modify refused")

        def restated() -> bool:  # ib_async's "Cancelled" after the 201, then IB's own status
            history = [status for status, _ in wo.broker.history] if wo.broker else []
            return "Cancelled" in history and history[-1] == "Submitted"

        await until(restated, what="the broker's status after the refusal")

        # IB keeps the order working unchanged; ib_async's own "Cancelled" after the error is
        # not taken for the broker's word
        assert order.status == "Submitted" and order.lmt_price == first_limit
        assert not harness.of(OrderRejected)
        ended = {OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FILLED}
        assert not [e for e in harness.of(OrderStatusChanged) if e.status in ended]
        assert not wo.done.is_set()

        order.lmt_price = order_quote(sim.market, order).natural  # the market comes to it
        sim.book.check(order)
        await harness.wait_for(
            OrderStatusChanged, strategy_id="ic-refused", status=OrderStatus.FILLED
        )
        assert harness.book.get("ic-refused").status.value == "open"
        assert sim.orders[-1].lmt_price == order.lmt_price  # the walk moved it no more
    finally:
        await teardown(harness)
