"""The entry signal: direction, structure, VIX, hours, capacity, and a replay-stable signal id."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from shared.config import EntryConfig
from shared.domain.calendar import NEW_YORK
from shared.domain.risk import BookEntry
from shared.domain.signal import MarketState, evaluate_capacity, evaluate_market, signal_id
from shared.enums import Direction, StrategyStatus, StrategyType, Trend
from shared.events import EntrySignalEvaluated, decode, encode

CONFIG = EntryConfig()
WEDNESDAY_11AM = dt.datetime(2026, 11, 25, 11, 0, tzinfo=NEW_YORK)
# IV history from 0.10 to 0.30: a current IV of 0.25 ranks 75, 0.12 ranks 10, 0.18 ranks 40
IV_HISTORY = [0.10 + 0.20 * i / 251 for i in range(252)]


def market(**overrides) -> MarketState:
    fields = {
        "symbol": "SPY",
        "underlying_price": 580.0,
        "iv_history": IV_HISTORY,
        "current_iv": 0.25,
        "closes": [580.0] * 30,
        "vix": 18.0,
        "now": WEDNESDAY_11AM,
    }
    return MarketState(**(fields | overrides))


def candidate(**overrides) -> BookEntry:
    fields = {
        "strategy_id": "cand",
        "symbol": "SPY",
        "expiry": dt.date(2027, 1, 8),
        "strike_low": 530.0,
        "strike_high": 630.0,
        "status": StrategyStatus.PENDING,
        "delta": -6.0,
        "gamma": -0.8,
        "max_loss": 760.0,
    }
    return BookEntry(**(fields | overrides))


def check(evaluation, name):
    (found,) = [c for c in evaluation.checks if c.name == name]
    return found


def test_high_iv_rank_in_a_flat_market_sells_an_iron_condor():
    evaluation = evaluate_market(market(), CONFIG)
    assert evaluation.accepted, evaluation.reasons
    assert evaluation.direction is Direction.SELL_PREMIUM
    assert evaluation.trend is Trend.NEUTRAL
    assert evaluation.strategy_type is StrategyType.IRON_CONDOR
    assert evaluation.iv_rank == pytest.approx(75.0, abs=0.5)


@pytest.mark.parametrize(
    ("price", "iv", "expected"),
    [
        (600.0, 0.25, StrategyType.PUT_CREDIT_SPREAD),
        (560.0, 0.25, StrategyType.CALL_CREDIT_SPREAD),
        (580.0, 0.12, StrategyType.LONG_STRADDLE),
        (600.0, 0.12, StrategyType.CALL_DEBIT_SPREAD),
        (560.0, 0.12, StrategyType.PUT_DEBIT_SPREAD),
    ],
)
def test_trend_and_direction_pick_the_structure(price, iv, expected):
    evaluation = evaluate_market(market(underlying_price=price, current_iv=iv), CONFIG)
    assert evaluation.accepted, evaluation.reasons
    assert evaluation.strategy_type is expected


def test_iv_rank_between_thresholds_means_no_entry():
    evaluation = evaluate_market(market(current_iv=0.18), CONFIG)
    assert not evaluation.accepted
    assert evaluation.direction is Direction.NONE
    assert evaluation.strategy_type is None
    rank = check(evaluation, "iv_rank")
    assert not rank.passed
    assert rank.value == pytest.approx(40.0, abs=0.5)


def test_empty_iv_history_rejects_with_a_reason():
    evaluation = evaluate_market(market(iv_history=[], current_iv=None), CONFIG)
    assert not evaluation.accepted
    assert evaluation.iv_rank is None
    assert any("no implied-volatility history" in r for r in evaluation.reasons)


@pytest.mark.parametrize(
    ("vix", "passed"), [(12.0, True), (34.9, True), (35.0, False), (11.9, False)]
)
def test_vix_band_blocks_extremes(vix, passed):
    evaluation = evaluate_market(market(vix=vix), CONFIG)
    assert check(evaluation, "vix").passed is passed
    assert evaluation.accepted is passed


def test_no_entry_in_the_first_half_hour():
    evaluation = evaluate_market(market(now=WEDNESDAY_11AM.replace(hour=9, minute=45)), CONFIG)
    assert not evaluation.accepted
    assert "first 30 minutes" in check(evaluation, "market_hours").detail


def test_no_entry_on_a_half_day_afternoon():
    after_cutoff = dt.datetime(2026, 11, 27, 12, 45, tzinfo=NEW_YORK)
    evaluation = evaluate_market(market(now=after_cutoff), CONFIG)
    assert not check(evaluation, "market_hours").passed


def test_too_few_closes_rejects_on_trend():
    evaluation = evaluate_market(market(closes=[580.0] * 5), CONFIG)
    assert not evaluation.accepted
    assert evaluation.trend is None
    assert check(evaluation, "trend").value == 5


def test_unknown_configured_structure_rejects_instead_of_raising():
    config = msgspec.structs.replace(CONFIG, sell_structures={"neutral": "butterfly"})
    evaluation = evaluate_market(market(), config)
    assert not check(evaluation, "structure").passed


def test_first_trade_passes_capacity_on_an_empty_book():
    evaluation = evaluate_capacity(
        evaluate_market(market(), CONFIG), [], candidate(), CONFIG, 1_000_000.0
    )
    assert evaluation.accepted, evaluation.reasons
    names = {c.name for c in evaluation.checks}
    assert {"portfolio_delta", "position_risk", "no_conflict", "signal_unused"} <= names


def test_capacity_breach_rejects_and_says_by_how_much():
    evaluation = evaluate_capacity(
        evaluate_market(market(), CONFIG), [], candidate(max_loss=25_000.0), CONFIG, 1_000_000.0
    )
    assert not evaluation.accepted
    risk = check(evaluation, "position_risk")
    assert (risk.value, risk.limit) == (25_000.0, pytest.approx(20_000.0))
    assert evaluation.reasons == [f"position_risk: {risk.detail}"]


def test_replayed_signal_is_not_entered_twice():
    first = evaluate_market(market(), CONFIG)
    book = [candidate(strategy_id="earlier", signal_id=first.signal_id, strike_low=700.0)]
    replay = evaluate_market(market(now=WEDNESDAY_11AM + dt.timedelta(seconds=20)), CONFIG)
    assert replay.signal_id == first.signal_id
    evaluation = evaluate_capacity(replay, book, candidate(), CONFIG, 1_000_000.0)
    assert not check(evaluation, "signal_unused").passed


def test_signal_id_is_a_pure_function_of_symbol_and_interval():
    t = dt.datetime(2026, 11, 25, 15, 30, 10, tzinfo=dt.UTC)
    assert signal_id("spy", t, 60) == "sig-SPY-20261125T153000Z"
    assert signal_id("SPY", t + dt.timedelta(seconds=49), 60) == signal_id("SPY", t, 60)
    assert signal_id("SPY", t + dt.timedelta(seconds=50), 60) != signal_id("SPY", t, 60)
    assert signal_id("SPY", t.astimezone(NEW_YORK), 60) == signal_id("SPY", t, 60)
    assert signal_id("QQQ", t, 60) != signal_id("SPY", t, 60)


def test_evaluation_becomes_a_wire_event_that_round_trips():
    evaluation = evaluate_market(market(current_iv=0.18), CONFIG)
    event = evaluation.to_event(producer="entry")
    decoded = decode(encode(event))
    assert isinstance(decoded, EntrySignalEvaluated)
    assert decoded.signal_id == evaluation.signal_id
    assert decoded.correlation_id == evaluation.signal_id
    assert decoded.accepted is False
    assert decoded.reasons == evaluation.reasons
    assert len(decoded.checks) == len(evaluation.checks)
    assert decoded.market_time == WEDNESDAY_11AM
