"""Execution checks an order to open from first principles, whatever the event claims."""

import datetime as dt

import msgspec
import pytest
from fixtures.events import CONDOR, EXPIRY, built

from services.execution.validation import (
    ContractFacts,
    contract_problems,
    structure_problems,
)
from shared.config import OrdersConfig
from shared.enums import Right, StrategyType
from shared.events import Leg

TODAY = dt.date(2026, 3, 2)
LIMITS = OrdersConfig()


def _problems(**kw: object) -> list[str]:
    return structure_problems(built("s", **kw), LIMITS, TODAY)


def test_a_plain_condor_at_a_sane_credit_passes():
    assert _problems() == []


def test_a_short_strangle_is_refused_unless_naked_shorts_are_allowed():
    strangle = [
        Leg(right=Right.PUT, strike=550.0, expiry=EXPIRY, quantity=-1),
        Leg(right=Right.CALL, strike=610.0, expiry=EXPIRY, quantity=-1),
    ]
    kw = {
        "strategy_type": StrategyType.SHORT_STRANGLE,
        "legs": strangle,
        "limit_price": 3.0,
        "worst_price": 2.8,
    }
    problems = _problems(**kw)
    assert any("naked short PUT" in p for p in problems)
    assert any("naked short CALL" in p for p in problems)
    allowed = msgspec.structs.replace(LIMITS, allow_naked_shorts=True)
    assert structure_problems(built("s", **kw), allowed, TODAY) == []


def test_size_and_ratio_caps():
    assert any("orders.max_quantity" in p for p in _problems(quantity=10**9))
    ratio = [msgspec.structs.replace(leg, quantity=leg.quantity * 1000) for leg in CONDOR]
    assert any("orders.max_leg_ratio" in p for p in _problems(legs=ratio))


def test_max_loss_comes_from_the_legs_not_the_event():
    # a 50-lot $10-wide condor claiming a max loss of 1: the legs say 50 x (10 - 1.0) x 100
    problems = _problems(quantity=50, max_loss=1.0)
    assert problems == [
        "max loss 45,000.00 at the worst price above orders.max_order_risk 25,000.00"
    ]


@pytest.mark.parametrize(
    ("limit", "worst", "expected"),
    [
        (-50.0, -50.0, "net price -50.0 leaves no risk or no reward"),  # a debit on a credit
        (1.2, -1000.0, "worst price -1000 leaves no risk or no reward"),
        (10.5, 10.5, "net price 10.5 leaves no risk or no reward"),  # credit above the width
        (1.0, 1.2, "worst price 1.2 is better than the limit 1"),
    ],
)
def test_limit_and_worst_price_stay_inside_the_structure(limit: float, worst: float, expected: str):
    assert any(p.startswith(expected) for p in _problems(limit_price=limit, worst_price=worst))


def _facts(legs: list[Leg], **change: object) -> dict[int, ContractFacts]:
    facts = {}
    for i, leg in enumerate(legs, start=1):
        facts[i] = ContractFacts(
            con_id=i,
            symbol="SPY",
            sec_type="OPT",
            right=leg.right,
            strike=leg.strike,
            expiry=leg.expiry,
            multiplier=100,
        )
    return {k: msgspec.structs.replace(v, **change) if k == 1 else v for k, v in facts.items()}


def test_every_con_id_must_be_the_contract_its_leg_claims():
    legs = [msgspec.structs.replace(leg, con_id=i) for i, leg in enumerate(CONDOR, start=1)]
    assert contract_problems("SPY", legs, _facts(legs)) == []
    # the "long put" con_id is really a far call
    wrong = contract_problems("SPY", legs, _facts(legs, right=Right.CALL, strike=700.0))
    assert wrong == [f"leg SPY PUT 540 {EXPIRY}: con_id 1 is SPY OPT CALL 700 {EXPIRY} x100"]
    assert contract_problems("SPY", legs, _facts(legs, symbol="QQQ"))
    missing = {k: v for k, v in _facts(legs).items() if k != 2}
    assert contract_problems("SPY", legs, missing) == [
        f"leg PUT 550 {EXPIRY}: con_id 2 is not a listed contract"
    ]
