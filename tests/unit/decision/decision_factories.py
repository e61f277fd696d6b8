"""A calm one-lot SPY iron condor snapshot on which no rule fires; tests override what matters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.enums import Right, StrategyType
from shared.events import LegSnapshot, PositionSnapshot

NOW = dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC)
EXPIRY = dt.date(2026, 4, 10)


def legs() -> list[LegSnapshot]:
    return [
        LegSnapshot(
            right=right,
            strike=strike,
            expiry=EXPIRY,
            quantity=q,
            price=0.5,
            delta=0.1 if right == Right.CALL else -0.1,
            gamma=0.01,
            theta=-0.03,
            vega=0.2,
            iv=0.2,
        )
        for right, strike, q in (
            (Right.PUT, 540.0, 1),
            (Right.PUT, 550.0, -1),
            (Right.CALL, 610.0, -1),
            (Right.CALL, 620.0, 1),
        )
    ]


def snapshot(seconds: float = 0.0, **overrides: Any) -> PositionSnapshot:
    as_of = NOW + dt.timedelta(seconds=seconds)
    fields: dict[str, Any] = {
        "strategy_id": "s-1",
        "symbol": "SPY",
        "strategy_type": StrategyType.IRON_CONDOR,
        "legs": legs(),
        "quantity": 1,
        "opened_at": NOW - dt.timedelta(days=2),
        "expiry": EXPIRY,
        "dte": 39,
        "entry_price": 1.20,
        "mark": 1.00,
        "unrealized_pnl": 20.0,
        "upl_pct": 20.0 / 120.0,
        "max_profit": 120.0,
        "max_loss": 880.0,
        "delta": 2.0,
        "gamma": -1.0,
        "theta": 3.0,
        "vega": -10.0,
        "iv": 0.20,
        "iv_rank": 50.0,
        "iv_percentile": 0.5,
        "iv_change_pct": 0.0,
        "underlying_price": 580.0,
        "underlying_change_1h": 0.0,
        "vix": 18.0,
        "vix_at_entry": 18.0,
        "portfolio_delta": 2.0,
        "symbol_delta": 2.0,
        "as_of": as_of,
        "market_time": as_of,
    }
    fields.update(overrides)
    return PositionSnapshot(**fields)


def take_profit_snapshot(seconds: float = 0.0, **overrides: Any) -> PositionSnapshot:
    """UPL% 0.85 on the condor: take profit closes it."""
    return snapshot(seconds, mark=0.18, unrealized_pnl=102.0, upl_pct=0.85, **overrides)
