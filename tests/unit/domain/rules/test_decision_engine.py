"""The engine: priority between rules, stale data, working exits, state across restarts,
rule errors, the delta-breach owner and the conversion to the wire event."""

from __future__ import annotations

import math
from typing import ClassVar

import msgspec
import pytest

from shared.config import RulesConfig, TimeExitRule
from shared.domain.rules import (
    Decision,
    DecisionEngine,
    DeltaLimits,
    PortfolioView,
    Rule,
    StrategyState,
    apply_exit,
    to_event,
)
from shared.domain.rules.time_exit import TimeExit
from shared.enums import Action, ExitResult, StrategyType, Urgency
from shared.events import Codec, DecisionMade, ExitExecuted, PositionSnapshot, decode, encode

from .factories import NOW, make_snapshot, make_state


def _exit(action: Action, result: ExitResult, reason: str = "") -> ExitExecuted:
    return ExitExecuted(strategy_id="s-1", action=action, result=result, reason=reason)


def _restart(state: StrategyState) -> StrategyState:
    """What the decision service stores and reads back."""
    return msgspec.json.decode(msgspec.json.encode(state), type=StrategyState)


# --- priority and shadowing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "winner"),
    [
        ({"underlying_change_1h": -0.05, "upl_pct": -2.5}, "catastrophe"),
        ({"vix": 40.0, "upl_pct": 0.85}, "vix_exit"),
        ({"upl_pct": 0.85, "iv_change_pct": -0.40}, "take_profit"),
        ({"upl_pct": -2.5, "delta": 40.0}, "stop_loss"),
        ({"delta": 40.0, "dte": 20}, "delta_risk"),
        ({"upl_pct": 0.3, "iv_change_pct": -0.4, "iv_percentile": 0.1}, "iv_crush"),
        ({"dte": 10, "gamma": 20.0}, "dte_roll"),
        ({"dte": 1, "gamma": 20.0, "roll_possible": False}, "gamma_risk"),
    ],
)
def test_higher_priority_rule_shadows_lower(overrides: dict, winner: str) -> None:
    decision, _ = DecisionEngine().evaluate(make_snapshot(**overrides))

    assert decision.rule == winner


def test_disabled_rule_lets_the_next_one_decide() -> None:
    config = msgspec.convert({"take_profit": {"enabled": False}}, RulesConfig)
    snapshot = make_snapshot(upl_pct=0.85, iv_change_pct=-0.40)

    decision, _ = DecisionEngine(config).evaluate(snapshot)

    assert decision.rule == "iv_crush"


def test_priorities_come_from_config() -> None:
    config = msgspec.convert({"time_exit": {"priority": 0.5}}, RulesConfig)

    decision, _ = DecisionEngine(config).evaluate(make_snapshot(dte=1, upl_pct=-3.0))

    assert decision.rule == "time_exit"


# --- stale snapshots -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"upl_pct": -3.0},
        {"underlying_change_1h": -0.10},
        {"upl_pct": 0.95},
        {"delta": 80.0},
        {"strategy_type": StrategyType.LONG_CALL, "upl_pct": 0.95},
    ],
)
def test_stale_snapshot_does_not_trigger_price_rules(overrides: dict) -> None:
    decision, _ = DecisionEngine().evaluate(make_snapshot(stale=True, **overrides))

    assert decision.action is Action.HOLD


@pytest.mark.parametrize(
    ("overrides", "rule", "action"),
    [
        ({"dte": 1}, "time_exit", Action.CLOSE),
        ({"dte": 24}, "dte_roll", Action.ROLL),
        ({"strategy_type": StrategyType.LONG_CALL, "dte": 20}, "single_leg", Action.CLOSE),
    ],
)
def test_stale_snapshot_still_triggers_time_rules(
    overrides: dict, rule: str, action: Action
) -> None:
    decision, _ = DecisionEngine().evaluate(make_snapshot(stale=True, **overrides))

    assert (decision.rule, decision.action) == (rule, action)


def test_stale_snapshot_does_not_move_the_trailing_peak() -> None:
    _, state = DecisionEngine().evaluate(make_snapshot(stale=True, upl_pct=0.7), make_state())

    assert state.peak_upl_pct is None


# --- rolls, exits working --------------------------------------------------------------------


def test_roll_is_decided_once_then_expiry_still_closes() -> None:
    engine = DecisionEngine()
    first, state = engine.evaluate(make_snapshot(dte=24))
    again, state = engine.evaluate(make_snapshot(dte=23), state)
    expiry, state = engine.evaluate(make_snapshot(dte=1), state)

    assert first.action is Action.ROLL
    assert again.action is Action.HOLD
    assert (expiry.action, expiry.rule) == (Action.CLOSE, "time_exit")


def test_failed_roll_is_not_retried_and_gamma_risk_applies() -> None:
    engine = DecisionEngine()
    _, state = engine.evaluate(make_snapshot(dte=24))
    state = apply_exit(state, _exit(Action.ROLL, ExitResult.FAILED, "no credit available"))

    decision, state = engine.evaluate(make_snapshot(dte=10, gamma=20.0), state)

    assert state.roll_blocked_reason == "no credit available"
    assert (decision.action, decision.rule) == (Action.CLOSE, "gamma_risk")


def test_working_exit_holds_back_a_decision_no_more_urgent() -> None:
    state = make_state(exit_working=True, last_action=Action.REDUCE, last_urgency=Urgency.NORMAL)

    decision, _ = DecisionEngine().evaluate(make_snapshot(upl_pct=0.85), state)

    assert (decision.action, decision.rule) == (Action.HOLD, "exit_working")
    assert decision.metadata["held_rule"] == "take_profit"


def test_working_exit_is_superseded_by_a_more_urgent_close() -> None:
    state = make_state(exit_working=True, last_action=Action.CLOSE, last_urgency=Urgency.NORMAL)

    decision, _ = DecisionEngine().evaluate(make_snapshot(upl_pct=-2.5), state)

    assert (decision.action, decision.rule) == (Action.CLOSE, "stop_loss")


def test_exit_working_reported_by_monitor_holds_a_normal_close() -> None:
    decision, _ = DecisionEngine().evaluate(make_snapshot(upl_pct=0.85, exit_working=True))

    assert decision.rule == "exit_working"


# --- state: reduce once, trailing peak -------------------------------------------------------


def test_reduce_happens_once_across_a_restart() -> None:
    engine = DecisionEngine()
    first, state = engine.evaluate(make_snapshot(quantity=4, upl_pct=0.55))
    state = _restart(apply_exit(state, _exit(Action.REDUCE, ExitResult.REDUCED)))
    second, state = DecisionEngine().evaluate(make_snapshot(quantity=2, upl_pct=0.60), state)
    final, _ = DecisionEngine().evaluate(make_snapshot(quantity=2, upl_pct=0.80), state)

    assert first.action is Action.REDUCE
    assert second.action is Action.HOLD
    assert (final.action, final.rule) == (Action.CLOSE, "take_profit")


def test_failed_reduce_may_be_decided_again() -> None:
    engine = DecisionEngine()
    _, state = engine.evaluate(make_snapshot(quantity=4, upl_pct=0.55))
    state = apply_exit(state, _exit(Action.REDUCE, ExitResult.FAILED))

    decision, _ = engine.evaluate(make_snapshot(quantity=4, upl_pct=0.55), state)

    assert decision.action is Action.REDUCE


def test_trailing_peak_follows_snapshots_even_when_another_rule_fires() -> None:
    decision, state = DecisionEngine().evaluate(make_snapshot(upl_pct=0.85), make_state())

    assert decision.rule == "take_profit"
    assert state.peak_upl_pct == 0.85


def test_trailing_peak_is_kept_when_upl_falls() -> None:
    engine = DecisionEngine()
    _, state = engine.evaluate(make_snapshot(upl_pct=0.45))
    _, state = engine.evaluate(make_snapshot(upl_pct=0.30), state)

    assert state.peak_upl_pct == 0.45


def test_trailing_peak_survives_a_restart_and_fires() -> None:
    _, state = DecisionEngine().evaluate(make_snapshot(upl_pct=0.60))

    decision, _ = DecisionEngine().evaluate(make_snapshot(upl_pct=0.20), _restart(state))

    assert (decision.action, decision.rule) == (Action.CLOSE, "trailing_stop")


def test_close_clears_the_trailing_peak_and_later_snapshots_hold() -> None:
    engine = DecisionEngine()
    _, state = engine.evaluate(make_snapshot(upl_pct=0.85))
    state = apply_exit(state, _exit(Action.CLOSE, ExitResult.CLOSED))

    decision, after = engine.evaluate(make_snapshot(upl_pct=0.9), state)

    assert state.peak_upl_pct is None
    assert state.closed
    assert (decision.action, decision.rule) == (Action.HOLD, "closed")
    assert after is state


# --- errors and counts -----------------------------------------------------------------------


class _Broken(Rule):
    name = "broken"
    acts_on_stale: ClassVar[bool] = True

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState, portfolio: PortfolioView
    ) -> Decision | None:
        raise ZeroDivisionError("boom")


def _engine_with_broken_rule() -> DecisionEngine:
    return DecisionEngine(rules=[TimeExit(TimeExitRule()), _Broken(priority=0.5)])


def test_raising_rule_is_reported_and_the_next_rule_still_decides() -> None:
    engine = _engine_with_broken_rule()

    decision, _ = engine.evaluate(make_snapshot(dte=1))
    errors = engine.drain_errors()

    assert (decision.action, decision.rule) == (Action.CLOSE, "time_exit")
    assert [(e.rule, e.error_type, e.error) for e in errors] == [
        ("broken", "ZeroDivisionError", "boom")
    ]
    assert engine.drain_errors() == []


def test_hold_after_a_rule_error_says_which_rule_failed() -> None:
    decision, _ = _engine_with_broken_rule().evaluate(make_snapshot())

    assert decision.action is Action.HOLD
    assert "broken" in decision.reason
    assert decision.metadata["rule_errors"][0]["error"] == "boom"


def test_fire_counts_per_rule() -> None:
    engine = DecisionEngine()
    for overrides in ({"dte": 1}, {"dte": 0}, {"upl_pct": 0.9}, {}):
        engine.evaluate(make_snapshot(**overrides))

    counts = engine.fire_counts

    assert counts["time_exit"] == 2
    assert counts["take_profit"] == 1
    assert counts["stop_loss"] == 0
    assert sum(counts.values()) == 3


# --- portfolio and symbol delta: the largest contributor only --------------------------------


def _book(
    deltas: dict[str, tuple[str, float]], total: float, symbol_totals: dict[str, float]
) -> list[PositionSnapshot]:
    return [
        make_snapshot(
            strategy_id=sid,
            symbol=symbol,
            delta=delta,
            quantity=10,  # keeps every position's own per-unit delta far below its limit
            portfolio_delta=total,
            symbol_delta=symbol_totals[symbol],
        )
        for sid, (symbol, delta) in deltas.items()
    ]


def _closed_by_delta(results: list[tuple[Decision, StrategyState]]) -> list[str]:
    return [d.metadata["scope"] for d, _ in results if d.rule == "delta_risk"]


def test_portfolio_delta_breach_goes_to_the_largest_contributor_only() -> None:
    snaps = _book(
        {"a": ("SPY", 150.0), "b": ("QQQ", 250.0), "c": ("IWM", 200.0), "d": ("IWM", -20.0)},
        total=580.0,
        symbol_totals={"SPY": 150.0, "QQQ": 250.0, "IWM": 180.0},
    )

    results = DecisionEngine().evaluate_book(snaps, {})

    decided = {s.strategy_id: d.rule for s, (d, _) in zip(snaps, results, strict=True)}
    assert decided == {"a": "none", "b": "delta_risk", "c": "none", "d": "none"}


def test_negative_portfolio_breach_goes_to_the_most_negative_position() -> None:
    snaps = _book(
        {"a": ("SPY", -300.0), "b": ("QQQ", -250.0), "c": ("IWM", 40.0)},
        total=-510.0,
        symbol_totals={"SPY": -300.0, "QQQ": -250.0, "IWM": 40.0},
    )
    limits = DeltaLimits(portfolio=500.0, symbol=1000.0)

    results = DecisionEngine(limits=limits).evaluate_book(snaps, {})

    assert [d.rule for d, _ in results] == ["delta_risk", "none", "none"]


def test_symbol_delta_breach_goes_to_the_largest_contributor_in_that_symbol() -> None:
    snaps = _book(
        {"a": ("SPY", 200.0), "b": ("SPY", 120.0), "c": ("QQQ", 250.0)},
        total=470.0,
        symbol_totals={"SPY": 320.0, "QQQ": 250.0},
    )

    results = DecisionEngine().evaluate_book(snaps, {})

    assert [d.rule for d, _ in results] == ["delta_risk", "none", "none"]
    assert _closed_by_delta(results) == ["SPY"]


def test_forgotten_strategy_no_longer_owns_the_breach() -> None:
    engine = DecisionEngine()
    snaps = _book(
        {"a": ("SPY", 200.0), "b": ("SPY", 120.0)},
        total=320.0,
        symbol_totals={"SPY": 320.0},
    )
    engine.evaluate_book(snaps, {})
    engine.forget("a")

    decision, _ = engine.evaluate(snaps[1])

    assert decision.rule == "delta_risk"


# --- the wire ---------------------------------------------------------------------------------


def test_decision_converts_to_a_decodable_event_with_a_replay_stable_id() -> None:
    snapshot = make_snapshot(dte=20)
    decision, _ = DecisionEngine().evaluate(snapshot)

    event = to_event(decision, snapshot, NOW, 1)
    again = to_event(decision, snapshot, NOW, 1)
    decoded = decode(encode(event))

    assert isinstance(decoded, DecisionMade)
    assert (decoded.action, decoded.rule, decoded.urgency) == (
        Action.ROLL,
        "dte_roll",
        Urgency.HIGH,
    )
    assert decoded.roll_to_dte == 45
    assert decoded.strategy_id == "s-1"
    assert decoded.snapshot_as_of == snapshot.as_of
    assert event.decision_id == again.decision_id


@pytest.mark.parametrize("spelling", ["LONG_CALL", "long_call", "Long_Call"])
def test_strategy_kind_is_case_insensitive_on_the_wire(spelling: str) -> None:
    raw = msgspec.to_builtins(make_snapshot(strategy_type=StrategyType.LONG_CALL, upl_pct=0.85))
    raw["strategy_type"] = spelling
    snapshot = Codec(PositionSnapshot).decode(msgspec.msgpack.encode(raw))

    decision, _ = DecisionEngine().evaluate(snapshot)

    assert decision.rule == "single_leg"


def test_snapshot_missing_a_rule_field_is_rejected_at_decode() -> None:
    raw = msgspec.to_builtins(make_snapshot())
    del raw["upl_pct"]

    with pytest.raises(msgspec.ValidationError) as info:
        Codec(PositionSnapshot).decode(msgspec.msgpack.encode(raw))

    assert "upl_pct" in str(info.value)


@pytest.mark.parametrize(
    "unknown",
    [{"iv_percentile": math.nan}, {"iv_change_pct": math.nan}, {"iv_rank": math.nan}],
)
def test_unknown_iv_statistics_never_fire_an_iv_rule(unknown):
    # before the IV history has loaded the monitor cannot know them; that is no reason to close
    engine = DecisionEngine()
    decision, _ = engine.evaluate(make_snapshot(upl_pct=0.30, **unknown))
    assert decision.rule not in {"iv_crush", "iv_percentile", "catastrophe"}
