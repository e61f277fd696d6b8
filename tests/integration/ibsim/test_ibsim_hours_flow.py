"""Regular trading hours, daily expiries and expiry settlement, as a real IB gateway has them.

Each test drives the simulator with the real ib_async client and moves simulated time with
``Market.advance`` (the market is paused, so only the test moves it).
"""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from ib_async import IB, LimitOrder, MarketOrder, Option

from services.ibsim import Simulator
from shared.config import SimConfig
from shared.domain import calendar
from shared.domain.calendar import NEW_YORK

WARNING_399 = r"will not be placed at the exchange until"


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), NEW_YORK)


async def _advance_to(sim: Simulator, when: dt.datetime) -> None:
    sim.market.advance((when - sim.market.now).total_seconds())


@pytest.fixture
def sim_config(request: pytest.FixtureRequest) -> SimConfig:
    # each test names the New York time its market starts at
    start = getattr(request, "param", "2026-06-15T20:00:00")  # Monday evening, after the close
    return SimConfig(start_time=start, tick_interval_s=0.02)


def _warnings(trade) -> list[str]:
    return [e.message for e in trade.log if e.errorCode == 399]


async def test_an_option_order_after_the_close_is_held_until_the_open(ib: IB, sim, until):
    sim.market.pause()
    put = Option("SPY", "20260731", 560, "P", "SMART")
    await ib.qualifyContractsAsync(put)
    trade = ib.placeOrder(put, MarketOrder("BUY", 1))
    await until(lambda: _warnings(trade))

    [text] = _warnings(trade)
    assert "Order Message:\nBUY 1 SPY   260731P00560000 SMART\n" in text
    # ib_async records IB's warning as the trade's status until the next status line
    assert trade.orderStatus.status == "ValidationError"
    assert text.endswith(f"{WARNING_399}\n2026-06-16 09:30:00 US/Eastern")
    sim.market.advance(3600)  # 21:00: still closed, a market order still does not fill
    await until(lambda: sim.orders[0].status == "PreSubmitted")
    assert not trade.fills

    await _advance_to(sim, _at(dt.date(2026, 6, 16), 9, 31))
    await until(trade.isDone)
    assert trade.orderStatus.status == "Filled"
    [fill] = trade.fills
    assert fill.execution.time >= _at(dt.date(2026, 6, 16), 9, 30)


@pytest.mark.parametrize("sim_config", ["2026-06-14T12:00:00"], indirect=True)  # a Sunday
async def test_an_order_on_a_sunday_waits_for_monday_open(ib: IB, sim, until):
    sim.market.pause()
    call = Option("SPY", "20260731", 600, "C", "SMART")
    await ib.qualifyContractsAsync(call)
    trade = ib.placeOrder(call, MarketOrder("BUY", 1))
    await until(lambda: _warnings(trade))
    assert _warnings(trade)[0].endswith("2026-06-15 09:30:00 US/Eastern")
    sim.market.advance(6 * 3600)
    assert not trade.fills
    await _advance_to(sim, _at(dt.date(2026, 6, 15), 9, 30))
    await until(trade.isDone)
    assert trade.orderStatus.status == "Filled"


async def test_a_day_order_after_the_close_works_the_next_session_and_ends_at_its_close(
    ib: IB, sim, until, ib_errors
):
    ib_errors.expect(r"^Error 202")
    sim.market.pause()
    put = Option("SPY", "20260731", 500, "P", "SMART")
    await ib.qualifyContractsAsync(put)
    trade = ib.placeOrder(put, LimitOrder("BUY", 1, 0.01, tif="DAY"))
    await until(lambda: _warnings(trade))
    sim.market.advance(60)  # the next tick after the close no longer cancels it
    await _advance_to(sim, _at(dt.date(2026, 6, 16), 10, 0))
    await until(lambda: trade.orderStatus.status == "Submitted")
    assert sim.orders[0].status == "Submitted"

    await _advance_to(sim, _at(dt.date(2026, 6, 16), 15, 59))
    assert not trade.isDone()
    await _advance_to(sim, _at(dt.date(2026, 6, 16), 16, 0))
    await until(trade.isDone)
    assert trade.orderStatus.status == "Cancelled"


@pytest.mark.parametrize("sim_config", ["2026-11-27T12:00:00"], indirect=True)  # a half day
async def test_on_a_half_day_day_orders_end_and_fills_stop_at_13_00(ib: IB, sim, until, ib_errors):
    ib_errors.expect(r"^Error 202")
    sim.market.pause()
    put = Option("SPY", "20261218", 500, "P", "SMART")
    await ib.qualifyContractsAsync(put)
    day = ib.placeOrder(put, LimitOrder("BUY", 1, 0.01, tif="DAY"))
    await until(lambda: day.orderStatus.status == "Submitted")

    await _advance_to(sim, _at(dt.date(2026, 11, 27), 13, 0))
    await until(day.isDone)
    assert day.orderStatus.status == "Cancelled"
    late = ib.placeOrder(put, MarketOrder("BUY", 1))
    await until(lambda: _warnings(late))
    assert _warnings(late)[0].endswith("2026-11-30 09:30:00 US/Eastern")
    assert not late.fills


@pytest.mark.parametrize("sim_config", ["2026-06-15T10:30:00"], indirect=True)
async def test_spy_lists_an_expiry_every_trading_day(ib: IB, sim):
    [params] = await ib.reqSecDefOptParamsAsync("SPY", "", "STK", 756733)
    listed = {dt.datetime.strptime(e, "%Y%m%d").date() for e in params.expirations}
    today = dt.date(2026, 6, 15)
    sessions = {
        today + dt.timedelta(days=n)
        for n in range(28)
        if calendar.is_session(today + dt.timedelta(days=n))
    }
    assert sessions <= listed
    assert dt.date(2026, 6, 19) not in listed  # Juneteenth: no session, no expiry


@pytest.mark.parametrize("sim_config", ["2026-06-15T10:30:00"], indirect=True)
async def test_an_order_on_an_expired_option_gets_error_200(ib: IB, sim, until, ib_errors):
    ib_errors.expect(r"^Error 200")
    sim.market.pause()
    put = Option("SPY", "20260616", 570, "P", "SMART")  # a daily: expires Tuesday 16:00
    await ib.qualifyContractsAsync(put)
    assert put.conId
    await _advance_to(sim, _at(dt.date(2026, 6, 16), 16, 5))

    trade = ib.placeOrder(put, LimitOrder("BUY", 1, 1.00))
    await until(trade.isDone)
    assert ib_errors.codes() == [200]
    [entry] = [e for e in trade.log if e.errorCode == 200]
    assert "No security definition has been found for the request" in entry.message
    assert trade.orderStatus.status == "Cancelled"
    assert await ib.reqContractDetailsAsync(Option("SPY", "20260616", 570, "P", "SMART")) == []
    [params] = await ib.reqSecDefOptParamsAsync("SPY", "", "STK", 756733)
    assert "20260616" not in params.expirations


@pytest.mark.parametrize("sim_config", ["2026-06-15T10:30:00"], indirect=True)
async def test_at_expiry_itm_shorts_are_assigned_into_stock_and_otm_ones_vanish(ib: IB, sim, until):
    sim.market.pause()
    sim.market.set_price("SPY", 580.0)
    itm_put = Option("SPY", "20260616", 600, "P", "SMART")
    otm_call = Option("SPY", "20260616", 620, "C", "SMART")
    await ib.qualifyContractsAsync(itm_put, otm_call)
    for contract in (itm_put, otm_call):
        trade = ib.placeOrder(contract, MarketOrder("SELL", 1))
        await until(trade.isDone)
    await until(lambda: len(ib.positions()) == 2)
    cash_before = sim.account.cash

    await _advance_to(sim, _at(dt.date(2026, 6, 16), 15, 59))
    assert len(ib.positions()) == 2  # not before the close
    await _advance_to(sim, _at(dt.date(2026, 6, 16), 16, 1))
    await until(lambda: {p.contract.secType for p in ib.positions()} == {"STK"})
    [stock] = ib.positions()
    assert (stock.contract.symbol, stock.position, stock.avgCost) == ("SPY", 100, 600.0)
    await until(lambda: {p.contract.secType for p in ib.portfolio()} == {"STK"})
    assert sim.account.cash == pytest.approx(cash_before - 600.0 * 100)
    # executions of no API order: both options bought back at 0, the stock bought at 600
    settled = {
        (f.contract.conId, f.execution.side, f.execution.shares, f.execution.price)
        for f in ib.fills()
        if f.execution.orderId == 0
    }
    assert settled == {
        (itm_put.conId, "BOT", 1, 0.0),
        (otm_call.conId, "BOT", 1, 0.0),
        (756733, "BOT", 100, 600.0),
    }
    cash = {v.tag: float(v.value) for v in ib.accountValues() if v.tag == "TotalCashValue"}
    assert cash["TotalCashValue"] == pytest.approx(cash_before - 60_000.0, abs=0.01)


async def test_round_the_clock_fills_only_when_relaxed(until, ib_errors):
    # regular_hours_only=False: the setting fast tests use when they trade at any market time
    relaxed = msgspec.structs.replace(
        SimConfig(start_time="2026-06-15T20:00:00", tick_interval_s=0.02),
        regular_hours_only=False,
    )
    async with Simulator(relaxed) as sim:
        sim.market.pause()
        ib = IB()
        await ib.connectAsync("127.0.0.1", sim.port, clientId=1, timeout=3)
        try:
            put = Option("SPY", "20260731", 560, "P", "SMART")
            await ib.qualifyContractsAsync(put)
            trade = ib.placeOrder(put, MarketOrder("BUY", 1))
            await until(trade.isDone)
            assert trade.orderStatus.status == "Filled"
            assert not _warnings(trade)
        finally:
            ib.disconnect()


# SPY goes ex-dividend on Thursday 18 June 2026 (its third Friday is Juneteenth)
@pytest.mark.parametrize("sim_config", ["2026-06-17T15:00:00"], indirect=True)
async def test_a_short_itm_call_is_assigned_early_on_the_eve_of_the_ex_dividend_date(
    ib: IB, sim, until
):
    sim.market.pause()
    sim.market.set_price("SPY", 580.0)
    deep = Option("SPY", "20260626", 540, "C", "SMART")  # time value below the $1.85 dividend
    near = Option("SPY", "20260626", 578, "C", "SMART")  # time value well above it
    await ib.qualifyContractsAsync(deep, near)
    for contract in (deep, near):
        trade = ib.placeOrder(contract, MarketOrder("SELL", 1))
        await until(trade.isDone)
    await until(lambda: len(ib.positions()) == 2)

    await _advance_to(sim, _at(dt.date(2026, 6, 17), 16, 1))
    await until(lambda: {p.contract.conId for p in ib.positions()} == {near.conId, 756733})
    stock = next(p for p in ib.positions() if p.contract.secType == "STK")
    assert (stock.position, stock.avgCost) == (-100, 540.0)  # delivered at the strike
    assigned = [f for f in ib.fills() if f.execution.orderId == 0]
    assert {(f.contract.conId, f.execution.side) for f in assigned} == {
        (deep.conId, "BOT"),
        (756733, "SLD"),
    }
