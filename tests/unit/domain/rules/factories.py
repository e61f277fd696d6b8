"""One factory per value the rules read, with defaults for every field.

The default snapshot is a calm one-lot iron condor at 35 DTE on which no rule fires, so a test
overrides only the figures its scenario is about.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.domain.rules import StrategyState
from shared.enums import Right, StrategyType
from shared.events import LegSnapshot, PositionSnapshot

NOW = dt.datetime(2026, 3, 2, 15, 30, tzinfo=dt.UTC)

# (right, strike, signed quantity) per strategy kind, around an underlying at 450
_LEGS: dict[StrategyType, list[tuple[Right, float, int]]] = {
    StrategyType.IRON_CONDOR: [
        (Right.PUT, 420.0, 1),
        (Right.PUT, 425.0, -1),
        (Right.CALL, 475.0, -1),
        (Right.CALL, 480.0, 1),
    ],
    StrategyType.PUT_CREDIT_SPREAD: [(Right.PUT, 420.0, 1), (Right.PUT, 425.0, -1)],
    StrategyType.CALL_CREDIT_SPREAD: [(Right.CALL, 475.0, -1), (Right.CALL, 480.0, 1)],
    StrategyType.CALL_DEBIT_SPREAD: [(Right.CALL, 450.0, 1), (Right.CALL, 460.0, -1)],
    StrategyType.PUT_DEBIT_SPREAD: [(Right.PUT, 450.0, 1), (Right.PUT, 440.0, -1)],
    StrategyType.SHORT_STRANGLE: [(Right.PUT, 425.0, -1), (Right.CALL, 475.0, -1)],
    StrategyType.LONG_STRADDLE: [(Right.PUT, 450.0, 1), (Right.CALL, 450.0, 1)],
    StrategyType.LONG_CALL: [(Right.CALL, 450.0, 1)],
    StrategyType.LONG_PUT: [(Right.PUT, 450.0, 1)],
    StrategyType.CUSTOM: [(Right.CALL, 450.0, 1)],
}


_LONG_VOL = frozenset({StrategyType.LONG_STRADDLE, StrategyType.LONG_CALL, StrategyType.LONG_PUT})


def make_legs(strategy_type: StrategyType, expiry: dt.date) -> list[LegSnapshot]:
    return [
        LegSnapshot(
            right=right,
            strike=strike,
            expiry=expiry,
            quantity=quantity,
            price=1.0,
            delta=0.2 if right is Right.CALL else -0.2,
            gamma=0.01,
            theta=-0.02,
            vega=0.1,
            iv=0.2,
        )
        for right, strike, quantity in _LEGS[strategy_type]
    ]


def make_snapshot(**overrides: Any) -> PositionSnapshot:
    strategy_type = StrategyType(overrides.get("strategy_type", StrategyType.IRON_CONDOR))
    as_of = overrides.get("as_of", NOW)
    dte = overrides.get("dte", 35)
    expiry = overrides.get("expiry", as_of.date() + dt.timedelta(days=dte))
    fields: dict[str, Any] = {
        "strategy_id": "s-1",
        "symbol": "SPY",
        "strategy_type": strategy_type,
        "legs": make_legs(strategy_type, expiry),
        "quantity": 1,
        "opened_at": as_of - dt.timedelta(days=10),
        "expiry": expiry,
        "dte": dte,
        "entry_price": 1.50,
        "mark": 1.35,
        "unrealized_pnl": 15.0,
        "upl_pct": 0.10,
        "max_profit": 150.0,
        "max_loss": 350.0,
        "delta": 5.0,
        "gamma": 2.0,
        "theta": 3.0,
        # long premium is long volatility; everything else in the default is short vega
        "vega": 20.0 if strategy_type in _LONG_VOL else -10.0,
        "iv": 0.20,
        "iv_rank": 50.0,
        "iv_percentile": 0.50,
        "iv_change_pct": 0.0,
        "underlying_price": 450.0,
        "underlying_change_1h": 0.0,
        "vix": 18.0,
        "vix_at_entry": 18.0,
        "portfolio_delta": 5.0,
        "symbol_delta": 5.0,
        "as_of": as_of,
        "market_time": as_of,
        "wall_time": as_of,
    }
    fields.update(overrides)
    fields["strategy_type"] = strategy_type
    return PositionSnapshot(**fields)


def make_state(**overrides: Any) -> StrategyState:
    return StrategyState(**{"strategy_id": "s-1", **overrides})
