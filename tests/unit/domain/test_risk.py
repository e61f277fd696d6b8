"""Portfolio exposure and the pre-trade capacity checks, in share equivalents and currency."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.config import EntryConfig
from shared.domain.risk import (
    BookEntry,
    check_entry_capacity,
    conflicting,
    portfolio_exposure,
    signal_unused,
)
from shared.enums import StrategyStatus

EXPIRY = dt.date(2027, 1, 15)
NET_LIQ = 1_000_000.0
LIMITS = (
    EntryConfig()
)  # delta 500, symbol delta 300, gamma 50, 2% per position, 20% total, 5/symbol


def entry(**overrides) -> BookEntry:
    fields = {
        "strategy_id": "s-new",
        "symbol": "SPY",
        "expiry": EXPIRY,
        "strike_low": 540.0,
        "strike_high": 620.0,
        "status": StrategyStatus.PENDING,
        "delta": 0.0,
        "gamma": 0.0,
        "max_loss": 1_000.0,
    }
    return BookEntry(**(fields | overrides))


def checks_by_name(book, new, limits=LIMITS, net_liq=NET_LIQ):
    return {c.name: c for c in check_entry_capacity(book, new, limits, net_liq)}


def test_first_trade_inside_the_limits_passes_every_check():
    # a typical 45-DTE SPY iron condor, 2 units: -0.04 delta x 100 x 2 = -8 shares
    condor = entry(delta=-8.0, gamma=-1.2, max_loss=760.0)
    checks = checks_by_name([], condor)
    assert all(c.passed for c in checks.values()), checks
    assert checks["portfolio_delta"].value == pytest.approx(8.0)
    assert checks["portfolio_delta"].limit == 500.0


def test_exposure_sums_live_strategies_overall_and_per_symbol():
    book = [
        entry(strategy_id="a", delta=50.0, gamma=2.0, max_loss=500.0, status=StrategyStatus.OPEN),
        entry(strategy_id="b", symbol="QQQ", delta=-20.0, gamma=1.0, max_loss=300.0),
        entry(strategy_id="c", delta=10.0, max_loss=100.0, status=StrategyStatus.CLOSING),
        entry(strategy_id="d", delta=999.0, max_loss=9e9, status=StrategyStatus.CLOSED),
        entry(strategy_id="e", delta=999.0, max_loss=9e9, status=StrategyStatus.FAILED),
    ]
    exposure = portfolio_exposure(book)
    assert exposure.delta == pytest.approx(40.0)
    assert exposure.gamma == pytest.approx(3.0)
    assert exposure.max_loss == pytest.approx(900.0)
    assert exposure.strategies == 3
    assert exposure.symbol("SPY").delta == pytest.approx(60.0)
    assert exposure.symbol("SPY").strategies == 2
    assert exposure.symbol("IWM").strategies == 0


@pytest.mark.parametrize(
    ("book_delta", "new_delta", "passed"),
    [(450.0, 40.0, True), (450.0, 50.0, True), (450.0, 60.0, False), (-450.0, -60.0, False)],
)
def test_portfolio_delta_below_at_and_above_limit(book_delta, new_delta, passed):
    # book on another symbol so only the portfolio limit (500) is in play
    book = [entry(strategy_id="old", symbol="QQQ", delta=book_delta, strike_low=1, strike_high=2)]
    check = checks_by_name(book, entry(delta=new_delta))["portfolio_delta"]
    assert check.passed is passed
    assert check.value == pytest.approx(abs(book_delta + new_delta))


def test_new_delta_offsetting_the_book_brings_it_back_inside():
    book = [entry(strategy_id="old", symbol="QQQ", delta=600.0, strike_low=1, strike_high=2)]
    assert checks_by_name(book, entry(delta=-200.0))["portfolio_delta"].passed


@pytest.mark.parametrize(("new_delta", "passed"), [(250.0, True), (300.0, True), (301.0, False)])
def test_symbol_delta_below_at_and_above_limit(new_delta, passed):
    assert checks_by_name([], entry(delta=new_delta))["symbol_delta"].passed is passed


def test_symbol_delta_counts_only_that_symbol():
    book = [entry(strategy_id="q", symbol="QQQ", delta=290.0, strike_low=1, strike_high=2)]
    checks = checks_by_name(book, entry(delta=100.0))
    assert checks["symbol_delta"].passed
    assert checks["symbol_delta"].value == pytest.approx(100.0)


@pytest.mark.parametrize(("new_gamma", "passed"), [(-49.0, True), (-50.0, True), (-50.5, False)])
def test_portfolio_gamma_below_at_and_above_limit(new_gamma, passed):
    assert checks_by_name([], entry(gamma=new_gamma))["portfolio_gamma"].passed is passed


@pytest.mark.parametrize(
    ("max_loss", "passed"), [(19_999.0, True), (20_000.0, True), (20_000.5, False)]
)
def test_position_risk_below_at_and_above_2pct_of_net_liquidation(max_loss, passed):
    check = checks_by_name([], entry(max_loss=max_loss))["position_risk"]
    assert check.passed is passed
    assert check.limit == pytest.approx(20_000.0)


def test_position_risk_fails_without_net_liquidation():
    assert not checks_by_name([], entry(), net_liq=0.0)["position_risk"].passed


@pytest.mark.parametrize(("existing", "passed"), [(3, True), (4, True), (5, False)])
def test_strategies_per_symbol_must_be_below_five_before_the_new_one(existing, passed):
    book = [
        entry(strategy_id=f"s{i}", expiry=EXPIRY + dt.timedelta(days=7 * i), max_loss=1.0)
        for i in range(existing)
    ]
    check = checks_by_name(book, entry())["strategies_per_symbol"]
    assert check.passed is passed
    assert check.value == existing


@pytest.mark.parametrize(
    ("new_loss", "passed"), [(10_000.0, True), (15_000.0, True), (15_001.0, False)]
)
def test_total_exposure_below_at_and_above_20pct_of_net_liquidation(new_loss, passed):
    book = [
        entry(strategy_id=f"q{i}", symbol=sym, max_loss=18_500.0, strike_low=1, strike_high=2)
        for i, sym in enumerate(["QQQ", "IWM", "DIA", "XLF", "XLE", "GLD", "TLT", "EEM", "EFA"])
    ]
    # 9 x 18,500 = 166,500 booked; 185,000 + new vs a 200,000 cap
    book.append(entry(strategy_id="x", symbol="SMH", max_loss=18_500.0))
    check = checks_by_name(book, entry(max_loss=new_loss))["total_exposure"]
    assert check.passed is passed
    assert check.value == pytest.approx(185_000.0 + new_loss)


def test_candidate_already_in_the_book_is_not_counted_twice():
    pending = entry(delta=290.0)
    assert checks_by_name([pending], pending)["symbol_delta"].passed


def test_every_check_names_its_limit_and_carries_figures():
    for check in check_entry_capacity([], entry(), LIMITS, NET_LIQ):
        assert check.name
        assert check.value is not None
        assert check.limit is not None
        assert check.detail


def test_overlapping_strikes_on_same_symbol_and_expiry_conflict():
    book = [entry(strategy_id="old", strike_low=600.0, strike_high=640.0)]
    check = conflicting(book, entry(strike_low=540.0, strike_high=610.0))
    assert not check.passed
    assert "old" in check.detail


@pytest.mark.parametrize(
    ("other", "why"),
    [
        ({"strike_low": 630.0, "strike_high": 650.0}, "strikes apart"),
        ({"expiry": dt.date(2027, 2, 19)}, "other expiry"),
        ({"symbol": "QQQ"}, "other symbol"),
        ({"status": StrategyStatus.CLOSED}, "closed"),
        ({"status": StrategyStatus.FAILED}, "failed"),
    ],
)
def test_no_conflict_when_anything_differs(other, why):
    book = [entry(strategy_id="old", **other)]
    assert conflicting(book, entry()).passed, why


def test_touching_strike_ranges_conflict():
    book = [entry(strategy_id="old", strike_low=620.0, strike_high=650.0)]
    assert not conflicting(book, entry()).passed


def test_pending_strategy_conflicts_like_an_open_one():
    book = [entry(strategy_id="old", status=StrategyStatus.PENDING)]
    assert not conflicting(book, entry()).passed


def test_a_signal_enters_once_whatever_became_of_its_strategy():
    book = [entry(strategy_id="old", signal_id="sig-1", status=StrategyStatus.FAILED)]
    assert not signal_unused(book, "sig-1").passed
    assert signal_unused(book, "sig-2").passed
