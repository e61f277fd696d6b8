"""The monitor's book through the one position fold: the two bugs it had on its own."""

import datetime as dt
import math

import pytest

from services.monitor.book import PositionBook
from shared.domain.strategy import InvalidTransition
from shared.enums import Action, ExitResult, OrderPurpose, OrderSide, Right, StrategyStatus
from shared.events import ExitExecuted, Leg, OrderFilled

T0 = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)
EXP = dt.date(2027, 1, 15)


def _leg(strike: float, quantity: int) -> Leg:
    return Leg(right=Right.PUT, strike=strike, expiry=EXP, quantity=quantity)


def _fill(sid: str, exec_id: str, purpose: OrderPurpose, price: float, **kw: object):
    return OrderFilled(
        strategy_id=sid,
        order_ref=f"v6:{sid}:{purpose.value}:0",
        purpose=purpose,
        broker_order_id=1,
        exec_id=exec_id,
        side=OrderSide.BUY,
        quantity=1,
        price=price,
        cumulative_quantity=1,
        total_quantity=1,
        legs=[],
        market_time=T1,
        **kw,
    )


def test_the_monitor_closes_a_rolled_strategy_with_the_close_of_its_own_two_step_roll():
    # s-r1 came from a roll of s; now it is rolled again in two steps: the close under its own
    # id has no rolled_from and must close it, not double it
    book = PositionBook()
    book.on_order_filled(_fill("s-r1", "o-1", OrderPurpose.ROLL, 1.10, rolled_from="s"), T0)
    assert book.positions["s-r1"].quantity == 1
    book.positions["s-r1"].rolled_from = "s"
    book.positions["s-r1"].legs = [_leg(490, 1), _leg(495, -1)]
    book.on_order_filled(_fill("s-r1", "c-1", OrderPurpose.ROLL, -0.40), T1)
    pos = book.positions["s-r1"]
    assert pos.quantity == 0 and pos.status is StrategyStatus.CLOSED
    assert math.isclose(pos.realized_pnl, (1.10 - 0.40) * 100)


def test_the_monitor_refuses_a_fill_that_would_reopen_a_failed_strategy():
    book = PositionBook()
    book.on_order_filled(_fill("s", "e-1", OrderPurpose.ENTRY, 1.0), T0)
    book.positions["s"].status = StrategyStatus.FAILED
    book.positions["s"].quantity = 0
    with pytest.raises(InvalidTransition):
        book.on_order_filled(_fill("s", "e-2", OrderPurpose.ENTRY, 1.0), T1)
    pos = book.positions["s"]
    assert pos.status is StrategyStatus.FAILED and pos.quantity == 0
    assert "e-2" not in pos.exec_ids  # nothing applied: a redelivery is refused again


def test_a_reduce_told_before_its_fill_arrives_is_not_applied_twice():
    # orders and exits are consumed side by side: the ExitExecuted of a REDUCE (2 -> 1) may
    # come before the reduce's own fill; that fill must not close the last unit as well
    book = PositionBook()
    book.on_order_filled(
        _fill(
            "s",
            "e-1",
            OrderPurpose.ENTRY,
            1.0,
        ),
        T0,
    )
    book.positions["s"].quantity = 2
    reduced = ExitExecuted(
        strategy_id="s",
        action=Action.REDUCE,
        result=ExitResult.REDUCED,
        closed_quantity=1,
        remaining_quantity=1,
        exec_ids=["r-1"],
        market_time=T1,
    )
    book.on_exit_executed(reduced, T1)
    assert book.on_order_filled(_fill("s", "r-1", OrderPurpose.REDUCE, -0.4), T1) is None
    pos = book.positions["s"]
    assert pos.quantity == 1 and pos.status is StrategyStatus.OPEN
