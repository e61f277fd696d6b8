"""Alerts from decisions (severity by action and urgency) and the alert lifecycle."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.domain.alerts import (
    AlertBook,
    InvalidAlertTransition,
    UnknownAlert,
    alert_for,
    alert_for_rule_error,
)
from shared.domain.rules import Decision, DecisionEngine, RuleError
from shared.enums import Action, AlertStatus, Severity, Urgency
from shared.events import AlertRaised, decode, encode

from .factories import NOW, make_snapshot

LATER = NOW + dt.timedelta(minutes=5)
ACTIVE, ACK = AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED
RESOLVED, DISMISSED = AlertStatus.RESOLVED, AlertStatus.DISMISSED


@pytest.mark.parametrize(
    ("action", "urgency", "severity"),
    [
        (Action.CLOSE, Urgency.IMMEDIATE, Severity.CRITICAL),
        (Action.CLOSE, Urgency.HIGH, Severity.WARNING),
        (Action.CLOSE, Urgency.NORMAL, Severity.INFO),
        (Action.ROLL, Urgency.HIGH, Severity.INFO),
        (Action.ROLL, Urgency.NORMAL, Severity.INFO),
        (Action.REDUCE, Urgency.NORMAL, Severity.INFO),
    ],
)
def test_alert_severity_follows_action_and_urgency(
    action: Action, urgency: Urgency, severity: Severity
) -> None:
    decision = Decision(action=action, rule="r", reason="why", urgency=urgency)

    assert alert_for(decision, make_snapshot(), NOW, 1).severity is severity


def test_stop_loss_alert_names_rule_strategy_and_reason() -> None:
    snapshot = make_snapshot(upl_pct=-2.5)
    decision, _ = DecisionEngine().evaluate(snapshot)

    alert = decode(encode(alert_for(decision, snapshot, NOW, 1)))

    assert isinstance(alert, AlertRaised)
    assert (alert.severity, alert.rule, alert.strategy_id) == (
        Severity.CRITICAL,
        "stop_loss",
        "s-1",
    )
    assert alert.message == decision.reason
    assert alert.status is ACTIVE


def test_rule_error_alert_carries_rule_name_and_error() -> None:
    error = RuleError(
        rule="stop_loss",
        strategy_id="s-1",
        error_type="ZeroDivisionError",
        error="boom",
        snapshot_as_of=NOW.isoformat(),
    )

    alert = alert_for_rule_error(error, NOW)

    assert alert.rule == "stop_loss"
    assert "boom" in alert.message
    assert alert.severity is Severity.WARNING


def _book_with_one_alert() -> tuple[AlertBook, str]:
    decision = Decision(action=Action.CLOSE, rule="time_exit", reason="1 DTE")
    book = AlertBook()
    alert = book.add(alert_for(decision, make_snapshot(), NOW, 1))
    return book, alert.alert_id


@pytest.mark.parametrize(
    "path",
    [[ACK, RESOLVED], [ACK, DISMISSED], [RESOLVED], [DISMISSED]],
    ids=lambda p: "-".join(p),
)
def test_valid_lifecycle_paths(path: list[AlertStatus]) -> None:
    book, alert_id = _book_with_one_alert()

    for status in path:
        changed = book.transition(alert_id, status, LATER, note="seen")
        assert changed is not None
        assert changed.status is status

    assert book.get(alert_id).status is path[-1]


@pytest.mark.parametrize(
    ("path", "invalid"),
    [
        ([RESOLVED], ACK),
        ([DISMISSED], RESOLVED),
        ([ACK], ACTIVE),
        ([ACK, RESOLVED], DISMISSED),
    ],
)
def test_invalid_transition_raises(path: list[AlertStatus], invalid: AlertStatus) -> None:
    book, alert_id = _book_with_one_alert()
    for status in path:
        book.transition(alert_id, status, LATER)

    with pytest.raises(InvalidAlertTransition):
        book.transition(alert_id, invalid, LATER)

    assert book.get(alert_id).status is path[-1]


def test_status_change_replaces_the_alert_instead_of_adding_one() -> None:
    book, alert_id = _book_with_one_alert()

    book.acknowledge(alert_id, LATER, note="on it")

    alert = book.get(alert_id)
    assert len(book) == 1
    assert (alert.status, alert.note, alert.updated_at, alert.raised_at) == (
        ACK,
        "on it",
        LATER,
        NOW,
    )
    assert book.active() == []


def test_repeating_the_current_status_is_a_no_op() -> None:
    book, alert_id = _book_with_one_alert()
    book.acknowledge(alert_id, NOW)

    assert book.acknowledge(alert_id, LATER) is None
    assert book.get(alert_id).updated_at == NOW


def test_raising_the_same_alert_twice_keeps_one() -> None:
    decision = Decision(action=Action.CLOSE, rule="time_exit", reason="1 DTE")
    book = AlertBook()
    book.add(alert_for(decision, make_snapshot(), NOW, 1))
    book.acknowledge(book.active()[0].alert_id, NOW)

    book.add(alert_for(decision, make_snapshot(), LATER, 1))

    assert len(book) == 1
    assert book.active() == []


def test_unknown_alert_raises() -> None:
    with pytest.raises(UnknownAlert):
        AlertBook().resolve("nope", NOW)


def test_book_restores_from_saved_alerts() -> None:
    book, alert_id = _book_with_one_alert()
    book.resolve(alert_id, LATER)

    restored = AlertBook([book.get(alert_id)])

    with pytest.raises(InvalidAlertTransition):
        restored.acknowledge(alert_id, LATER)
