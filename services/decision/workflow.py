"""DecisionWorkflow: the decision service's logic, free of NATS and tables.

Each snapshot goes through the rule engine with the strategy's remembered ``StrategyState``
(trailing peak, REDUCE done, exit working, roll blocked). What to publish and what to store comes
back as a ``SnapshotResult``; the handler stores first and publishes second, so a crash in between
republishes the same decision (same id, de-duplicated by JetStream) instead of losing it.

Ids: a decision's id (and its event id, the JetStream message id) and its alert's are made by
``shared.domain`` (``decision_id``, ``alert_id``) from the strategy's decision sequence, kept
in the state table, so a replay or a republish after a restart repeats them.

De-duplication: once a non-HOLD decision is made the state says "exit working" and the engine
holds repeats of it (only a more urgent decision goes out) until execution reports the exit
(``ExitExecuted``). An exit that is never reported stops blocking after
``decision.repeat_after_s`` of market time, so a lost decision cannot freeze a position.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

from shared.clock import Clock
from shared.config import Config
from shared.domain.alerts import Alert, AlertBook, alert_for, alert_for_rule_error
from shared.domain.rules import (
    DecisionEngine,
    DeltaLimits,
    StrategyState,
    apply_exit,
    to_event,
)
from shared.enums import Action, AlertStatus, ExitResult
from shared.events import (
    AcknowledgeAlert,
    AlertRaised,
    AlertStatusChanged,
    DecisionMade,
    ExitExecuted,
    PositionSnapshot,
    ResolveAlert,
)

PRODUCER = "decision"


class StoredState(msgspec.Struct, kw_only=True):
    """A strategy's rule state, the last decision sent and how many were sent (one row)."""

    state: StrategyState
    last_decision: DecisionMade | None = None
    decisions: int = 0


@dataclass
class SnapshotResult:
    """What one snapshot produced: the decision to publish (None: nothing), alerts, the state
    row to store (None: unchanged)."""

    decision: DecisionMade | None = None
    alerts: list[AlertRaised] = field(default_factory=list)
    stored: StoredState | None = None


class DecisionWorkflow:
    def __init__(
        self,
        config: Config,
        clock: Clock,
        states: Iterable[StoredState] = (),
        alerts: Iterable[Alert] = (),
    ) -> None:
        self.config = config
        self.clock = clock
        self.engine = DecisionEngine(config.rules, limits=DeltaLimits.from_config(config.entry))
        self.stored: dict[str, StoredState] = {s.state.strategy_id: s for s in states}
        self.alerts = AlertBook(alerts)
        self._repeat_after = dt.timedelta(seconds=config.decision.repeat_after_s)

    def state_of(self, strategy_id: str) -> StrategyState:
        stored = self.stored.get(strategy_id)
        return stored.state if stored else StrategyState(strategy_id=strategy_id)

    def working_decisions(self) -> list[DecisionMade]:
        """Decisions whose exit is still working: republished at start-up (same ids), in case
        the process died after storing one and before publishing it."""
        return [
            s.last_decision
            for s in self.stored.values()
            if s.state.exit_working and s.last_decision is not None
        ]

    def on_snapshot(self, snapshot: PositionSnapshot) -> SnapshotResult:
        now = self.clock.now()
        before = self._unblocked(self.state_of(snapshot.strategy_id), snapshot.as_of)
        decision, state = self.engine.evaluate(snapshot, before)
        outcome = SnapshotResult()
        for error in self.engine.drain_errors():
            outcome.alerts.append(alert_for_rule_error(error, now))
        previous = self.stored.get(snapshot.strategy_id) or StoredState(state=before)
        stored = StoredState(
            state=state, last_decision=previous.last_decision, decisions=previous.decisions
        )
        if decision.action is not Action.HOLD:
            stored.decisions += 1
            event = to_event(decision, snapshot, now, stored.decisions, PRODUCER)
            outcome.decision = stored.last_decision = event
            outcome.alerts.append(alert_for(decision, snapshot, now, stored.decisions))
        elif self.config.decision.publish_holds:
            outcome.decision = to_event(decision, snapshot, now, stored.decisions, PRODUCER)
        if stored != previous:
            outcome.stored = self.stored[snapshot.strategy_id] = stored
        for alert in outcome.alerts:
            self.alerts.add(alert)
        return outcome

    def _unblocked(self, state: StrategyState, as_of: dt.datetime) -> StrategyState:
        decided = state.last_decided_at
        if state.exit_working and decided is not None and as_of - decided > self._repeat_after:
            return msgspec.structs.replace(state, exit_working=False, roll_working=False)
        return state

    def on_exit_executed(self, event: ExitExecuted) -> StoredState:
        """Execution's report of an exit: clears "exit working"; a close clears everything."""
        previous = self.stored.get(event.strategy_id)
        state = apply_exit(self.state_of(event.strategy_id), event)
        if event.result in (ExitResult.CLOSED, ExitResult.ROLLED):
            self.engine.forget(event.strategy_id)
        stored = self.stored[event.strategy_id] = StoredState(
            state=state, decisions=previous.decisions if previous else 0
        )
        return stored

    def on_alert_command(
        self, command: AcknowledgeAlert | ResolveAlert
    ) -> tuple[Alert, AlertStatusChanged] | None:
        """Apply an operator's ack/resolve; None when the alert already has that status."""
        status = (
            AlertStatus.ACKNOWLEDGED
            if isinstance(command, AcknowledgeAlert)
            else AlertStatus.RESOLVED
        )
        changed = self.alerts.transition(command.alert_id, status, self.clock.now(), command.note)
        if changed is None:
            return None
        changed = msgspec.structs.replace(
            changed,
            event_id=f"{command.event_id}-status",
            correlation_id=command.alert_id,
            market_time=self.clock.now(),
        )
        return self.alerts.get(command.alert_id), changed
