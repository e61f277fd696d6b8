"""Connecting, contracts, chains, current time and history through the real ib_async client."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from ib_async import IB, Index, Option, Stock

from services.ibsim import Simulator


async def test_connect_completes_quickly_with_the_paper_account(sim: Simulator, connect):
    started = time.perf_counter()
    ib = await connect(1)
    elapsed = time.perf_counter() - started

    assert ib.isConnected()
    assert ib.managedAccounts() == ["DU1234567"]
    assert elapsed < 1.0  # every start-up request was answered, none timed out


async def test_duplicate_client_id_gets_error_326_and_is_closed(sim, connect, ib_errors):
    ib_errors.expect(r"^Error 326")
    # ib_async then waits for the API start that never comes, as with a real gateway
    ib_errors.expect(r"Peer closed connection|already in use|API connection failed")
    await connect(7)
    second = IB()
    with pytest.raises((ConnectionError, TimeoutError, OSError)):
        await second.connectAsync("127.0.0.1", sim.port, clientId=7, timeout=1)
    second.disconnect()
    assert 326 in ib_errors.codes()


async def test_two_clients_with_distinct_ids_connect_side_by_side(connect):
    first, second = await connect(1), await connect(2)
    assert first.isConnected() and second.isConnected()


async def test_current_time_is_the_simulated_clock(ib: IB, sim: Simulator):
    sim.market.pause()
    reported = await ib.reqCurrentTimeAsync()
    assert reported == sim.market.now.replace(microsecond=0)
    assert reported == dt.datetime(2026, 6, 15, 14, 30, tzinfo=dt.UTC)

    sim.market.advance(dt.timedelta(days=2))
    later = await ib.reqCurrentTimeAsync()
    assert later - reported == dt.timedelta(days=2)


async def test_qualify_stock_index_and_option(ib: IB):
    spy, vix = Stock("SPY", "SMART", "USD"), Index("VIX", "CBOE")
    option = Option("SPY", "20260731", 570, "P", "SMART")
    await ib.qualifyContractsAsync(spy, vix, option)

    assert spy.conId == 756733 and spy.primaryExchange == "ARCA"
    assert vix.conId == 13455763
    assert option.conId > 0 and option.multiplier == "100"
    assert option.localSymbol == "SPY   260731P00570000"


async def test_unknown_contract_gets_error_200(ib: IB, ib_errors):
    ib_errors.expect(r"^Error 200")
    result = await ib.qualifyContractsAsync(Stock("NOPE", "SMART", "USD"))
    assert result == [None]
    assert ib_errors.codes() == [200]


async def test_option_chain_has_weeklies_and_monthlies_past_90_days(ib: IB):
    spy = Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(spy)
    [chain] = await ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId)

    expiries = [dt.datetime.strptime(e, "%Y%m%d").date() for e in chain.expirations]
    start = dt.date(2026, 6, 15)
    assert expiries[0] >= start
    assert (expiries[-1] - start).days >= 90
    assert sum(1 for e in expiries if (e - start).days <= 42) >= 5  # weeklies
    assert 580.0 in chain.strikes and min(chain.strikes) < 500 < 650 < max(chain.strikes)
    assert chain.multiplier == "100" and chain.tradingClass == "SPY"


@pytest.mark.parametrize(
    "what", ["TRADES", "MIDPOINT", "OPTION_IMPLIED_VOLATILITY", "HISTORICAL_VOLATILITY"]
)
async def test_a_year_of_daily_bars_ends_on_the_live_start(ib: IB, sim: Simulator, what: str):
    spy = Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(spy)
    bars = await ib.reqHistoricalDataAsync(spy, "", "1 Y", "1 day", what, True)

    assert 245 <= len(bars) <= 256
    assert bars[-1].date == dt.date(2026, 6, 15)
    if what == "TRADES":
        assert bars[-1].close == pytest.approx(580.0)
    if what == "OPTION_IMPLIED_VOLATILITY":
        assert bars[-1].close == pytest.approx(sim.market.atm_iv("SPY", 30 / 365), abs=1e-4)


async def test_default_seed_starts_spy_with_a_high_iv_rank(ib: IB):
    spy = Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(spy)
    bars = await ib.reqHistoricalDataAsync(
        spy, "", "1 Y", "1 day", "OPTION_IMPLIED_VOLATILITY", True
    )
    ivs = [b.close for b in bars]
    rank = 100 * (ivs[-1] - min(ivs)) / (max(ivs) - min(ivs))
    assert rank > 50


async def test_vix_history_is_served_for_the_index(ib: IB):
    vix = Index("VIX", "CBOE")
    await ib.qualifyContractsAsync(vix)
    bars = await ib.reqHistoricalDataAsync(vix, "", "30 D", "1 day", "TRADES", True)
    assert 15 <= len(bars) <= 23
    assert all(5 < b.close < 90 for b in bars)


async def test_unsupported_bar_size_is_an_error(ib: IB, ib_errors):
    ib_errors.expect(r"^Error 162")
    spy = Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(spy)
    bars = await ib.reqHistoricalDataAsync(spy, "", "1 D", "1 min", "TRADES", True)
    assert list(bars) == []
    assert 162 in ib_errors.codes()
