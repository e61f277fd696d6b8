"""One id rule each for decisions and alerts: pure functions of their inputs, so a replay
repeats an id and JetStream drops the copy."""

from __future__ import annotations

import datetime as dt

from shared.domain.alerts import alert_for, alert_for_rule_error, alert_id
from shared.domain.rules import HOLD, Decision, RuleError, decision_id, to_event
from shared.enums import Action, Urgency

from .factories import NOW, make_snapshot

CLOSE = Decision(action=Action.CLOSE, rule="stop_loss", reason="loss", urgency=Urgency.IMMEDIATE)
LATER = NOW + dt.timedelta(seconds=30)


def test_a_decision_is_sent_under_its_one_id_and_its_alert_under_the_derived_one() -> None:
    snapshot = make_snapshot()
    event = to_event(CLOSE, snapshot, NOW, 3)
    alert = alert_for(CLOSE, snapshot, LATER, 3)
    assert event.decision_id == event.event_id == decision_id(snapshot, CLOSE, 3)
    assert alert.alert_id == alert.event_id == alert_id(event.decision_id)


def test_the_next_decision_on_the_same_market_data_gets_a_new_id() -> None:
    snapshot = make_snapshot()
    assert decision_id(snapshot, CLOSE, 1) != decision_id(snapshot, CLOSE, 2)
    first, second = alert_for(CLOSE, snapshot, NOW, 1), alert_for(CLOSE, snapshot, NOW, 2)
    assert first.alert_id != second.alert_id


def test_an_acting_decision_keeps_its_id_when_the_snapshot_is_revalued() -> None:
    # the sequence, stored with the rule state, is what makes it: a republish after a restart
    # repeats the id whatever the market data
    assert decision_id(make_snapshot(as_of=NOW), CLOSE, 1) == decision_id(
        make_snapshot(as_of=LATER), CLOSE, 1
    )


def test_each_published_hold_has_its_own_id_and_a_replayed_one_the_same() -> None:
    at_now, at_later = make_snapshot(as_of=NOW), make_snapshot(as_of=LATER)
    assert decision_id(at_now, HOLD, 0) != decision_id(at_later, HOLD, 0)
    assert decision_id(at_now, HOLD, 0) == decision_id(make_snapshot(as_of=NOW), HOLD, 0)


def test_a_rule_error_alert_is_raised_once_per_rule_and_snapshot() -> None:
    error = RuleError(
        rule="stop_loss",
        strategy_id="s-1",
        error_type="ZeroDivisionError",
        error="boom",
        snapshot_as_of=NOW.isoformat(),
    )
    first, replayed = alert_for_rule_error(error, NOW), alert_for_rule_error(error, LATER)
    assert first.alert_id == first.event_id == replayed.event_id
    assert first.alert_id == alert_id(f"rule-error-s-1-stop_loss-{NOW.isoformat()}")
