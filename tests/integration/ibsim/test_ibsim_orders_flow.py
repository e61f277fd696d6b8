"""Orders through the real ib_async client: combos, partial fills, cancel, modify, OCA, brackets."""

from __future__ import annotations

import msgspec
import pytest
from ib_async import IB, Bag, ComboLeg, Contract, LimitOrder, MarketOrder, Option, Stock, StopOrder

from services.ibsim import Simulator
from services.ibsim.fills import FillModel

CONDOR = ((560.0, "P", "SELL"), (555.0, "P", "BUY"), (600.0, "C", "SELL"), (605.0, "C", "BUY"))
EXPIRY = "20260731"  # ~46 days after the tests' start


async def combo(ib: IB, legs: tuple[tuple[float, str, str], ...]) -> Bag:
    options = [Option("SPY", EXPIRY, strike, right, "SMART") for strike, right, _ in legs]
    await ib.qualifyContractsAsync(*options)
    return Bag(
        symbol="SPY",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=o.conId, ratio=1, action=action, exchange="SMART")
            for o, (_, _, action) in zip(options, legs, strict=True)
        ],
    )


def reversed_legs(legs: tuple[tuple[float, str, str], ...]) -> tuple[tuple[float, str, str], ...]:
    return tuple((k, r, "BUY" if a == "SELL" else "SELL") for k, r, a in legs)


async def combo_quote(ib: IB, bag: Contract, until) -> tuple[float, float]:
    ticker = ib.reqMktData(bag)
    await until(lambda: ticker.bid == ticker.bid and ticker.ask == ticker.ask)
    ib.cancelMktData(bag)
    return ticker.bid, ticker.ask


async def test_iron_condor_buy_with_negative_limit_fills_at_the_combo_ask(ib, sim, until):
    sim.market.pause()
    bag = await combo(ib, CONDOR)
    bid, ask = await combo_quote(ib, bag, until)
    assert bid < ask < 0  # a credit structure quotes negative in BUY terms

    trade = ib.placeOrder(bag, LimitOrder("BUY", 2, ask, orderRef="condor-1"))
    await until(trade.isDone)

    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.avgFillPrice == pytest.approx(ask)
    leg_fills = [f for f in trade.fills if f.contract.secType == "OPT"]
    bag_fills = [f for f in trade.fills if f.contract.secType == "BAG"]
    assert len(leg_fills) == 4 and len(bag_fills) == 1
    assert {f.execution.side for f in leg_fills} == {"BOT", "SLD"}
    assert all(f.execution.orderRef == "condor-1" for f in trade.fills)
    assert sum(f.commissionReport.commission for f in leg_fills) == pytest.approx(4 * 1.30)


async def test_iron_condor_at_an_unmarketable_credit_does_not_fill(ib, sim, until):
    sim.market.pause()
    bag = await combo(ib, CONDOR)
    bid, _ = await combo_quote(ib, bag, until)

    # at the combo's bid, behind the mid: the fill model never fills it (inside the spread it
    # might, at its limit)
    trade = ib.placeOrder(bag, LimitOrder("BUY", 1, bid))
    await until(lambda: trade.orderStatus.status == "Submitted")
    sim.market.advance(1)  # a market change re-checks the order

    assert trade.orderStatus.status == "Submitted"
    assert trade.fills == []


async def test_credit_condor_sold_with_a_positive_limit_fills_at_the_bid(ib, sim, until):
    sim.market.pause()
    bag = await combo(ib, reversed_legs(CONDOR))
    bid, ask = await combo_quote(ib, bag, until)
    assert 0 < bid < ask

    unmarketable = ib.placeOrder(bag, LimitOrder("SELL", 1, ask))  # behind the mid: never
    trade = ib.placeOrder(bag, LimitOrder("SELL", 1, bid))
    await until(trade.isDone)

    assert trade.orderStatus.avgFillPrice == pytest.approx(bid)
    assert unmarketable.orderStatus.status == "Submitted"
    positions = {p.instrument.con_id: p.position for p in sim.positions()}
    assert sorted(positions.values()) == [-1, -1, 1, 1]


async def test_quantity_above_threshold_fills_in_whole_parts_one_per_market_change(ib, sim, until):
    sim.book.fill_model = FillModel(msgspec.structs.replace(sim.config, partial_fill_above=2))
    sim.market.pause()
    spy = Stock("SPY", "SMART", "USD")
    trade = ib.placeOrder(spy, MarketOrder("BUY", 9))
    await until(lambda: trade.orderStatus.filled > 0)
    assert trade.orderStatus.status == "Submitted"
    assert trade.orderStatus.filled <= 2  # one part, until the market changes

    sim.market.resume()
    await until(trade.isDone)

    parts = [f.execution.shares for f in trade.fills]
    assert sum(parts) == 9 and len(parts) >= 5
    assert all(p in (1, 2) for p in parts)
    assert trade.orderStatus.status == "Filled"


async def test_cancel_stops_a_working_order(ib, sim, until, ib_errors):
    ib_errors.expect(r"^Error 202")
    spy = Stock("SPY", "SMART", "USD")
    trade = ib.placeOrder(spy, LimitOrder("BUY", 10, 100.0))
    await until(lambda: trade.orderStatus.status == "Submitted")

    ib.cancelOrder(trade.order)
    await until(trade.isDone)

    assert trade.orderStatus.status == "Cancelled"
    assert sim.orders[0].status == "Cancelled"


async def test_modify_by_resending_the_order_id_makes_it_marketable(ib, sim, until):
    sim.market.pause()
    spy = Stock("SPY", "SMART", "USD")
    trade = ib.placeOrder(spy, LimitOrder("BUY", 10, 500.0))
    await until(lambda: trade.orderStatus.status == "Submitted")

    trade.order.lmtPrice = 600.0
    ib.placeOrder(spy, trade.order)
    await until(trade.isDone)

    assert trade.orderStatus.status == "Filled"
    assert len(sim.orders) == 1  # the same order, modified


async def test_a_fill_cancels_the_rest_of_its_oca_group(ib, sim, until, ib_errors):
    ib_errors.expect(r"^Error 202")
    sim.market.pause()
    spy = Stock("SPY", "SMART", "USD")
    low = LimitOrder("BUY", 1, 500.0)
    lower = LimitOrder("BUY", 1, 490.0)
    ib.oneCancelsAll([low, lower], "oca-test", 1)
    t1 = ib.placeOrder(spy, low)
    t2 = ib.placeOrder(spy, lower)
    await until(lambda: t2.orderStatus.status == "Submitted")

    sim.market.set_price("SPY", 499.0)
    await until(lambda: t1.isDone() and t2.isDone())

    assert t1.orderStatus.status == "Filled"
    assert t2.orderStatus.status == "Cancelled"


async def test_bracket_children_wait_for_the_parent_then_cancel_each_other(
    ib, sim, until, ib_errors
):
    ib_errors.expect(r"^Error 202")
    sim.market.pause()
    spy = Stock("SPY", "SMART", "USD")
    parent, take_profit, stop_loss = ib.bracketOrder("BUY", 10, 560.0, 600.0, 550.0)
    parent_trade = ib.placeOrder(spy, parent)
    tp_trade = ib.placeOrder(spy, take_profit)
    await until(lambda: tp_trade.orderStatus.status == "PreSubmitted")
    assert parent_trade.orderStatus.status == "PreSubmitted"  # not transmitted yet

    sl_trade = ib.placeOrder(spy, stop_loss)  # transmitting the last child sends all three
    await until(lambda: parent_trade.orderStatus.status == "Submitted")
    assert sl_trade.orderStatus.status == "PreSubmitted"  # held until the parent fills

    sim.market.set_price("SPY", 555.0)
    await until(parent_trade.isDone)
    await until(lambda: tp_trade.orderStatus.status == "Submitted")

    sim.market.set_price("SPY", 601.0)
    await until(lambda: tp_trade.isDone() and sl_trade.isDone())
    assert tp_trade.orderStatus.status == "Filled"
    assert sl_trade.orderStatus.status == "Cancelled"


async def test_stop_order_triggers_when_the_market_crosses_it(ib, sim, until):
    sim.market.pause()
    spy = Stock("SPY", "SMART", "USD")
    trade = ib.placeOrder(spy, StopOrder("SELL", 1, 570.0))
    await until(lambda: trade.orderStatus.status == "Submitted")
    sim.market.jump("SPY", -0.03)
    await until(trade.isDone)
    assert trade.orderStatus.avgFillPrice < 570.0


async def test_reject_next_order_answers_error_201_with_the_reason(ib, sim, until, ib_errors):
    ib_errors.expect(r"^Error 201")
    sim.reject_next_order("margin check failed")
    trade = ib.placeOrder(Stock("SPY", "SMART", "USD"), MarketOrder("BUY", 1))
    await until(lambda: trade.orderStatus.status == "Inactive")  # refused, as IB leaves it

    assert 201 in ib_errors.codes()
    assert any("margin check failed" in entry.message for entry in trade.log)
    assert sim.orders[-1].status == "Inactive"


async def test_off_tick_limit_price_is_refused_with_error_110(ib, until, ib_errors):
    ib_errors.expect(r"^Error 110")
    trade = ib.placeOrder(Stock("SPY", "SMART", "USD"), LimitOrder("BUY", 1, 500.123))
    await until(trade.isDone)
    assert 110 in ib_errors.codes()


async def test_order_for_an_unknown_contract_gets_error_200(ib, until, ib_errors):
    ib_errors.expect(r"^Error 200")
    trade = ib.placeOrder(Stock("NOPE", "SMART", "USD"), MarketOrder("BUY", 1))
    await until(trade.isDone)
    assert ib_errors.codes() == [200]


async def test_every_order_received_is_counted(ib, sim: Simulator, until):
    spy = Stock("SPY", "SMART", "USD")
    trades = [ib.placeOrder(spy, LimitOrder("BUY", 1, 400.0 + i)) for i in range(3)]
    await until(lambda: all(t.orderStatus.status == "Submitted" for t in trades))
    assert [o.order_id for o in sim.orders] == [t.order.orderId for t in trades]


async def test_day_orders_end_at_the_close_and_gtc_orders_stay(ib, sim, until, ib_errors):
    ib_errors.expect(r"^Error 202")
    sim.market.pause()
    spy = Stock("SPY", "SMART", "USD")
    day = ib.placeOrder(spy, LimitOrder("BUY", 1, 400.0, tif="DAY"))
    gtc = ib.placeOrder(spy, LimitOrder("BUY", 1, 400.0, tif="GTC"))
    await until(lambda: gtc.orderStatus.status == "Submitted")

    sim.market.advance(6 * 3600)  # 10:30 -> 16:30 New York
    await until(day.isDone)
    assert day.orderStatus.status == "Cancelled"
    assert gtc.orderStatus.status == "Submitted"
