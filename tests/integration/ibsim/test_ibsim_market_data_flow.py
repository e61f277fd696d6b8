"""Streaming quotes, option Greeks, snapshots and combo quotes through ib_async."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from ib_async import IB, Bag, ComboLeg, Index, Option, Stock

from services.ibsim import Simulator


def has(value: float) -> bool:
    return value is not None and not math.isnan(value)


async def test_stock_ticks_carry_quotes_and_the_simulated_time(ib: IB, sim: Simulator, until):
    spy = Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(spy)
    ticker = ib.reqMktData(spy)
    await until(lambda: has(ticker.bid) and has(ticker.close) and ticker.lastTimestamp)

    assert ticker.bid < ticker.ask
    assert ticker.ask - ticker.bid == pytest.approx(0.01)
    assert ticker.bidSize > 0
    assert abs(ticker.lastTimestamp - sim.market.now) < dt.timedelta(seconds=5)


async def test_stock_ticks_stream_as_the_market_moves(ib: IB, sim: Simulator, until):
    spy = Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(spy)
    ticker = ib.reqMktData(spy)
    await until(lambda: has(ticker.last))
    sim.market.set_price("SPY", 612.34)
    await until(lambda: ticker.last == 612.34)


async def test_generic_ticks_give_the_stocks_implied_and_historical_vol(ib: IB, sim, until):
    spy = Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(spy)
    ticker = ib.reqMktData(spy, "104,106")
    await until(lambda: has(ticker.impliedVolatility) and has(ticker.histVolatility))
    assert ticker.impliedVolatility == pytest.approx(sim.market.atm_iv("SPY", 30 / 365), rel=0.05)
    assert 0.02 < ticker.histVolatility < 1.0


async def test_vix_index_ticks_its_level(ib: IB, sim: Simulator, until):
    sim.market.set_vix(24.5)
    vix = Index("VIX", "CBOE")
    await ib.qualifyContractsAsync(vix)
    ticker = ib.reqMktData(vix)
    await until(lambda: has(ticker.last))
    assert ticker.last == pytest.approx(24.5, abs=0.5)


async def test_option_ticks_carry_greeks_for_bid_ask_last_and_model(ib: IB, until):
    put = Option("SPY", "20260731", 560, "P", "SMART")
    await ib.qualifyContractsAsync(put)
    ticker = ib.reqMktData(put)
    await until(
        lambda: (
            all(g is not None for g in (ticker.bidGreeks, ticker.askGreeks, ticker.modelGreeks))
            and ticker.lastGreeks is not None
            and has(ticker.bid)
        )
    )

    model = ticker.modelGreeks
    assert -0.5 < model.delta < 0
    assert model.gamma > 0 and model.vega > 0 and model.theta < 0
    assert 0.05 < model.impliedVol < 1.0
    assert model.undPrice == pytest.approx(580.0, rel=0.02)
    assert ticker.bid < model.optPrice < ticker.ask


async def test_puts_carry_more_iv_than_calls_the_same_distance_away(ib: IB, until):
    put = Option("SPY", "20260731", 550, "P", "SMART")
    call = Option("SPY", "20260731", 610, "C", "SMART")
    await ib.qualifyContractsAsync(put, call)
    tp, tc = ib.reqMktData(put), ib.reqMktData(call)
    await until(lambda: tp.modelGreeks is not None and tc.modelGreeks is not None)
    assert tp.modelGreeks.impliedVol > tc.modelGreeks.impliedVol


async def test_snapshot_delivers_once_and_ends(ib: IB):
    spy = Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(spy)
    [ticker] = await ib.reqTickersAsync(spy)
    assert has(ticker.bid) and has(ticker.ask)


async def test_cancelled_line_gets_no_more_ticks(ib: IB, sim: Simulator, until):
    spy = Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(spy)
    ticker = ib.reqMktData(spy)
    await until(lambda: has(ticker.last))
    ib.cancelMktData(spy)
    await until(lambda: all(not s.subscriptions for s in sim._sessions.values()))
    sim.market.set_price("SPY", 600.0)
    await ib.reqCurrentTimeAsync()  # a round trip: anything sent before it has arrived
    assert ticker.last != 600.0


async def test_bag_market_data_quotes_the_combo(ib: IB, sim: Simulator, until):
    short, long_ = (
        Option("SPY", "20260731", 570, "P", "SMART"),
        Option("SPY", "20260731", 565, "P", "SMART"),
    )
    await ib.qualifyContractsAsync(short, long_)
    bag = Bag(
        symbol="SPY",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=short.conId, ratio=1, action="SELL", exchange="SMART"),
            ComboLeg(conId=long_.conId, ratio=1, action="BUY", exchange="SMART"),
        ],
    )
    sim.market.pause()
    ticker = ib.reqMktData(bag)
    await until(lambda: has(ticker.bid) and has(ticker.ask))
    assert -5.0 < ticker.bid < ticker.ask < 0  # a put credit spread quotes as a credit
