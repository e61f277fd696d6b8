"""Alerts raised from decisions and rule errors, and their lifecycle.

Lifecycle (a transition table; anything else raises ``InvalidAlertTransition``):
active -> acknowledged -> resolved | dismissed, and active -> resolved | dismissed directly.
Asking for the status an alert already has is a no-op, so a redelivered command is harmless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import msgspec

from shared.domain.rules.decision import Decision, decision_id
from shared.domain.rules.engine import RuleError
from shared.enums import Action, AlertStatus, Severity, Urgency
from shared.events import AlertRaised, AlertStatusChanged, PositionSnapshot

SOURCE = "decision"

_TRANSITIONS: dict[AlertStatus, frozenset[AlertStatus]] = {
    AlertStatus.ACTIVE: frozenset(
        {AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED, AlertStatus.DISMISSED}
    ),
    AlertStatus.ACKNOWLEDGED: frozenset({AlertStatus.RESOLVED, AlertStatus.DISMISSED}),
    AlertStatus.RESOLVED: frozenset(),
    AlertStatus.DISMISSED: frozenset(),
}


class InvalidAlertTransition(ValueError):
    pass


class UnknownAlert(KeyError):
    pass


def severity_for(decision: Decision) -> Severity:
    """CLOSE+immediate is critical, CLOSE+high a warning; rolls, reductions, calm closes info."""
    if decision.action is Action.CLOSE:
        if decision.urgency is Urgency.IMMEDIATE:
            return Severity.CRITICAL
        if decision.urgency is Urgency.HIGH:
            return Severity.WARNING
    return Severity.INFO


def alert_id(cause: str) -> str:
    """The one id of an alert, and its message id, from the id of what raised it: a replayed
    cause raises the same alert, which the book and JetStream keep once."""
    return f"alert-{cause}"


def alert_for(
    decision: Decision, snapshot: PositionSnapshot, now: dt.datetime, sequence: int
) -> AlertRaised:
    """The alert of the strategy's ``sequence``-th acting decision (its id is the decision's)."""
    ident = alert_id(decision_id(snapshot, decision, sequence))
    return AlertRaised(
        event_id=ident,
        alert_id=ident,
        correlation_id=snapshot.correlation_id or snapshot.strategy_id,
        producer=SOURCE,
        wall_time=now,
        market_time=snapshot.market_time or snapshot.as_of,
        severity=severity_for(decision),
        title=f"{decision.action.upper()} {snapshot.symbol} {snapshot.strategy_type} "
        f"({decision.rule})",
        message=decision.reason,
        source=SOURCE,
        strategy_id=snapshot.strategy_id,
        rule=decision.rule,
    )


def alert_for_rule_error(error: RuleError, now: dt.datetime) -> AlertRaised:
    """A rule that raised: the position went unguarded by that rule on this snapshot."""
    ident = alert_id(f"rule-error-{error.strategy_id}-{error.rule}-{error.snapshot_as_of}")
    return AlertRaised(
        event_id=ident,
        alert_id=ident,
        correlation_id=error.strategy_id,
        producer=SOURCE,
        wall_time=now,
        severity=Severity.WARNING,
        title=f"rule {error.rule} failed",
        message=f"{error.error_type}: {error.error}",
        source=SOURCE,
        strategy_id=error.strategy_id,
        rule=error.rule,
    )


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """An alert as it stands now (the row the decision service upserts)."""

    alert_id: str
    severity: Severity
    title: str
    message: str
    source: str
    strategy_id: str | None
    rule: str | None
    status: AlertStatus
    raised_at: dt.datetime
    updated_at: dt.datetime
    note: str = ""


class AlertBook:
    """Alerts keyed by id; a status change replaces the one alert, it never adds a row."""

    def __init__(self, alerts: Iterable[Alert] = ()) -> None:
        self._alerts: dict[str, Alert] = {a.alert_id: a for a in alerts}

    def __len__(self) -> int:
        return len(self._alerts)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._alerts

    def get(self, alert_id: str) -> Alert:
        try:
            return self._alerts[alert_id]
        except KeyError:
            raise UnknownAlert(alert_id) from None

    def active(self) -> list[Alert]:
        return [a for a in self._alerts.values() if a.status is AlertStatus.ACTIVE]

    def add(self, event: AlertRaised) -> Alert:
        """Record a raised alert; raising the same id again keeps the existing one."""
        existing = self._alerts.get(event.alert_id)
        if existing is not None:
            return existing
        alert = Alert(
            alert_id=event.alert_id,
            severity=event.severity,
            title=event.title,
            message=event.message,
            source=event.source,
            strategy_id=event.strategy_id,
            rule=event.rule,
            status=event.status,
            raised_at=event.wall_time,
            updated_at=event.wall_time,
        )
        self._alerts[alert.alert_id] = alert
        return alert

    def transition(
        self, alert_id: str, status: AlertStatus, now: dt.datetime, note: str = ""
    ) -> AlertStatusChanged | None:
        """Move one alert to ``status``; None when it already is there."""
        alert = self.get(alert_id)
        if alert.status is status:
            return None
        if status not in _TRANSITIONS[alert.status]:
            raise InvalidAlertTransition(f"alert {alert_id}: {alert.status} -> {status}")
        self._alerts[alert_id] = msgspec.structs.replace(
            alert, status=status, updated_at=now, note=note
        )
        return AlertStatusChanged(
            alert_id=alert_id, status=status, note=note, producer=SOURCE, wall_time=now
        )

    def acknowledge(
        self, alert_id: str, now: dt.datetime, note: str = ""
    ) -> AlertStatusChanged | None:
        return self.transition(alert_id, AlertStatus.ACKNOWLEDGED, now, note)

    def resolve(self, alert_id: str, now: dt.datetime, note: str = "") -> AlertStatusChanged | None:
        return self.transition(alert_id, AlertStatus.RESOLVED, now, note)

    def dismiss(self, alert_id: str, now: dt.datetime, note: str = "") -> AlertStatusChanged | None:
        return self.transition(alert_id, AlertStatus.DISMISSED, now, note)
