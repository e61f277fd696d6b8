import datetime as dt

import pytest

from services.execution.orders import (
    closing_legs,
    ib_order_terms,
    net_from_ib,
    net_prices,
    reduce_units,
    walk_limits,
)
from shared.enums import OrderSide, Right, SecType
from shared.events import Leg, Quote

EXP = dt.date(2027, 1, 15)


def condor() -> list[Leg]:
    return [
        Leg(right=Right.PUT, strike=540, expiry=EXP, quantity=1, con_id=1),
        Leg(right=Right.PUT, strike=545, expiry=EXP, quantity=-1, con_id=2),
        Leg(right=Right.CALL, strike=615, expiry=EXP, quantity=-1, con_id=3),
        Leg(right=Right.CALL, strike=620, expiry=EXP, quantity=1, con_id=4),
    ]


def quote(con_id: int, bid: float, ask: float) -> Quote:
    return Quote(symbol="SPY", sec_type=SecType.OPTION, con_id=con_id, bid=bid, ask=ask)


QUOTES = {
    1: quote(1, 1.00, 1.10),
    2: quote(2, 1.50, 1.60),
    3: quote(3, 1.40, 1.50),
    4: quote(4, 0.90, 1.00),
}


def test_credit_condor_is_bought_as_a_bag_at_a_negative_ib_limit():
    assert ib_order_terms(condor(), 1.25) == (OrderSide.BUY, -1.25)
    assert net_from_ib(condor(), OrderSide.BUY, -1.2) == pytest.approx(1.2)


def test_single_long_option_is_bought_at_its_premium():
    leg = [Leg(right=Right.CALL, strike=600, expiry=EXP, quantity=1, con_id=9)]
    assert ib_order_terms(leg, -2.5) == (OrderSide.BUY, 2.5)
    assert net_from_ib(leg, OrderSide.BUY, 2.5) == pytest.approx(-2.5)
    closing = closing_legs(leg)
    assert ib_order_terms(closing, 2.5) == (OrderSide.SELL, 2.5)


def test_condor_mid_and_natural_are_signed_credit_positive():
    mid, natural = net_prices(condor(), QUOTES)
    # mid: -1.05 + 1.55 + 1.45 - 0.95 = 1.00; natural: sell at bids, buy at asks = 0.80
    assert mid == pytest.approx(1.00)
    assert natural == pytest.approx(0.80)


def test_closing_a_credit_condor_costs_a_debit():
    mid, natural = net_prices(closing_legs(condor()), QUOTES)
    assert mid == pytest.approx(-1.00)
    assert natural == pytest.approx(-1.20)


def test_missing_quote_gives_no_price():
    assert net_prices(condor(), {1: QUOTES[1]}) is None


def test_walk_moves_a_third_of_the_way_each_step_and_reaches_natural():
    assert walk_limits(1.00, 0.70, 0.50, 1 / 3, 3) == pytest.approx([0.90, 0.80, 0.70])


def test_walk_never_goes_below_the_worst_price():
    assert walk_limits(1.00, 0.40, 0.75, 1 / 3, 3) == pytest.approx([0.80, 0.75])


def test_no_walk_when_the_limit_is_already_marketable():
    assert walk_limits(0.80, 0.90, 0.50, 1 / 3, 3) == []


def test_debit_walk_pays_more_up_to_the_worst():
    assert walk_limits(-2.00, -2.30, -2.20, 0.5, 4) == pytest.approx([-2.15, -2.2])


@pytest.mark.parametrize(("quantity", "ratio", "units"), [(4, 0.5, 2), (3, 0.5, 1), (1, 0.5, 0)])
def test_reduce_rounds_down_to_whole_units(quantity, ratio, units):
    assert reduce_units(quantity, ratio) == units
