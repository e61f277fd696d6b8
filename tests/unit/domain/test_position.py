"""The one position fold: what a fill does to a strategy, in every service."""

import datetime as dt
import math

import pytest
from fixtures.events import leg_fills

from shared.domain.position import (
    PositionState,
    apply_close,
    apply_fill,
    apply_open,
    fill_opens,
    move,
    price_within,
)
from shared.domain.strategy import TRANSITIONS, InvalidTransition
from shared.enums import OrderPurpose, Right, StrategyStatus
from shared.errors import Invalid
from shared.events import Leg

T0 = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)
EXP = dt.date(2027, 1, 15)


def _pending() -> PositionState:
    return PositionState(strategy_id="s")


def test_opening_fills_average_the_entry_price_and_open_a_pending_strategy_once():
    first = apply_open(_pending(), 2, 1.20, T0)
    assert first.state.status is StrategyStatus.OPEN and first.state.opened_at == T0
    second = apply_open(first.state, 1, 1.50, T1)
    assert second.state.quantity == 3
    assert math.isclose(second.state.entry_price, (2 * 1.20 + 1.50) / 3)
    assert second.state.opened_at == T0  # opened once


def test_closing_fills_realize_pnl_per_unit_and_close_at_zero():
    held = apply_open(_pending(), 2, 1.20, T0).state  # a credit of 1.20 per unit
    part = apply_close(held, 1, -0.30, T1)  # paid 0.30 to close one unit
    assert part.units == 1 and math.isclose(part.pnl, 90.0)
    assert part.state.status is StrategyStatus.OPEN and part.state.quantity == 1
    rest = apply_close(part.state, 5, -0.50, T1)  # never more than is held
    assert rest.units == 1 and math.isclose(rest.pnl, 70.0)
    assert rest.state.status is StrategyStatus.CLOSED and rest.state.closed_at == T1
    assert math.isclose(rest.state.realized_pnl, 160.0)


def test_a_closing_strategy_that_fills_more_stays_closing():
    closing = move(apply_open(_pending(), 1, 1.0, T0).state, StrategyStatus.CLOSING, T0)
    assert apply_open(closing, 1, 1.0, T1).state.status is StrategyStatus.CLOSING


@pytest.mark.parametrize("status", [StrategyStatus.FAILED, StrategyStatus.CLOSED])
def test_a_failed_or_closed_strategy_never_opens_again(status: StrategyStatus):
    state = PositionState(strategy_id="s", status=status)
    with pytest.raises(InvalidTransition) as raised:
        apply_open(state, 1, 1.0, T1)
    assert "not allowed" in str(raised.value)
    assert isinstance(raised.value, Invalid)  # a message asking for it is dead-lettered


def test_every_move_outside_the_transition_table_is_refused():
    for current in StrategyStatus:
        for to in StrategyStatus:
            state = PositionState(strategy_id="s", status=current)
            if current is to or (current, to) in TRANSITIONS:
                assert move(state, to, T0).status is to
            else:
                with pytest.raises(InvalidTransition):
                    move(state, to, T0)


def test_only_an_entry_or_the_order_opening_a_roll_opens():
    assert fill_opens(OrderPurpose.ENTRY, None)
    assert fill_opens(OrderPurpose.ROLL, "old")  # one roll combo, or the second step
    assert not fill_opens(OrderPurpose.ROLL, None)  # a two-step roll's close, under the old id
    assert not fill_opens(OrderPurpose.EXIT, None)
    assert not fill_opens(OrderPurpose.REDUCE, None)
    held = apply_fill(_pending(), OrderPurpose.ENTRY, None, 1, 1.0, T0).state
    assert apply_fill(held, OrderPurpose.ROLL, None, 1, -0.4, T1).state.quantity == 0


def _leg(strike: float, quantity: int, price: float | None = None) -> Leg:
    return Leg(right=Right.PUT, strike=strike, expiry=EXP, quantity=quantity, price=price)


def test_a_roll_combo_prices_each_side_from_its_own_legs():
    old, new = [_leg(500, 1), _leg(505, -1)], [_leg(490, 1), _leg(495, -1)]
    # the combo as traded: the old legs reversed, the new ones opened, each at its own price
    traded = [
        _leg(500, -1, price=0.40),  # the old long sold back
        _leg(505, 1, price=1.10),  # the old short bought back
        _leg(490, 1, price=0.90),
        _leg(495, -1, price=2.00),
    ]
    fills = leg_fills(traded, 1)
    assert math.isclose(price_within(old, fills, 0.40), -0.70)  # cost 0.70 to close
    assert math.isclose(price_within(new, fills, 0.40), 1.10)  # a 1.10 credit opened
    assert price_within(new, fills[2:], 1.05) == 1.05  # just its legs: the fill's own price
