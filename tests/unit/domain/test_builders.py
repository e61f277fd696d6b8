from __future__ import annotations

import datetime as dt
import math

import pytest
from chain_factory import AS_OF, TODAY, make_chain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.config import BuilderConfig
from shared.domain.builders import BuildRejected, StrategyBuilder, wing_width
from shared.domain.chain import OptionChain
from shared.domain.strategy import Strategy, validate
from shared.enums import Right, StrategyStatus, StrategyType
from shared.events import Leg

P, C = Right.PUT, Right.CALL
NET_LIQ = 100_000.0


@pytest.fixture(scope="module")
def chain() -> OptionChain:
    return make_chain()


def build(
    kind: StrategyType,
    chain: OptionChain,
    config: BuilderConfig | None = None,
    net_liq: float = NET_LIQ,
    legs: tuple[Leg, ...] = (),
) -> Strategy | BuildRejected:
    builder = StrategyBuilder(config or BuilderConfig(), max_position_risk_pct=0.02)
    return builder.build(
        kind,
        chain,
        today=TODAY,
        strategy_id="s1",
        net_liquidation=net_liq,
        now=AS_OF,
        signal_id="sig",
        legs=legs,
    )


def built(kind: StrategyType, chain: OptionChain, **kwargs: object) -> Strategy:
    result = build(kind, chain, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Strategy), result
    return result


def delta_of(chain: OptionChain, leg: Leg) -> float:
    quote = chain.quote(leg.expiry, leg.right, leg.strike)
    assert quote is not None and quote.delta is not None
    return abs(quote.delta)


def test_condor_sells_16_delta_with_5_dollar_wings_at_45_dte(chain: OptionChain) -> None:
    s = built(StrategyType.IRON_CONDOR, chain)
    lp, sp, sc, lc = s.legs
    assert [(leg.right, leg.quantity) for leg in s.legs] == [(P, 1), (P, -1), (C, -1), (C, 1)]
    assert lp.strike < sp.strike < sc.strike < lc.strike
    assert (sp.strike - lp.strike, lc.strike - sc.strike) == (5, 5)
    assert 0.12 <= delta_of(chain, sp) <= 0.20
    assert 0.12 <= delta_of(chain, sc) <= 0.20
    assert {leg.expiry for leg in s.legs} == {dt.date(2026, 4, 17)}
    assert s.status is StrategyStatus.PENDING
    assert (s.signal_id, s.created_at) == ("sig", AS_OF)


def test_condor_limit_is_the_combo_mid_and_worst_is_the_natural(chain: OptionChain) -> None:
    s = built(StrategyType.IRON_CONDOR, chain)
    combo = chain.combo(s.legs)
    assert combo is not None
    assert s.entry_price == pytest.approx(combo.mid, abs=0.005)
    assert s.worst_price == pytest.approx(combo.natural, abs=0.005)
    assert s.worst_price < s.entry_price


def test_condor_take_profit_at_half_the_credit_and_stop_at_twice_the_credit_lost(
    chain: OptionChain,
) -> None:
    s = built(StrategyType.IRON_CONDOR, chain)
    assert s.take_profit is not None and s.stop_loss is not None
    assert s.pnl_per_unit_at_close(s.take_profit) == pytest.approx(
        0.5 * s.max_profit_per_unit, abs=1
    )
    assert s.pnl_per_unit_at_close(s.stop_loss) == pytest.approx(-2 * s.entry_price * 100, abs=1)


def test_quantity_is_the_risk_budget_over_max_loss_per_unit(chain: OptionChain) -> None:
    s = built(StrategyType.IRON_CONDOR, chain, net_liq=NET_LIQ)
    assert s.quantity == math.floor(0.02 * NET_LIQ / s.max_loss_per_unit)
    capped = built(StrategyType.IRON_CONDOR, chain, net_liq=10_000_000.0)
    assert capped.quantity == BuilderConfig().max_quantity


def test_no_trade_when_one_unit_exceeds_the_risk_budget(chain: OptionChain) -> None:
    result = build(StrategyType.IRON_CONDOR, chain, net_liq=5_000.0)
    assert isinstance(result, BuildRejected)
    assert result.reason == "one unit's risk exceeds the position risk budget"
    assert result.figures["budget"] == pytest.approx(100.0)
    assert result.figures["risk_per_unit"] > 100.0


def test_expiry_never_at_or_below_the_roll_threshold() -> None:
    near = make_chain(expiries=[TODAY + dt.timedelta(days=d) for d in (14, 21, 28)])
    config = BuilderConfig(min_dte=7, target_dte=20, max_dte=60)
    s = built(StrategyType.IRON_CONDOR, near, config=config)
    assert s.dte(TODAY) == 28


def test_no_listed_expiry_in_the_window_is_a_rejection_with_a_reason() -> None:
    short_dated = make_chain(max_days=30)
    result = build(StrategyType.PUT_CREDIT_SPREAD, short_dated)
    assert isinstance(result, BuildRejected)
    assert result.reason == "no listed expiry in the DTE window"
    assert result.strategy_type is StrategyType.PUT_CREDIT_SPREAD


def test_wing_width_as_a_share_of_the_underlying_snaps_to_listed_strikes() -> None:
    five_wide = make_chain(step=5.0)
    s = built(StrategyType.IRON_CONDOR, five_wide, config=BuilderConfig(wing_width_pct=0.02))
    assert wing_width(s.legs) == 10  # 2% of 580 = 11.6, nearest listed is 10 away


def test_wide_combo_spread_is_rejected() -> None:
    wide = make_chain(half_spread=0.15)
    result = build(StrategyType.IRON_CONDOR, wide)
    assert isinstance(result, BuildRejected)
    assert result.reason == "combo bid/ask spread too wide"
    assert result.figures["spread"] > result.figures["limit"]


def test_credit_below_the_minimum_share_of_width_is_rejected(chain: OptionChain) -> None:
    result = build(
        StrategyType.IRON_CONDOR, chain, config=BuilderConfig(min_credit_pct_of_width=0.5)
    )
    assert isinstance(result, BuildRejected)
    assert result.reason == "credit below the minimum for the width"
    assert result.figures["min_credit"] == pytest.approx(2.5)


def test_put_credit_spread_sells_30_delta_and_buys_one_width_lower(chain: OptionChain) -> None:
    s = built(StrategyType.PUT_CREDIT_SPREAD, chain)
    long, short = s.legs
    assert (long.quantity, short.quantity) == (1, -1)
    assert short.strike - long.strike == 5
    assert delta_of(chain, short) == pytest.approx(0.30, abs=0.02)
    assert s.entry_price > 0


def test_call_debit_spread_buys_50_delta_and_sells_one_width_higher(chain: OptionChain) -> None:
    s = built(StrategyType.CALL_DEBIT_SPREAD, chain)
    long, short = s.legs
    assert (long.right, long.quantity, short.quantity) == (C, 1, -1)
    assert short.strike - long.strike == 5
    assert delta_of(chain, long) == pytest.approx(0.50, abs=0.02)
    assert s.entry_price < 0
    assert s.max_loss_per_unit == pytest.approx(-s.entry_price * 100)


def test_put_debit_spread_sells_one_width_lower(chain: OptionChain) -> None:
    s = built(StrategyType.PUT_DEBIT_SPREAD, chain)
    short, long = s.legs
    assert (short.quantity, long.quantity) == (-1, 1)
    assert long.strike - short.strike == 5


def test_long_straddle_buys_the_at_the_money_strike(chain: OptionChain) -> None:
    s = built(StrategyType.LONG_STRADDLE, chain, net_liq=1_000_000.0)
    assert {leg.strike for leg in s.legs} == {580.0}
    assert s.max_profit == math.inf
    assert s.take_profit is None
    assert s.stop_loss is not None


def test_short_strangle_is_sized_on_the_loss_at_its_stop(chain: OptionChain) -> None:
    s = built(StrategyType.SHORT_STRANGLE, chain, net_liq=1_000_000.0)
    assert s.max_loss == math.inf
    assert s.quantity == min(10, math.floor(20_000 / (2 * s.entry_price * 100)))


def test_custom_takes_explicit_legs_and_refuses_naked_shorts(chain: OptionChain) -> None:
    exp = dt.date(2026, 4, 17)
    covered = (
        Leg(right=C, strike=600, expiry=exp, quantity=-1),
        Leg(right=C, strike=610, expiry=exp, quantity=1),
    )
    s = built(StrategyType.CUSTOM, chain, legs=covered)
    assert s.strategy_type is StrategyType.CUSTOM
    assert s.entry_price > 0
    naked = build(StrategyType.CUSTOM, chain, legs=covered[:1])
    assert isinstance(naked, BuildRejected)
    assert "naked short CALL" in naked.detail


def test_types_without_a_builder_are_rejected_not_raised(chain: OptionChain) -> None:
    for kind in (StrategyType.LONG_CALL, StrategyType.CUSTOM):
        result = build(kind, chain)
        assert isinstance(result, BuildRejected)
        assert result.reason


# --- properties --------------------------------------------------------------------------------

chains = st.builds(
    lambda spot, iv, skew, step: make_chain(
        spot=spot, base_iv=iv, skew=skew, step=step, max_days=63, span=0.25
    ),
    spot=st.floats(50, 800),
    iv=st.floats(0.10, 0.60),
    skew=st.floats(-0.6, 0.0),
    step=st.sampled_from([0.5, 1.0, 2.5, 5.0]),
)
configs = st.builds(
    lambda width, half_tp: BuilderConfig(wing_width=width, take_profit_pct=half_tp),
    width=st.sampled_from([1.0, 2.5, 5.0, 10.0]),
    half_tp=st.floats(0.3, 0.8),
)
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(chain=chains, config=configs, net_liq=st.floats(1e4, 1e7))
def test_every_built_condor_is_ordered_single_expiry_with_exact_payoff(
    chain: OptionChain, config: BuilderConfig, net_liq: float
) -> None:
    result = build(StrategyType.IRON_CONDOR, chain, config=config, net_liq=net_liq)
    if isinstance(result, BuildRejected):
        assert result.reason
        return
    lp, sp, sc, lc = (leg.strike for leg in result.legs)
    assert lp < sp < sc < lc
    assert len({leg.expiry for leg in result.legs}) == 1
    width = max(sp - lp, lc - sc)
    credit, qty = result.entry_price, result.quantity
    assert result.max_loss == pytest.approx((width - credit) * 100 * qty)
    assert result.max_profit == pytest.approx(credit * 100 * qty)
    assert 1 <= qty <= config.max_quantity
    assert result.max_loss_per_unit <= 0.02 * net_liq


@PROPERTY
@given(
    chain=chains,
    config=configs,
    kind=st.sampled_from(sorted(StrategyType, key=str)),
    net_liq=st.floats(1e4, 1e7),
)
def test_every_built_strategy_validates_and_every_rejection_has_a_reason(
    chain: OptionChain, config: BuilderConfig, kind: StrategyType, net_liq: float
) -> None:
    result = build(kind, chain, config=config, net_liq=net_liq)
    if isinstance(result, BuildRejected):
        assert result.reason
        assert result.strategy_type is kind
    else:
        assert validate(result, TODAY, chain) == []
        assert result.strategy_type is kind


def test_stop_beyond_the_max_loss_is_clamped_to_the_max_loss(chain: OptionChain) -> None:
    s = built(StrategyType.IRON_CONDOR, chain, config=BuilderConfig(stop_loss_multiple=10.0))
    assert s.stop_loss is not None
    assert s.pnl_per_unit_at_close(s.stop_loss) == pytest.approx(-s.max_loss_per_unit)
