from __future__ import annotations

import datetime as dt
import math

import msgspec
import pytest

from shared.domain.strategy import (
    TRANSITIONS,
    InvalidTransition,
    Strategy,
    derive_id,
    from_built_event,
    make_strategy,
    naked_short_problems,
    order_ref,
    payoff,
    position_greeks,
    to_built_event,
    transition,
    validate,
)
from shared.enums import OrderPurpose, Right, StrategyStatus, StrategyType
from shared.events import Codec, LegSnapshot, StrategyBuilt, encode
from shared.events import Leg as L

TODAY = dt.date(2026, 3, 2)
EXP = dt.date(2026, 4, 17)
LATER = dt.date(2026, 5, 15)
NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
P, C = Right.PUT, Right.CALL


def leg(right: Right, strike: float, qty: int, expiry: dt.date = EXP) -> L:
    return L(right=right, strike=strike, expiry=expiry, quantity=qty)


CONDOR = (leg(P, 540, 1), leg(P, 545, -1), leg(C, 615, -1), leg(C, 620, 1))


def strategy(
    legs: tuple[L, ...] = CONDOR,
    kind: StrategyType = StrategyType.IRON_CONDOR,
    price: float = 1.5,
    quantity: int = 2,
) -> Strategy:
    return make_strategy(
        strategy_id="s1",
        symbol="SPY",
        strategy_type=kind,
        legs=legs,
        quantity=quantity,
        entry_price=price,
        created_at=NOW,
    )


# --- lifecycle ---------------------------------------------------------------------------------


def test_lifecycle_pending_open_closing_closed_stamps_times() -> None:
    s = strategy()
    opened = transition(s, StrategyStatus.OPEN, NOW)
    closing = transition(opened, StrategyStatus.CLOSING, NOW + dt.timedelta(days=3))
    closed = transition(closing, StrategyStatus.CLOSED, NOW + dt.timedelta(days=4), "tp")
    assert (opened.status, opened.opened_at) == (StrategyStatus.OPEN, NOW)
    assert closed.status is StrategyStatus.CLOSED
    assert closed.opened_at == NOW
    assert closed.closed_at == NOW + dt.timedelta(days=4)
    assert closed.status_reason == "tp"


def test_failed_exit_returns_closing_strategy_to_open() -> None:
    closing = transition(
        transition(strategy(), StrategyStatus.OPEN, NOW), StrategyStatus.CLOSING, NOW
    )
    assert transition(closing, StrategyStatus.OPEN, NOW).status is StrategyStatus.OPEN


def test_pending_strategy_can_fail_but_not_close() -> None:
    assert transition(strategy(), StrategyStatus.FAILED, NOW, "walk ended").status == "failed"
    with pytest.raises(InvalidTransition) as err:
        transition(strategy(), StrategyStatus.CLOSING, NOW)
    assert "pending -> closing" in str(err.value)


@pytest.mark.parametrize("terminal", [StrategyStatus.CLOSED, StrategyStatus.FAILED])
def test_terminal_states_have_no_way_out(terminal: StrategyStatus) -> None:
    assert not [pair for pair in TRANSITIONS if pair[0] is terminal]
    done = msgspec.structs.replace(strategy(), status=terminal)
    with pytest.raises(InvalidTransition):
        transition(done, StrategyStatus.OPEN, NOW)


# --- ids ---------------------------------------------------------------------------------------


def test_order_ref_is_a_pure_function_of_strategy_purpose_and_seq() -> None:
    assert order_ref("abc", OrderPurpose.ENTRY) == "v6:abc:entry:0"
    assert order_ref("abc", "EXIT", 2) == "v6:abc:exit:2"
    assert order_ref("abc", OrderPurpose.ENTRY) == order_ref("abc", "entry", 0)
    assert order_ref("abc", OrderPurpose.ENTRY) != order_ref("abc", OrderPurpose.ROLL)


def test_derived_ids_are_the_same_in_every_process_and_distinct() -> None:
    # a literal, so an id built on the salted hash() or a uuid would fail here
    assert derive_id("sig-1", "SPY") == "d61722a7797f430a50863d7cc0a99d74"
    assert derive_id("sig-1", "SPY") != derive_id("sig-1S", "PY")


# --- payoff ------------------------------------------------------------------------------------


def test_condor_payoff_is_credit_up_width_minus_credit_down() -> None:
    s = strategy()
    assert s.max_profit == pytest.approx(1.5 * 100 * 2)
    assert s.max_loss == pytest.approx((5 - 1.5) * 100 * 2)
    assert s.max_loss_per_unit == pytest.approx(350)
    assert s.max_profit_per_unit == pytest.approx(150)
    assert s.breakevens == pytest.approx((543.5, 616.5))


def test_debit_spread_payoff() -> None:
    figures = payoff([leg(C, 580, 1), leg(C, 585, -1)], -2.0)
    assert (figures.max_profit, figures.max_loss) == pytest.approx((3.0, 2.0))
    assert figures.breakevens == pytest.approx((582.0,))


def test_short_strangle_loss_is_unbounded_and_straddle_profit_is_unbounded() -> None:
    strangle = payoff([leg(P, 550, -1), leg(C, 610, -1)], 4.0)
    assert strangle.max_loss == math.inf
    assert strangle.max_profit == pytest.approx(4.0)
    assert strangle.breakevens == pytest.approx((546.0, 614.0))
    straddle = payoff([leg(P, 580, 1), leg(C, 580, 1)], -12.0)
    assert straddle.max_profit == math.inf
    assert straddle.max_loss == pytest.approx(12.0)
    assert straddle.breakevens == pytest.approx((568.0, 592.0))


def test_pnl_of_closing_at_the_take_profit_price() -> None:
    assert strategy().pnl_per_unit_at_close(-0.75) == pytest.approx(75.0)


# --- validation --------------------------------------------------------------------------------


def test_a_well_formed_condor_validates() -> None:
    assert validate(strategy(), TODAY) == []


def test_condor_out_of_order_is_reported() -> None:
    crossed = (leg(P, 540, 1), leg(P, 620, -1), leg(C, 545, -1), leg(C, 625, 1))
    problems = validate(strategy(crossed), TODAY)
    assert any("LP < SP < SC < LC" in p for p in problems)


def test_credit_spread_without_its_long_leg_is_refused() -> None:
    problems = validate(strategy((leg(P, 545, -1),), StrategyType.PUT_CREDIT_SPREAD), TODAY)
    assert any("needs legs" in p for p in problems)
    assert any("naked short PUT" in p for p in problems)


def test_custom_naked_short_call_is_refused_but_a_covered_calendar_is_not() -> None:
    naked = (leg(C, 600, -2), leg(C, 610, 1))
    assert naked_short_problems(naked) == [
        "naked short CALL: 2 short vs 1 protecting long from 2026-04-17"
    ]
    assert validate(strategy(naked, StrategyType.CUSTOM, price=1.0), TODAY)
    calendar = (leg(C, 600, -1), leg(C, 600, 1, LATER))
    assert naked_short_problems(calendar) == []
    reversed_calendar = (leg(C, 600, 1), leg(C, 600, -1, LATER))
    assert naked_short_problems(reversed_calendar)


def test_expired_duplicate_and_non_positive_legs_are_each_reported() -> None:
    legs = (leg(P, 540, 1, TODAY), leg(P, 540, 1, TODAY), leg(C, -5, -1), leg(C, 620, 0))
    problems = validate(strategy(legs, StrategyType.CUSTOM, quantity=0), TODAY)
    text = " | ".join(problems)
    for fragment in (
        "quantity must be at least 1",
        "duplicate leg",
        "expires on or before",
        "strike must be positive",
        "zero quantity",
    ):
        assert fragment in text


def test_vertical_with_two_expiries_is_refused() -> None:
    legs = (leg(P, 540, 1, LATER), leg(P, 545, -1))
    assert "put_credit_spread needs one expiry" in validate(
        strategy(legs, StrategyType.PUT_CREDIT_SPREAD, 1.0), TODAY
    )


def test_straddle_needs_one_strike() -> None:
    legs = (leg(P, 575, 1), leg(C, 580, 1))
    problems = validate(strategy(legs, StrategyType.LONG_STRADDLE, price=-10.0), TODAY)
    assert problems == ["a straddle's put and call need one strike"]


def test_credit_above_the_width_leaves_no_risk_and_is_refused() -> None:
    problems = validate(strategy(price=6.0), TODAY)
    assert len(problems) == 1
    assert "no risk or no reward" in problems[0]


def test_unequal_ratios_are_refused_for_named_structures() -> None:
    legs = (leg(P, 540, 2), leg(P, 545, -1))
    assert "legs must have equal ratios" in validate(
        strategy(legs, StrategyType.PUT_CREDIT_SPREAD, 1.0), TODAY
    )


# --- Greeks ------------------------------------------------------------------------------------


def test_position_greeks_are_share_equivalents_with_the_multiplier() -> None:
    legs = [
        LegSnapshot(
            right=P,
            strike=545,
            expiry=EXP,
            quantity=-1,
            price=2.0,
            delta=-0.16,
            gamma=0.01,
            theta=-0.10,
            vega=0.50,
            iv=0.2,
        ),
        LegSnapshot(
            right=P,
            strike=540,
            expiry=EXP,
            quantity=1,
            price=1.5,
            delta=-0.12,
            gamma=0.008,
            theta=-0.08,
            vega=0.40,
            iv=0.21,
        ),
    ]
    g = position_greeks(legs, quantity=3)
    assert g.delta == pytest.approx((0.16 - 0.12) * 100 * 3)
    assert g.gamma == pytest.approx(-0.002 * 100 * 3)
    assert g.theta == pytest.approx(0.02 * 100 * 3)
    assert g.vega == pytest.approx(-0.10 * 100 * 3)
    assert g.per_unit(3).delta == pytest.approx(4.0)


# --- conversion --------------------------------------------------------------------------------


def test_strategy_round_trips_through_the_built_event_on_the_wire() -> None:
    s = msgspec.structs.replace(
        strategy(), take_profit=-0.75, stop_loss=-4.5, worst_price=1.3, signal_id="sig"
    )
    ev = to_built_event(s, purpose=OrderPurpose.ENTRY)
    wire = Codec(StrategyBuilt).decode(encode(ev))
    back = from_built_event(wire)
    assert wire.limit_price == 1.5
    assert wire.worst_price == 1.3
    assert wire.correlation_id == "sig"
    assert back == s
