"""The engine never raises and no rule errors on any valid snapshot and state."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.rules import Decision, DecisionEngine, StrategyState
from shared.enums import Action, Right, StrategyType, Urgency
from shared.events import LegSnapshot, PositionSnapshot

from .factories import NOW

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
fraction = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False, allow_infinity=False)
expiries = st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2028, 12, 31))

legs = st.builds(
    LegSnapshot,
    right=st.sampled_from(Right),
    strike=finite,
    expiry=expiries,
    quantity=st.integers(-5, 5),
    price=finite,
    delta=finite,
    gamma=finite,
    theta=finite,
    vega=finite,
    iv=finite,
)

snapshots = st.builds(
    PositionSnapshot,
    strategy_id=st.sampled_from(["a", "b", "c"]),
    symbol=st.sampled_from(["SPY", "QQQ"]),
    strategy_type=st.sampled_from(StrategyType),
    legs=st.lists(legs, max_size=4),
    quantity=st.integers(1, 1000),
    opened_at=st.just(NOW),
    expiry=expiries,
    dte=st.integers(-5, 800),
    entry_price=finite,
    mark=finite,
    unrealized_pnl=finite,
    upl_pct=fraction,
    max_profit=finite,
    max_loss=finite,
    delta=finite,
    gamma=finite,
    theta=finite,
    vega=finite,
    iv=finite,
    iv_rank=finite,
    iv_percentile=fraction,
    iv_change_pct=fraction,
    underlying_price=finite,
    underlying_change_1h=fraction,
    vix=finite,
    vix_at_entry=finite,
    portfolio_delta=finite,
    symbol_delta=finite,
    as_of=st.just(NOW),
    stale=st.booleans(),
    roll_possible=st.booleans(),
    exit_working=st.booleans(),
)

states = st.builds(
    StrategyState,
    strategy_id=st.just("a"),
    peak_upl_pct=st.none() | fraction,
    reduce_done=st.booleans(),
    roll_working=st.booleans(),
    roll_blocked_reason=st.sampled_from(["", "no credit"]),
    exit_working=st.booleans(),
    closed=st.booleans(),
    last_action=st.none() | st.sampled_from(Action),
    last_urgency=st.none() | st.sampled_from(Urgency),
)

ENGINE = DecisionEngine()


@settings(max_examples=400, deadline=None)
@given(snapshot=snapshots, state=states)
def test_engine_never_raises_on_a_valid_snapshot(
    snapshot: PositionSnapshot, state: StrategyState
) -> None:
    decision, after = ENGINE.evaluate(snapshot, state)

    assert isinstance(decision, Decision)
    assert isinstance(after, StrategyState)
    assert ENGINE.drain_errors() == []
