"""Every rule at, just below and just above its thresholds, one snapshot at a time.

Each row: (snapshot overrides, state overrides, expected action, rule, urgency). Unless a row
says otherwise the position is the factory's calm one-lot iron condor at 35 DTE.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.rules import DecisionEngine
from shared.enums import Action, StrategyType, Urgency

from .factories import make_snapshot, make_state

IC = StrategyType.IRON_CONDOR
PCS = StrategyType.PUT_CREDIT_SPREAD
CCS = StrategyType.CALL_CREDIT_SPREAD
CDS = StrategyType.CALL_DEBIT_SPREAD
LONG_CALL = StrategyType.LONG_CALL
STRADDLE = StrategyType.LONG_STRADDLE
CLOSE, ROLL, REDUCE, HOLD = Action.CLOSE, Action.ROLL, Action.REDUCE, Action.HOLD
IMM, HIGH, NORM = Urgency.IMMEDIATE, Urgency.HIGH, Urgency.NORMAL
NO_ROLL = {"roll_possible": False}

Row = tuple[dict[str, Any], dict[str, Any], Action, str | None, Urgency | None]

SCENARIOS: dict[str, Row] = {
    "calm_condor_holds": ({}, {}, HOLD, None, None),
    # catastrophe: adverse move against delta, IV spike
    "condor_down_3pct_closes": ({"underlying_change_1h": -0.03}, {}, CLOSE, "catastrophe", IMM),
    "condor_down_2.99pct_holds": ({"underlying_change_1h": -0.0299}, {}, HOLD, None, None),
    "condor_down_3.1pct_closes": ({"underlying_change_1h": -0.031}, {}, CLOSE, "catastrophe", IMM),
    "condor_up_3pct_closes_either_way": (
        {"underlying_change_1h": 0.03},
        {},
        CLOSE,
        "catastrophe",
        IMM,
    ),
    "put_credit_spread_down_3pct_closes": (
        {"strategy_type": PCS, "delta": 20.0, "underlying_change_1h": -0.03},
        {},
        CLOSE,
        "catastrophe",
        IMM,
    ),
    "put_credit_spread_up_5pct_is_favourable": (
        {"strategy_type": PCS, "delta": 20.0, "underlying_change_1h": 0.05},
        {},
        HOLD,
        None,
        None,
    ),
    "call_credit_spread_up_3pct_closes": (
        {"strategy_type": CCS, "delta": -20.0, "underlying_change_1h": 0.03},
        {},
        CLOSE,
        "catastrophe",
        IMM,
    ),
    "call_credit_spread_down_5pct_is_favourable": (
        {"strategy_type": CCS, "delta": -20.0, "underlying_change_1h": -0.05},
        {},
        HOLD,
        None,
        None,
    ),
    "long_call_down_4pct_closes": (
        {"strategy_type": LONG_CALL, "delta": 50.0, "underlying_change_1h": -0.04},
        {},
        CLOSE,
        "catastrophe",
        IMM,
    ),
    "iv_up_50pct_closes": ({"iv_change_pct": 0.50}, {}, CLOSE, "catastrophe", IMM),
    "iv_up_49pct_holds": ({"iv_change_pct": 0.49}, {}, HOLD, None, None),
    "iv_up_51pct_closes": ({"iv_change_pct": 0.51}, {}, CLOSE, "catastrophe", IMM),
    # single-leg exit: only for single-leg kinds
    "long_call_tp_at_80pct": (
        {"strategy_type": LONG_CALL, "upl_pct": 0.80},
        {},
        CLOSE,
        "single_leg",
        NORM,
    ),
    "long_call_79pct_holds": ({"strategy_type": LONG_CALL, "upl_pct": 0.79}, {}, HOLD, None, None),
    "long_call_sl_at_minus_50pct_is_high": (
        {"strategy_type": LONG_CALL, "upl_pct": -0.50},
        {},
        CLOSE,
        "single_leg",
        HIGH,
    ),
    "long_call_minus_49pct_holds": (
        {"strategy_type": LONG_CALL, "upl_pct": -0.49},
        {},
        HOLD,
        None,
        None,
    ),
    "long_put_minus_51pct_closes": (
        {"strategy_type": StrategyType.LONG_PUT, "delta": -50.0, "upl_pct": -0.51},
        {},
        CLOSE,
        "single_leg",
        HIGH,
    ),
    "long_call_at_21_dte_closes": (
        {"strategy_type": LONG_CALL, "dte": 21},
        {},
        CLOSE,
        "single_leg",
        NORM,
    ),
    "long_call_at_26_dte_holds": ({"strategy_type": LONG_CALL, "dte": 26}, {}, HOLD, None, None),
    "condor_at_80pct_is_take_profit_not_single_leg": (
        {"upl_pct": 0.80},
        {},
        CLOSE,
        "take_profit",
        NORM,
    ),
    "condor_at_minus_50pct_is_no_single_leg_stop": ({"upl_pct": -0.50}, {}, HOLD, None, None),
    # trailing stop: armed at a 40% peak, fires at 40% of the peak
    "trailing_fires_at_40pct_of_peak": (
        {"upl_pct": 0.18},
        {"peak_upl_pct": 0.45},
        CLOSE,
        "trailing_stop",
        NORM,
    ),
    "trailing_fires_below_40pct_of_peak": (
        {"upl_pct": 0.17},
        {"peak_upl_pct": 0.45},
        CLOSE,
        "trailing_stop",
        NORM,
    ),
    "trailing_holds_above_40pct_of_peak": (
        {"upl_pct": 0.19},
        {"peak_upl_pct": 0.45},
        HOLD,
        None,
        None,
    ),
    "trailing_armed_at_exactly_40pct_peak": (
        {"upl_pct": 0.16},
        {"peak_upl_pct": 0.40},
        CLOSE,
        "trailing_stop",
        NORM,
    ),
    "trailing_not_armed_below_40pct_peak": (
        {"upl_pct": 0.0},
        {"peak_upl_pct": 0.39},
        HOLD,
        None,
        None,
    ),
    # VIX exit: short vega only
    "vix_35_holds": ({"vix": 35.0, "vix_at_entry": 34.0}, {}, HOLD, None, None),
    "vix_above_35_closes": ({"vix": 35.01, "vix_at_entry": 34.0}, {}, CLOSE, "vix_exit", HIGH),
    "vix_up_5_points_holds": ({"vix": 23.0, "vix_at_entry": 18.0}, {}, HOLD, None, None),
    "vix_up_over_5_points_closes": (
        {"vix": 23.01, "vix_at_entry": 18.0},
        {},
        CLOSE,
        "vix_exit",
        HIGH,
    ),
    "long_straddle_exempt_from_vix_exit": (
        {"strategy_type": STRADDLE, "vix": 40.0, "vix_at_entry": 18.0},
        {},
        HOLD,
        None,
        None,
    ),
    # take profit and the once-only reduce
    "tp_at_80pct_closes": ({"upl_pct": 0.80}, {}, CLOSE, "take_profit", NORM),
    "tp_at_81pct_closes": ({"upl_pct": 0.81}, {}, CLOSE, "take_profit", NORM),
    "two_lots_reduce_at_50pct": ({"quantity": 2, "upl_pct": 0.50}, {}, REDUCE, "take_profit", NORM),
    "two_lots_49pct_holds": ({"quantity": 2, "upl_pct": 0.49}, {}, HOLD, None, None),
    "reduce_not_repeated_when_done": (
        {"quantity": 2, "upl_pct": 0.60},
        {"reduce_done": True},
        HOLD,
        None,
        None,
    ),
    "one_lot_cannot_be_halved": ({"upl_pct": 0.60}, {}, HOLD, None, None),
    "losing_condor_is_never_take_profit": ({"upl_pct": -0.90}, {}, HOLD, None, None),
    "debit_spread_winning_80pct_takes_profit": (
        {"strategy_type": CDS, "upl_pct": 0.80},
        {},
        CLOSE,
        "take_profit",
        NORM,
    ),
    "debit_spread_losing_40pct_holds": (
        {"strategy_type": CDS, "upl_pct": -0.40},
        {},
        HOLD,
        None,
        None,
    ),
    # stop loss by kind
    "credit_stop_at_minus_200pct": ({"upl_pct": -2.00}, {}, CLOSE, "stop_loss", IMM),
    "credit_minus_199pct_holds": ({"upl_pct": -1.99}, {}, HOLD, None, None),
    "credit_minus_201pct_closes": ({"upl_pct": -2.01}, {}, CLOSE, "stop_loss", IMM),
    "debit_stop_at_minus_50pct": (
        {"strategy_type": CDS, "upl_pct": -0.50},
        {},
        CLOSE,
        "stop_loss",
        IMM,
    ),
    "debit_minus_49pct_holds": ({"strategy_type": CDS, "upl_pct": -0.49}, {}, HOLD, None, None),
    "long_straddle_is_debit": (
        {"strategy_type": STRADDLE, "upl_pct": -0.50},
        {},
        CLOSE,
        "stop_loss",
        IMM,
    ),
    "credit_near_expiry_stop_below_7_dte": (
        {"dte": 6, "upl_pct": -0.50},
        {},
        CLOSE,
        "stop_loss",
        IMM,
    ),
    "credit_at_7_dte_has_no_near_expiry_stop": (
        {"dte": 7, "upl_pct": -0.50},
        {},
        ROLL,
        "dte_roll",
        HIGH,
    ),
    "near_expiry_minus_49pct_holds_stop": (
        {"dte": 6, "upl_pct": -0.49},
        {},
        ROLL,
        "dte_roll",
        HIGH,
    ),
    "custom_credit_position_uses_credit_stop": (
        {"strategy_type": StrategyType.CUSTOM, "entry_price": 1.5, "upl_pct": -0.60},
        {},
        HOLD,
        None,
        None,
    ),
    "custom_debit_position_uses_debit_stop": (
        {"strategy_type": StrategyType.CUSTOM, "entry_price": -1.5, "upl_pct": -0.60},
        {},
        CLOSE,
        "stop_loss",
        IMM,
    ),
    # delta risk on the position's own per-unit delta
    "condor_delta_030_per_unit_holds": ({"delta": 30.0}, {}, HOLD, None, None),
    "condor_delta_above_030_closes": ({"delta": 30.5}, {}, CLOSE, "delta_risk", HIGH),
    "condor_negative_delta_closes": ({"delta": -31.0}, {}, CLOSE, "delta_risk", HIGH),
    "condor_delta_normalised_by_quantity": ({"delta": 50.0, "quantity": 2}, {}, HOLD, None, None),
    "vertical_delta_040_per_unit_holds": (
        {"strategy_type": PCS, "delta": 40.0},
        {},
        HOLD,
        None,
        None,
    ),
    "vertical_delta_above_040_closes": (
        {"strategy_type": PCS, "delta": 40.5},
        {},
        CLOSE,
        "delta_risk",
        HIGH,
    ),
    # IV crush
    "iv_down_30pct_with_20pct_profit_closes": (
        {"iv_change_pct": -0.30, "upl_pct": 0.20},
        {},
        CLOSE,
        "iv_crush",
        NORM,
    ),
    "iv_down_29pct_holds": ({"iv_change_pct": -0.29, "upl_pct": 0.20}, {}, HOLD, None, None),
    "iv_crush_19pct_profit_holds": (
        {"iv_change_pct": -0.40, "upl_pct": 0.19},
        {},
        HOLD,
        None,
        None,
    ),
    # IV percentile
    "iv_percentile_29_with_profit_closes": (
        {"iv_percentile": 0.29, "upl_pct": 0.20},
        {},
        CLOSE,
        "iv_percentile",
        NORM,
    ),
    "iv_percentile_30_holds": ({"iv_percentile": 0.30, "upl_pct": 0.20}, {}, HOLD, None, None),
    "iv_percentile_19pct_profit_holds": (
        {"iv_percentile": 0.10, "upl_pct": 0.19},
        {},
        HOLD,
        None,
        None,
    ),
    # DTE roll
    "roll_at_25_dte_normal": ({"dte": 25}, {}, ROLL, "dte_roll", NORM),
    "no_roll_at_26_dte": ({"dte": 26}, {}, HOLD, None, None),
    "roll_at_22_dte_normal": ({"dte": 22}, {}, ROLL, "dte_roll", NORM),
    "forced_roll_at_21_dte_high": ({"dte": 21}, {}, ROLL, "dte_roll", HIGH),
    "forced_roll_at_2_dte_high": ({"dte": 2}, {}, ROLL, "dte_roll", HIGH),
    "roll_not_possible_holds": ({"dte": 20, **NO_ROLL}, {}, HOLD, None, None),
    # a roll that cannot be made leaves gamma risk and time exit reachable
    "roll_impossible_falls_to_gamma": (
        {"dte": 10, "gamma": 20.0, **NO_ROLL},
        {},
        CLOSE,
        "gamma_risk",
        HIGH,
    ),
    "roll_failed_falls_to_gamma": (
        {"dte": 10, "gamma": 20.0},
        {"roll_blocked_reason": "no credit"},
        CLOSE,
        "gamma_risk",
        HIGH,
    ),
    "roll_working_is_not_repeated": ({"dte": 20}, {"roll_working": True}, HOLD, None, None),
    "roll_blocked_falls_to_time_exit": (
        {"dte": 1},
        {"roll_blocked_reason": "no credit"},
        CLOSE,
        "time_exit",
        IMM,
    ),
    # gamma risk (roll made impossible to reach it)
    "gamma_010_per_unit_holds": ({"dte": 13, "gamma": 10.0, **NO_ROLL}, {}, HOLD, None, None),
    "gamma_above_010_closes": (
        {"dte": 13, "gamma": 10.5, **NO_ROLL},
        {},
        CLOSE,
        "gamma_risk",
        HIGH,
    ),
    "gamma_at_14_dte_holds": ({"dte": 14, "gamma": 20.0, **NO_ROLL}, {}, HOLD, None, None),
    "gamma_normalised_by_quantity": (
        {"dte": 10, "gamma": 15.0, "quantity": 2, **NO_ROLL},
        {},
        HOLD,
        None,
        None,
    ),
    # time exit: expiry wins over roll
    "expiry_at_1_dte_closes_never_rolls": ({"dte": 1}, {}, CLOSE, "time_exit", IMM),
    "expiry_at_0_dte_closes": ({"dte": 0}, {}, CLOSE, "time_exit", IMM),
    "no_time_exit_at_2_dte": ({"dte": 2, **NO_ROLL}, {}, HOLD, None, None),
}


@pytest.mark.parametrize(
    ("snap", "state", "action", "rule", "urgency"), SCENARIOS.values(), ids=SCENARIOS.keys()
)
def test_rule_scenario(
    snap: dict[str, Any],
    state: dict[str, Any],
    action: Action,
    rule: str | None,
    urgency: Urgency | None,
) -> None:
    decision, _ = DecisionEngine().evaluate(make_snapshot(**snap), make_state(**state))

    assert decision.action is action, decision.reason
    if rule is not None:
        assert decision.rule == rule
        assert decision.urgency is urgency


def test_roll_targets_45_dte() -> None:
    decision, _ = DecisionEngine().evaluate(make_snapshot(dte=24))

    assert decision.roll_to_dte == 45


def test_reduce_closes_half() -> None:
    decision, _ = DecisionEngine().evaluate(make_snapshot(quantity=4, upl_pct=0.55))

    assert decision.close_ratio == 0.5
    assert decision.metadata["close_quantity"] == 2
