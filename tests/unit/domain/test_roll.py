from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from chain_factory import AS_OF, TODAY, make_chain

from shared.config import BuilderConfig, DteRollRule
from shared.domain.builders import StrategyBuilder
from shared.domain.chain import OptionChain
from shared.domain.roll import RollDeclined, RollPlan, build_roll, can_roll, roll_blocker
from shared.domain.strategy import Strategy, derive_id, make_strategy, naked_short_problems
from shared.enums import Right, StrategyStatus, StrategyType
from shared.events import Leg

P, C = Right.PUT, Right.CALL
OLD_EXPIRY = dt.date(2026, 3, 27)  # 25 DTE: the roll window
SAFE = (525.0, 530.0, 625.0, 630.0)  # far out of the money: cheap to close
BUILDER = StrategyBuilder(BuilderConfig(), max_position_risk_pct=0.02)


@pytest.fixture(scope="module")
def chain() -> OptionChain:
    return make_chain()


def condor(strikes: tuple[float, float, float, float], price: float = 1.40) -> Strategy:
    lp, sp, sc, lc = strikes
    legs = (
        Leg(right=P, strike=lp, expiry=OLD_EXPIRY, quantity=1),
        Leg(right=P, strike=sp, expiry=OLD_EXPIRY, quantity=-1),
        Leg(right=C, strike=sc, expiry=OLD_EXPIRY, quantity=-1),
        Leg(right=C, strike=lc, expiry=OLD_EXPIRY, quantity=1),
    )
    pending = make_strategy(
        strategy_id="old",
        symbol="SPY",
        strategy_type=StrategyType.IRON_CONDOR,
        legs=legs,
        quantity=3,
        entry_price=price,
        signal_id="sig",
    )
    return msgspec.structs.replace(pending, status=StrategyStatus.OPEN, opened_at=AS_OF)


def roll(
    strategy: Strategy, chain: OptionChain, rule: DteRollRule | None = None
) -> RollPlan | RollDeclined:
    return build_roll(strategy, chain, BUILDER, rule or DteRollRule(), today=TODAY, now=AS_OF)


def test_roll_rebuilds_the_condor_at_45_dte_recentred_with_the_same_quantity(
    chain: OptionChain,
) -> None:
    old = condor(SAFE)
    plan = roll(old, chain)
    assert isinstance(plan, RollPlan), plan
    new = plan.new
    assert new.strategy_type is StrategyType.IRON_CONDOR
    assert new.quantity == old.quantity
    assert new.dte(TODAY) == 46
    assert new.rolled_from == "old"
    assert new.signal_id == "sig"
    lp, sp, sc, lc = (leg.strike for leg in new.legs)
    assert lp < sp < 580 < sc < lc
    # re-centred: the same strikes a fresh 45-DTE condor gets today
    fresh = BUILDER.select_legs(StrategyType.IRON_CONDOR, chain, TODAY)
    assert isinstance(fresh, tuple)
    assert {(leg.right, leg.strike, leg.quantity) for leg in new.legs} == {
        (leg.right, leg.strike, leg.quantity) for leg in fresh
    }


def test_roll_net_price_is_the_new_credit_minus_the_cost_to_close(chain: OptionChain) -> None:
    old = condor(SAFE)
    plan = roll(old, chain)
    assert isinstance(plan, RollPlan)
    closing = chain.combo(plan.legs[:4])
    assert closing is not None
    assert plan.close_price == pytest.approx(closing.mid, abs=0.005)
    assert plan.close_price < 0  # closing a short condor costs money
    assert plan.net_price == pytest.approx(plan.close_price + plan.new.entry_price)
    assert plan.net_price > 0
    assert plan.worst_price < plan.net_price


def test_roll_combo_reverses_every_old_leg_and_leaves_no_naked_short(chain: OptionChain) -> None:
    old = condor(SAFE)
    plan = roll(old, chain)
    assert isinstance(plan, RollPlan)
    assert [-leg.quantity for leg in plan.legs[:4]] == [leg.quantity for leg in old.legs]
    assert plan.legs[4:] == plan.new.legs
    assert naked_short_problems(plan.legs) == []


def test_replacement_id_is_a_pure_function_of_the_old_id_and_day(chain: OptionChain) -> None:
    plan = roll(condor(SAFE), chain)
    again = roll(condor(SAFE), chain)
    assert isinstance(plan, RollPlan) and isinstance(again, RollPlan)
    assert plan.new.strategy_id == again.new.strategy_id == derive_id("old", "roll", "2026-03-02")


def test_tested_condor_cannot_roll_for_a_credit_when_credit_only(chain: OptionChain) -> None:
    tested = condor((570, 575, 585, 590))
    declined = roll(tested, chain)
    assert isinstance(declined, RollDeclined)
    assert declined.reason == "no net credit roll"
    assert declined.strategy_id == "old"
    allowed = roll(tested, chain, DteRollRule(credit_only=False))
    assert isinstance(allowed, RollPlan)
    assert allowed.net_price < 0


def test_roll_declines_when_no_expiry_fits() -> None:
    short_dated = make_chain(max_days=30)
    declined = roll(condor(SAFE), short_dated)
    assert isinstance(declined, RollDeclined)
    assert declined.reason == "no listed expiry in the DTE window"


def test_roll_declines_without_a_market_for_the_current_legs() -> None:
    far_only = make_chain(expiries=[dt.date(2026, 4, 17)])
    declined = roll(condor(SAFE), far_only)
    assert isinstance(declined, RollDeclined)
    assert declined.reason == "no two-sided market for the current legs"


def test_only_open_strategies_roll(chain: OptionChain) -> None:
    pending = msgspec.structs.replace(condor(SAFE), status=StrategyStatus.PENDING)
    declined = roll(pending, chain)
    assert isinstance(declined, RollDeclined)
    assert "not open" in declined.reason


def test_expiry_wins_over_roll_and_custom_structures_do_not_roll() -> None:
    assert can_roll(StrategyType.IRON_CONDOR, dte=25)
    assert not can_roll(StrategyType.IRON_CONDOR, dte=1)
    assert "time exit" in (roll_blocker(StrategyType.PUT_CREDIT_SPREAD, dte=0) or "")
    assert not can_roll(StrategyType.CUSTOM, dte=25)
    assert not can_roll(StrategyType.LONG_CALL, dte=25)
