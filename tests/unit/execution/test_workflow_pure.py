import datetime as dt

from fixtures.events import leg_fills

from services.execution.orders import OrderRole, OrderSpec, bracket_refs, exit_ref
from shared.domain.chain import strikes_around
from shared.domain.position import own_net_price
from shared.domain.strategy import order_ref
from shared.enums import OrderPurpose, Right
from shared.events import Leg

EXP = dt.date(2027, 1, 15)


def _leg(strike: float, quantity: int, price: float | None = None) -> Leg:
    return Leg(right=Right.PUT, strike=strike, expiry=EXP, quantity=quantity, price=price)


def test_part_price_nets_only_the_named_legs_per_unit_credit_positive():
    # a 2-unit roll combo: the old legs (1, 2) closed, the new leg (3) two contracts per unit
    fills = leg_fills([_leg(1, 1, 1.0), _leg(2, -1, 3.0), _leg(3, -2, 0.5)], 2)
    assert own_net_price([_leg(1, 1), _leg(2, -1)], fills) == 2.0  # bought 1.00, sold 3.00
    assert own_net_price([_leg(3, -2)], fills) == 1.0  # 2 contracts per unit at 0.50


def test_roll_chain_reaches_the_expected_move_and_the_wing():
    # 580 x 20 % x sqrt(45/365) x 1.5 = 61 strikes, + a 5 wide wing, + 2
    assert strikes_around(580.0, 0.20, 45, 5.0) == 69
    assert strikes_around(5000.0, 0.9, 300, 50.0) == 100  # capped


def test_only_an_entry_or_a_roll_into_it_opens_a_strategy():
    leg = Leg(right=Right.PUT, strike=500, expiry=EXP, quantity=1, con_id=1)

    def spec(
        sid: str, purpose: OrderPurpose, role: OrderRole, rolled_from: str | None = None
    ) -> OrderSpec:
        return OrderSpec(
            strategy_id=sid,
            symbol="SPY",
            order_ref="r",
            purpose=purpose,
            role=role,
            legs=(leg,),
            quantity=1,
            limit_price=1.0,
            worst_price=1.0,
            rolled_from=rolled_from,
        )

    assert spec("a", OrderPurpose.ENTRY, OrderRole.ENTRY).opens("a")
    assert spec("a-r1", OrderPurpose.ROLL, OrderRole.ROLL_COMBO, rolled_from="a").opens("a-r1")
    assert spec("a-r1", OrderPurpose.ROLL, OrderRole.ROLL_OPEN, rolled_from="a").opens("a-r1")
    assert not spec("a-r1", OrderPurpose.ROLL, OrderRole.ROLL_COMBO, rolled_from="a").opens("a")
    # the old side of a two-step roll
    assert not spec("a", OrderPurpose.ROLL, OrderRole.ROLL_CLOSE).opens("a")
    assert not spec("a", OrderPurpose.EXIT, OrderRole.CLOSE).opens("a")
    assert len(set(bracket_refs("a"))) == 2


def test_a_rolled_strategys_own_roll_close_never_reuses_the_refs_that_opened_it():
    # "a-r1" was opened by the roll combo (roll:0) or the roll's second step (roll:1); rolling
    # it again in two steps must not find (and re-attach to) one of those orders by its ref
    opened = {order_ref("a-r1", OrderPurpose.ROLL, 0), order_ref("a-r1", OrderPurpose.ROLL, 1)}
    closes = {exit_ref("a-r1", OrderRole.ROLL_CLOSE, seq) for seq in range(5)}
    assert not opened & closes
    assert exit_ref("a", OrderRole.CLOSE, 2) == "v6:a:exit:2"
    assert exit_ref("a", OrderRole.REDUCE, 0) == "v6:a:reduce:0"
