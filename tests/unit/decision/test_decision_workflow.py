import datetime as dt

from fixtures.events import NOW, snapshot, take_profit_snapshot

from services.decision.workflow import DecisionWorkflow
from shared.clock import FixedClock
from shared.config import load_config
from shared.enums import Action, AlertStatus, ExitResult, Severity
from shared.events import AcknowledgeAlert, ExitExecuted, ResolveAlert


def _workflow(**overrides) -> DecisionWorkflow:
    config = load_config(env={}, overrides=overrides or None)
    return DecisionWorkflow(config, FixedClock(NOW))


def test_take_profit_closes_the_condor_with_an_alert() -> None:
    wf = _workflow()
    out = wf.on_snapshot(take_profit_snapshot())
    assert out.decision is not None
    assert (out.decision.action, out.decision.rule) == (Action.CLOSE, "take_profit")
    assert out.decision.event_id == out.decision.decision_id
    (alert,) = out.alerts
    assert alert.severity == Severity.INFO and alert.strategy_id == "s-1"
    assert out.stored is not None and out.stored.state.exit_working


def test_same_condition_decides_once_while_the_exit_works() -> None:
    wf = _workflow()
    first = wf.on_snapshot(take_profit_snapshot(0))
    again = [wf.on_snapshot(take_profit_snapshot(s)) for s in (30, 60, 90)]
    assert first.decision is not None
    assert all(o.decision is None and not o.alerts for o in again)


def test_after_a_failed_exit_it_decides_again() -> None:
    wf = _workflow()
    first = wf.on_snapshot(take_profit_snapshot(0))
    wf.on_exit_executed(
        ExitExecuted(
            strategy_id="s-1", action=Action.CLOSE, result=ExitResult.FAILED, reason="no fill"
        )
    )
    # the same market data (same snapshot time) still makes a new decision with a new id,
    # which JetStream's de-duplication would otherwise drop
    second = wf.on_snapshot(take_profit_snapshot(0))
    assert second.decision is not None
    assert second.decision.decision_id != first.decision.decision_id
    assert second.alerts[0].alert_id != first.alerts[0].alert_id


def test_replayed_snapshot_gives_the_same_decision_id() -> None:
    a = _workflow().on_snapshot(take_profit_snapshot(0)).decision
    b = _workflow().on_snapshot(take_profit_snapshot(0)).decision
    assert a.decision_id == b.decision_id


def test_unreported_exit_stops_blocking_after_the_repeat_window() -> None:
    wf = _workflow(decision={"repeat_after_s": 300.0})
    wf.on_snapshot(take_profit_snapshot(0))
    assert wf.on_snapshot(take_profit_snapshot(299)).decision is None
    assert wf.on_snapshot(take_profit_snapshot(301)).decision is not None


def test_holds_are_published_only_when_configured() -> None:
    assert _workflow().on_snapshot(snapshot()).decision is None
    hold = _workflow(decision={"publish_holds": True}).on_snapshot(snapshot()).decision
    assert hold is not None and hold.action == Action.HOLD


def test_trailing_peak_and_reduce_done_survive_a_restart_of_the_workflow() -> None:
    wf = _workflow()
    wf.on_snapshot(snapshot(0, quantity=2, upl_pct=0.45))
    reduce = wf.on_snapshot(snapshot(30, quantity=2, upl_pct=0.55))
    assert reduce.decision is not None and reduce.decision.action == Action.REDUCE
    done = wf.on_exit_executed(
        ExitExecuted(strategy_id="s-1", action=Action.REDUCE, result=ExitResult.REDUCED)
    )
    restarted = DecisionWorkflow(wf.config, wf.clock, states=[done])
    assert restarted.state_of("s-1").reduce_done
    assert restarted.state_of("s-1").peak_upl_pct == 0.55
    # at 55% again: no second REDUCE
    assert restarted.on_snapshot(snapshot(60, quantity=1, upl_pct=0.55)).decision is None


def test_close_clears_the_state() -> None:
    wf = _workflow()
    wf.on_snapshot(take_profit_snapshot(0))
    stored = wf.on_exit_executed(
        ExitExecuted(strategy_id="s-1", action=Action.CLOSE, result=ExitResult.CLOSED)
    )
    assert stored.state.closed and stored.state.peak_upl_pct is None


def test_alert_ack_then_resolve_changes_its_status() -> None:
    wf = _workflow()
    (alert,) = wf.on_snapshot(take_profit_snapshot()).alerts
    row, changed = wf.on_alert_command(AcknowledgeAlert(alert_id=alert.alert_id))
    assert row.status == changed.status == AlertStatus.ACKNOWLEDGED
    assert wf.on_alert_command(AcknowledgeAlert(alert_id=alert.alert_id)) is None
    row, _ = wf.on_alert_command(ResolveAlert(alert_id=alert.alert_id, note="done"))
    assert row.status == AlertStatus.RESOLVED and row.note == "done"


def test_failed_roll_falls_through_to_later_rules() -> None:
    wf = _workflow()
    roll = wf.on_snapshot(snapshot(0, dte=23, expiry=NOW.date() + dt.timedelta(days=23)))
    assert roll.decision is not None and roll.decision.action == Action.ROLL
    wf.on_exit_executed(
        ExitExecuted(
            strategy_id="s-1", action=Action.ROLL, result=ExitResult.FAILED, reason="no credit"
        )
    )
    gamma = snapshot(30, dte=12, gamma=-20.0, expiry=NOW.date() + dt.timedelta(days=12))
    after = wf.on_snapshot(gamma)
    assert after.decision is not None
    assert after.decision.action == Action.CLOSE and after.decision.rule == "gamma_risk"


def test_a_working_decision_is_handed_back_after_a_restart() -> None:
    wf = _workflow()
    out = wf.on_snapshot(take_profit_snapshot())
    restarted = DecisionWorkflow(wf.config, wf.clock, states=[out.stored])
    assert restarted.working_decisions() == [out.decision]
    assert restarted.on_snapshot(take_profit_snapshot(30)).decision is None
