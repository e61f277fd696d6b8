from services.execution.fills import Execution, FillMatcher
from shared.enums import OrderSide

RATIOS = {1: 1, 2: 1}


def ex(exec_id: str, con_id: int, shares: float, price: float, bag: bool = False) -> Execution:
    side = OrderSide.BUY if con_id != 2 else OrderSide.SELL
    return Execution(
        exec_id=exec_id, con_id=con_id, is_bag=bag, side=side, shares=shares, price=price
    )


def test_bag_fill_completes_once_every_leg_executed_whatever_the_order():
    m = FillMatcher(RATIOS)
    assert m.add(ex("b1", 0, 2, -0.5, bag=True)) == []
    assert m.add(ex("l1", 1, 2, 1.0)) == []
    (fill,) = m.add(ex("l2", 2, 2, 1.5))
    assert fill.key_exec_id == "b1"
    assert fill.units == 2
    assert {leg.con_id: leg.price for leg in fill.legs} == {1: 1.0, 2: 1.5}
    assert set(fill.exec_ids) == {"b1", "l1", "l2"}


def test_replayed_executions_are_ignored():
    m = FillMatcher(RATIOS)
    for e in (ex("l1", 1, 1, 1.0), ex("l2", 2, 1, 1.5), ex("b1", 0, 1, -0.5, bag=True)):
        m.add(e)
    assert m.add(ex("b1", 0, 1, -0.5, bag=True)) == []
    assert m.add(ex("l1", 1, 1, 1.0)) == []


def test_partial_fills_pair_first_in_first_out():
    m = FillMatcher(RATIOS)
    m.add(ex("l1", 1, 3, 1.0))
    m.add(ex("l2", 2, 3, 1.5))
    (first,) = m.add(ex("b1", 0, 1, -0.5, bag=True))
    (second,) = m.add(ex("b2", 0, 2, -0.5, bag=True))
    assert (first.units, second.units) == (1, 2)
    assert second.legs[0].shares == 2


def test_single_leg_execution_is_its_own_fill():
    m = FillMatcher({7: 1})
    (fill,) = m.add(
        Execution(exec_id="x", con_id=7, is_bag=False, side=OrderSide.BUY, shares=1, price=2.5)
    )
    assert fill.price == 2.5


def test_leg_executions_without_a_bag_execution_make_whole_units_priced_in_bag_terms():
    m = FillMatcher({1: 1, 2: 2})
    assert m.add(ex("l1", 1, 3, 1.0)) == []
    assert m.add(ex("l2", 2, 5, 1.5)) == []  # 2.5 units' worth of leg 2: 2 whole units
    (fill,) = m.from_legs()
    assert (fill.key_exec_id, fill.units, fill.side) == ("l1@0", 2, OrderSide.BUY)
    assert fill.exec_ids == ("l1", "l2")
    assert fill.price == 1.0 - 2 * 1.5  # buy 1 at 1.00, sell 2 at 1.50: a 2.00 credit
    assert {leg.con_id: leg.shares for leg in fill.legs} == {1: 2, 2: 4}
    assert m.from_legs() == []  # the rest is no whole unit
    (last,) = m.add(ex("l3", 2, 1, 1.5)) or m.from_legs()
    assert last.units == 1 and last.key_exec_id == "l1@2"  # the rest of l1 starts it
