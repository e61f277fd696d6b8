"""The decision rules of trading.md section 5 and the engine that applies them.

How the decision service uses it (pure code: no I/O, no clock of its own):

- ``engine = DecisionEngine(config.rules, limits=DeltaLimits.from_config(config.entry))``;
- per ``PositionSnapshot``: ``decision, state = engine.evaluate(snapshot, states.get(id))``,
  then store ``state`` (a msgspec Struct), publish ``to_event(decision, snapshot, now, n)`` and
  ``shared.domain.alerts.alert_for(decision, snapshot, now, n)`` for a non-HOLD decision, the
  strategy's n-th (both ids come from ``decision_id``, the alert's through
  ``shared.domain.alerts.alert_id``), and turn ``engine.drain_errors()`` into
  ``alert_for_rule_error`` alerts;
- per ``ExitExecuted``: ``state = apply_exit(state, event)`` (clears the working flag, records a
  failed roll's reason, resets the state of a closed strategy), and for a closed or rolled
  strategy ``engine.forget(strategy_id)`` so it leaves the delta book;
- ``engine.evaluate_book(snapshots, states)`` evaluates a whole book at once, assigning delta
  breaches with every position known.
"""

from .base import Rule
from .decision import HOLD, Decision, decision_id, to_event
from .engine import DecisionEngine, RuleError, build_rules
from .portfolio import DeltaBreach, DeltaLimits, PortfolioView
from .state import StrategyState, apply_exit, update_state

__all__ = [
    "HOLD",
    "Decision",
    "DecisionEngine",
    "DeltaBreach",
    "DeltaLimits",
    "PortfolioView",
    "Rule",
    "RuleError",
    "StrategyState",
    "apply_exit",
    "build_rules",
    "decision_id",
    "to_event",
    "update_state",
]
