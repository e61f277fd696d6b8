"""One factory per event the monitor consumes, with defaults for every field.

The default strategy is a one-lot SPY iron condor (540/550 puts, 610/620 calls) 40 days out,
opened for a 1.20 credit, with SPY at 580.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.enums import OrderPurpose, OrderSide, Right, SecType, StrategyType
from shared.events import (
    Leg,
    LegFill,
    MarketDataUpdated,
    OrderFilled,
    OrderPlaced,
    Quote,
    StrategyBuilt,
)

# a Monday at 11:00 New York, inside the regular session
NOW = dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC)
EXPIRY = dt.date(2026, 4, 10)

CONDOR = [
    Leg(right=Right.PUT, strike=540.0, expiry=EXPIRY, quantity=1),
    Leg(right=Right.PUT, strike=550.0, expiry=EXPIRY, quantity=-1),
    Leg(right=Right.CALL, strike=610.0, expiry=EXPIRY, quantity=-1),
    Leg(right=Right.CALL, strike=620.0, expiry=EXPIRY, quantity=1),
]
CALL_DEBIT = [
    Leg(right=Right.CALL, strike=580.0, expiry=EXPIRY, quantity=1),
    Leg(right=Right.CALL, strike=590.0, expiry=EXPIRY, quantity=-1),
]


def built(strategy_id: str = "s-1", **kw: Any) -> StrategyBuilt:
    fields: dict[str, Any] = {
        "strategy_id": strategy_id,
        "symbol": "SPY",
        "strategy_type": StrategyType.IRON_CONDOR,
        "legs": CONDOR,
        "quantity": 1,
        "limit_price": 1.20,
        "worst_price": 1.00,
        "max_profit": 120.0,
        "max_loss": 880.0,
        "market_time": NOW,
    }
    fields.update(kw)
    return StrategyBuilt(**fields)


def placed(strategy_id: str = "s-1", **kw: Any) -> OrderPlaced:
    fields: dict[str, Any] = {
        "strategy_id": strategy_id,
        "order_ref": f"{strategy_id}:entry",
        "purpose": OrderPurpose.ENTRY,
        "broker_order_id": 1,
        "combo": True,
        "side": OrderSide.SELL,
        "quantity": 1,
        "limit_price": 1.20,
        "legs": CONDOR,
        "symbol": "SPY",
        "strategy_type": StrategyType.IRON_CONDOR,
        "market_time": NOW,
    }
    fields.update(kw)
    return OrderPlaced(**fields)


def filled(
    strategy_id: str = "s-1",
    exec_id: str = "e-1",
    quantity: int = 1,
    price: float = 1.20,
    legs: list[Leg] = CONDOR,
    **kw: Any,
) -> OrderFilled:
    fields: dict[str, Any] = {
        "strategy_id": strategy_id,
        "order_ref": f"{strategy_id}:entry",
        "purpose": OrderPurpose.ENTRY,
        "broker_order_id": 1,
        "exec_id": exec_id,
        "side": OrderSide.SELL,
        "quantity": quantity,
        "price": price,
        "cumulative_quantity": quantity,
        "total_quantity": quantity,
        "legs": [
            LegFill(
                con_id=leg.con_id,
                right=leg.right,
                strike=leg.strike,
                expiry=leg.expiry,
                side=OrderSide.BUY if leg.quantity > 0 else OrderSide.SELL,
                quantity=abs(leg.quantity) * quantity,
                price=1.0,
            )
            for leg in legs
        ],
        "market_time": NOW,
    }
    fields.update(kw)
    return OrderFilled(**fields)


def option_quote(leg: Leg, mid: float, symbol: str = "SPY", **kw: Any) -> Quote:
    half_spread = min(0.05, mid / 4)
    fields: dict[str, Any] = {
        "symbol": symbol,
        "sec_type": SecType.OPTION,
        "right": leg.right,
        "strike": leg.strike,
        "expiry": leg.expiry,
        "bid": round(mid - half_spread, 4),
        "ask": round(mid + half_spread, 4),
        "iv": 0.20,
        "delta": 0.2 if leg.right == Right.CALL else -0.2,
        "gamma": 0.01,
        "vega": 0.3,
        "theta": -0.05,
        "und_price": 580.0,
    }
    fields.update(kw)
    return Quote(**fields)


def underlying(symbol: str = "SPY", price: float = 580.0, **kw: Any) -> Quote:
    sec_type = SecType.INDEX if symbol == "VIX" else SecType.STOCK
    return Quote(symbol=symbol, sec_type=sec_type, bid=price - 0.01, ask=price + 0.01, **kw)


def md(
    quotes: list[Quote], symbol: str = "SPY", market_time: dt.datetime = NOW
) -> MarketDataUpdated:
    return MarketDataUpdated(symbol=symbol, quotes=quotes, market_time=market_time)


def condor_market(
    mids: tuple[float, float, float, float] = (0.40, 0.80, 0.75, 0.35),
    spot: float = 580.0,
    market_time: dt.datetime = NOW,
    legs: list[Leg] = CONDOR,
) -> MarketDataUpdated:
    """The underlying and every condor leg; the default mids value the condor at 0.80."""
    return md(
        [
            underlying(price=spot),
            *(option_quote(leg, m) for leg, m in zip(legs, mids, strict=True)),
        ],
        market_time=market_time,
    )


def vix(level: float = 18.0, market_time: dt.datetime = NOW) -> MarketDataUpdated:
    return md([underlying("VIX", level)], symbol="VIX", market_time=market_time)
