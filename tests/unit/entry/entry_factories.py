"""One factory per event entry consumes, with defaults for every field (style.md, "Tests")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.entry.lifecycle import StrategyRecord
from shared.domain.strategy import make_strategy
from shared.enums import (
    Action,
    ExitResult,
    OrderPurpose,
    OrderSide,
    OrderStatus,
    Right,
    StrategyType,
)
from shared.events import (
    ExitExecuted,
    Leg,
    OrderDenied,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
)

T0 = dt.datetime(2026, 11, 24, 15, 30, tzinfo=dt.UTC)
EXPIRY = dt.date(2027, 1, 8)


def condor_legs(expiry: dt.date = EXPIRY, center: float = 580.0) -> list[Leg]:
    return [
        Leg(right=Right.PUT, strike=center - 40, expiry=expiry, quantity=1),
        Leg(right=Right.PUT, strike=center - 35, expiry=expiry, quantity=-1),
        Leg(right=Right.CALL, strike=center + 35, expiry=expiry, quantity=-1),
        Leg(right=Right.CALL, strike=center + 40, expiry=expiry, quantity=1),
    ]


def make_record(
    strategy_id: str = "s1",
    *,
    symbol: str = "SPY",
    quantity: int = 2,
    legs: list[Leg] | None = None,
    signal_id: str | None = "sig-1",
    **fields: Any,
) -> StrategyRecord:
    strategy = make_strategy(
        strategy_id=strategy_id,
        symbol=symbol,
        strategy_type=StrategyType.IRON_CONDOR,
        legs=legs or condor_legs(),
        quantity=quantity,
        entry_price=1.5,
        created_at=T0,
        signal_id=signal_id,
    )
    return StrategyRecord(strategy=strategy, updated_at=T0, **fields)


def placed(strategy_id: str = "s1", **over: Any) -> OrderPlaced:
    fields: dict[str, Any] = dict(
        strategy_id=strategy_id,
        order_ref=f"v6:{strategy_id}:entry:0",
        purpose=OrderPurpose.ENTRY,
        broker_order_id=11,
        combo=True,
        side=OrderSide.SELL,
        quantity=2,
        limit_price=1.5,
        legs=condor_legs(),
        symbol="SPY",
        strategy_type=StrategyType.IRON_CONDOR,
    )
    return OrderPlaced(**{**fields, **over})


def filled(strategy_id: str = "s1", cumulative: int = 2, **over: Any) -> OrderFilled:
    fields: dict[str, Any] = dict(
        strategy_id=strategy_id,
        order_ref=f"v6:{strategy_id}:entry:0",
        purpose=OrderPurpose.ENTRY,
        broker_order_id=11,
        exec_id=f"e{cumulative}",
        side=OrderSide.SELL,
        quantity=cumulative,
        price=1.5,
        cumulative_quantity=cumulative,
        total_quantity=2,
        legs=[],
    )
    return OrderFilled(**{**fields, **over})


def status(strategy_id: str = "s1", **over: Any) -> OrderStatusChanged:
    fields: dict[str, Any] = dict(
        strategy_id=strategy_id,
        order_ref=f"v6:{strategy_id}:entry:0",
        purpose=OrderPurpose.ENTRY,
        broker_order_id=11,
        status=OrderStatus.CANCELLED,
        reason="walk ended unfilled",
    )
    return OrderStatusChanged(**{**fields, **over})


def rejected(strategy_id: str = "s1", **over: Any) -> OrderRejected:
    fields: dict[str, Any] = dict(
        strategy_id=strategy_id,
        order_ref=f"v6:{strategy_id}:entry:0",
        purpose=OrderPurpose.ENTRY,
        reason="margin",
    )
    return OrderRejected(**{**fields, **over})


def denied(strategy_id: str = "s1", **over: Any) -> OrderDenied:
    fields: dict[str, Any] = dict(
        strategy_id=strategy_id,
        order_ref=f"v6:{strategy_id}:entry:0",
        purpose=OrderPurpose.ENTRY,
        reason="halted",
    )
    return OrderDenied(**{**fields, **over})


def exited(strategy_id: str = "s1", **over: Any) -> ExitExecuted:
    fields: dict[str, Any] = dict(
        strategy_id=strategy_id,
        action=Action.CLOSE,
        result=ExitResult.CLOSED,
        realized_pnl=120.0,
        rule="take_profit",
    )
    return ExitExecuted(**{**fields, **over})
