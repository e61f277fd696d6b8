"""Positions, account values, reconnects and expiries through ib_async."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Option, Stock

from services.ibsim import Simulator


async def buy(ib: IB, contract, qty: float, until) -> float:
    """Buy at market; returns the fill price."""
    trade = ib.placeOrder(contract, MarketOrder("BUY", qty))
    await until(trade.isDone)
    return trade.orderStatus.avgFillPrice


async def test_positions_and_average_cost_follow_fills(ib: IB, sim: Simulator, until):
    sim.market.pause()
    call = Option("SPY", "20260731", 590, "C", "SMART")
    await ib.qualifyContractsAsync(call)
    price = await buy(ib, call, 2, until)
    await until(lambda: len(ib.positions()) == 1)

    [pos] = ib.positions()
    assert pos.contract.conId == call.conId
    assert pos.position == 2
    # IB's avgCost is per contract, multiplier and commission included ($1.30 for 2)
    assert pos.avgCost == pytest.approx(price * 100 + 0.65)

    sell = ib.placeOrder(call, MarketOrder("SELL", 2))
    await until(sell.isDone)
    await until(lambda: not ib.positions())
    realized = sum(f.commissionReport.realizedPNL for f in sell.fills)
    assert realized < 0  # bought at the ask, sold at the bid, paid commissions


async def _margined(values: Awaitable[dict[str, float]]) -> dict[str, float] | None:
    got = await values
    return got if got["MaintMarginReq"] > 0 else None


async def test_account_summary_and_updates_reflect_fills(ib: IB, sim: Simulator, until):
    sim.market.pause()
    before = {v.tag: float(v.value) for v in await ib.accountSummaryAsync() if v.currency}
    assert before["NetLiquidation"] == pytest.approx(1_000_000.0)
    assert before["MaintMarginReq"] == 0.0

    put = Option("SPY", "20260731", 560, "P", "SMART")
    await ib.qualifyContractsAsync(put)
    trade = ib.placeOrder(put, MarketOrder("SELL", 5))
    await until(trade.isDone)
    await until(lambda: any(p.position == -5 for p in ib.portfolio()))

    async def summary() -> dict[str, float]:
        return {v.tag: float(v.value) for v in await ib.accountSummaryAsync() if v.currency}

    # ib_async answers from its subscription, whose update may come in a later read than the
    # portfolio's: wait for the fill to show there
    after = await until(lambda: _margined(summary()), what="the account summary after the fill")
    assert after["MaintMarginReq"] > 0
    assert after["BuyingPower"] < before["BuyingPower"]
    assert after["TotalCashValue"] > before["TotalCashValue"]  # premium received
    values = {v.tag: v.value for v in ib.accountValues() if v.tag == "NetLiquidation"}
    assert float(values["NetLiquidation"]) == pytest.approx(after["NetLiquidation"], rel=1e-3)


async def test_reconnect_restores_open_orders_and_the_sessions_fills(
    sim: Simulator, connect, until, ib_errors
):
    ib_errors.expect(r"Peer closed connection")
    ib = await connect(5)
    spy = Stock("SPY", "SMART", "USD")
    working = ib.placeOrder(spy, LimitOrder("BUY", 3, 400.0, orderRef="keep-me"))
    filled = ib.placeOrder(spy, MarketOrder("BUY", 1))
    await until(lambda: filled.isDone() and working.orderStatus.status == "Submitted")

    sim.disconnect_all()
    await until(lambda: not ib.isConnected())
    again = await connect(5)

    [restored] = again.openTrades()
    assert restored.order.orderId == working.order.orderId
    assert restored.order.orderRef == "keep-me"
    assert restored.orderStatus.status == "Submitted"
    fills = again.fills()
    assert [f.execution.orderId for f in fills] == [filled.order.orderId]
    assert fills[0].commissionReport.commission == pytest.approx(1.0)
    assert [p.position for p in again.positions()] == [1]


async def test_options_expire_at_simulated_time(ib: IB, sim: Simulator, until):
    sim.market.pause()
    itm_call = Option("SPY", "20260618", 570, "C", "SMART")
    otm_put = Option("SPY", "20260618", 550, "P", "SMART")
    await ib.qualifyContractsAsync(itm_call, otm_put)
    await buy(ib, itm_call, 1, until)
    await buy(ib, otm_put, 1, until)
    await until(lambda: len(ib.positions()) == 2)

    sim.market.set_price("SPY", 580.0)
    sim.market.advance(dt.timedelta(days=3, hours=6))  # past Thursday 16:00 New York
    await until(lambda: {p.contract.secType for p in ib.positions()} == {"STK"})

    [stock] = ib.positions()
    assert stock.contract.symbol == "SPY"
    assert stock.position == 100  # the ITM call was exercised
    assert stock.avgCost == pytest.approx(570.0)


async def test_working_orders_on_an_expired_option_are_cancelled(ib: IB, sim, until, ib_errors):
    ib_errors.expect(r"^Error 202")
    sim.market.pause()
    put = Option("SPY", "20260618", 540, "P", "SMART")
    await ib.qualifyContractsAsync(put)
    trade = ib.placeOrder(put, LimitOrder("BUY", 1, 0.01))
    await until(lambda: trade.orderStatus.status == "Submitted")
    sim.market.advance(dt.timedelta(days=4))
    await until(trade.isDone)
    assert trade.orderStatus.status == "Cancelled"
