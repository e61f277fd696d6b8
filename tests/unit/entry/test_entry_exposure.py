"""The book and a candidate in share equivalents, for the risk checks."""

from __future__ import annotations

from entry_factories import EXPIRY, condor_legs, make_record
from msgspec.structs import replace

from services.entry.exposure import book_entry, candidate_entry, strategy_greeks
from services.entry.market import QuoteCache
from shared.enums import Right, SecType, StrategyStatus
from shared.events import Leg, MarketDataUpdated, Quote

DELTAS = {
    (Right.PUT, 540.0): -0.10,
    (Right.PUT, 545.0): -0.16,
    (Right.CALL, 615.0): 0.14,
    (Right.CALL, 620.0): 0.09,
}


def _quote(leg: Leg, delta: float | None) -> Quote:
    return Quote(
        symbol="SPY",
        sec_type=SecType.OPTION,
        right=leg.right,
        strike=leg.strike,
        expiry=leg.expiry,
        bid=1.0,
        ask=1.1,
        delta=delta,
        gamma=0.01,
    )


def _lookup(leg: Leg) -> Quote:
    return _quote(leg, DELTAS[(leg.right, leg.strike)])


def test_condor_greeks_are_share_equivalents_over_the_quantity():
    greeks = strategy_greeks(condor_legs(), 3, _lookup)
    # per unit: -0.10 + 0.16 - 0.14 + 0.09 = 0.01 -> x 100 x 3
    assert abs(greeks.delta - 3.0) < 1e-9
    assert abs(greeks.gamma - 0.0) < 1e-9


def test_a_leg_without_a_delta_gives_no_greeks():
    assert strategy_greeks(condor_legs(), 1, lambda leg: _quote(leg, None)) is None
    assert strategy_greeks(condor_legs(), 1, lambda leg: None) is None


def test_book_entry_uses_live_leg_quotes_and_the_held_quantity():
    record = make_record(quantity=4, filled_quantity=2, delta_per_unit=50.0)
    opened = replace(record, strategy=replace(record.strategy, status=StrategyStatus.OPEN))
    quotes = QuoteCache()
    entry = book_entry(opened, quotes)
    assert entry.delta == 100.0  # build-time 50 per unit x 2 held: no live quotes yet
    assert entry.max_loss == opened.strategy.max_loss_per_unit * 2
    quotes.on_market_data(
        MarketDataUpdated(symbol="SPY", quotes=[_lookup(leg) for leg in condor_legs()])
    )
    entry = book_entry(opened, quotes)
    assert abs(entry.delta - 2.0) < 1e-9
    assert (entry.expiry, entry.strike_low, entry.strike_high) == (EXPIRY, 540.0, 620.0)


def test_pending_strategy_counts_with_its_intended_quantity():
    entry = book_entry(make_record(quantity=4, delta_per_unit=10.0), QuoteCache())
    assert entry.delta == 40.0
    assert entry.status is StrategyStatus.PENDING


def test_candidate_carries_its_own_greeks_and_max_loss():
    record = make_record(quantity=2)
    greeks = strategy_greeks(condor_legs(), 2, _lookup)
    entry = candidate_entry(record.strategy, greeks)
    assert entry.delta == greeks.delta
    assert entry.max_loss == record.strategy.max_loss
    assert entry.signal_id == "sig-1"
