import datetime as dt

from services.execution.fills import ComboExecution, LegExecution
from services.execution.orders import OrderSpec
from services.execution.workflow import bracket_refs, opens, part_price, strikes_around
from shared.enums import OrderPurpose, OrderSide, Right
from shared.events import Leg

EXP = dt.date(2027, 1, 15)


def test_part_price_nets_only_the_named_legs_per_unit_credit_positive():
    combo = ComboExecution(
        key_exec_id="b",
        units=2,
        side=OrderSide.BUY,
        price=0.0,
        legs=(
            LegExecution(con_id=1, side=OrderSide.BUY, shares=2, price=1.0),
            LegExecution(con_id=2, side=OrderSide.SELL, shares=2, price=3.0),
            LegExecution(con_id=3, side=OrderSide.SELL, shares=4, price=0.5),
        ),
        exec_ids=("b",),
    )
    assert part_price(combo, [1, 2]) == 2.0  # the old legs: bought 1.00, sold 3.00
    assert part_price(combo, [3]) == 1.0  # 2 contracts per unit at 0.50


def test_roll_chain_reaches_the_expected_move_and_the_wing():
    # 580 x 20 % x sqrt(45/365) x 1.5 = 61 strikes, + a 5 wide wing, + 2
    assert strikes_around(580.0, 0.20, 45, 5.0) == 69
    assert strikes_around(5000.0, 0.9, 300, 50.0) == 100  # capped


def test_only_an_entry_or_a_roll_into_it_opens_a_strategy():
    leg = Leg(right=Right.PUT, strike=500, expiry=EXP, quantity=1, con_id=1)

    def spec(sid: str, purpose: OrderPurpose, rolled_from: str | None = None) -> OrderSpec:
        return OrderSpec(
            strategy_id=sid,
            symbol="SPY",
            order_ref="r",
            purpose=purpose,
            legs=(leg,),
            quantity=1,
            limit_price=1.0,
            worst_price=1.0,
            rolled_from=rolled_from,
        )

    assert opens(spec("a", OrderPurpose.ENTRY), "a")
    assert opens(spec("a-r1", OrderPurpose.ROLL, rolled_from="a"), "a-r1")
    assert not opens(spec("a-r1", OrderPurpose.ROLL, rolled_from="a"), "a")
    assert not opens(spec("a", OrderPurpose.ROLL), "a")  # the old side of a two-step roll
    assert not opens(spec("a", OrderPurpose.EXIT), "a")
    assert len(set(bracket_refs("a"))) == 2
