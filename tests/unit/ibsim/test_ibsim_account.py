"""Account bookkeeping: IB-style average costs, realized P&L, expiry into stock."""

from __future__ import annotations

import datetime as dt

import pytest

from services.ibsim.account import Account
from services.ibsim.market import Market


def option(market: Market, expiry: str, strike: float, right: str):
    chain = market.underlyings["SPY"].chain
    assert chain is not None
    return next(
        c for c in chain.contracts if (c.expiry, c.strike, c.right) == (expiry, strike, right)
    )


def test_average_cost_includes_multiplier_and_commission(market: Market):
    account = Account("DU1", 100_000.0)
    put = option(market, "20260731", 560.0, "P")
    account.apply_fill(put, 2, 1.50, 1.30)
    [pos] = account.open_positions()
    assert pos.avg_cost == pytest.approx(150.65)
    assert account.cash == pytest.approx(100_000.0 - 300.0 - 1.30)


def test_closing_realizes_profit_net_of_commissions(market: Market):
    account = Account("DU1", 100_000.0)
    put = option(market, "20260731", 560.0, "P")
    account.apply_fill(put, -1, 2.00, 1.00)  # sold for 200, paid 1
    realized = account.apply_fill(put, 1, 0.50, 1.00)  # bought back for 50, paid 1
    assert realized == pytest.approx(148.0)
    assert account.open_positions() == []


def test_expiry_exercises_itm_and_drops_otm(market: Market, start: dt.datetime):
    account = Account("DU1", 100_000.0)
    short_call = option(market, "20260618", 570.0, "C")
    long_put = option(market, "20260618", 550.0, "P")
    account.apply_fill(short_call, -1, 12.0, 1.0)
    account.apply_fill(long_put, 1, 0.5, 1.0)
    market.set_price("SPY", 580.0)

    assert account.expire(start + dt.timedelta(days=3), market) == []  # before the close
    outcomes = account.expire(start + dt.timedelta(days=4), market)

    assert {(o.option.right, o.exercised) for o in outcomes} == {("C", True), ("P", False)}
    [stock] = account.open_positions()
    assert stock.instrument.sec_type == "STK" and stock.position == -100  # assigned


def test_short_options_need_margin(market: Market):
    account = Account("DU1", 100_000.0)
    assert account.values(market)["MaintMarginReq"] == 0.0
    account.apply_fill(option(market, "20260731", 560.0, "P"), -1, 5.0, 1.0)
    values = account.values(market)
    assert values["MaintMarginReq"] > 0
    assert values["BuyingPower"] < 4 * 100_000.0
