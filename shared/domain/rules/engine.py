"""The decision engine: the enabled rules in priority order, first match wins, HOLD otherwise.

A rule that raises is recorded as a ``RuleError`` (drained by the service into alerts) and
skipped; the engine goes on with the next rule and never raises itself. On a stale snapshot only
the time-based rules run. While an exit is working, only a more urgent decision is emitted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from shared.config import RulesConfig
from shared.enums import Action, Urgency
from shared.events import PositionSnapshot

from .base import Rule
from .catastrophe import Catastrophe
from .decision import HOLD, URGENCY_RANK, Decision
from .delta_risk import DeltaRisk
from .dte_roll import DteRoll
from .gamma_risk import GammaRisk
from .iv_crush import IVCrush
from .iv_percentile import IVPercentileExit
from .portfolio import DeltaLimits, PortfolioView
from .single_leg import SingleLegExit
from .state import StrategyState, update_state
from .stop_loss import StopLoss
from .take_profit import TakeProfit
from .time_exit import TimeExit
from .trailing_stop import TrailingStop
from .vix_exit import VixExit

EXIT_WORKING = "exit_working"
CLOSED = "closed"


class RuleError(msgspec.Struct, frozen=True, kw_only=True):
    """A rule that raised on a snapshot: reported as an alert, never a silent HOLD."""

    rule: str
    strategy_id: str
    error_type: str
    error: str
    snapshot_as_of: str


def build_rules(config: RulesConfig) -> list[Rule]:
    """The twelve rules of trading.md section 5 that are enabled, in priority order."""
    candidates: list[tuple[bool, Rule]] = [
        (config.catastrophe.enabled, Catastrophe(config.catastrophe)),
        (config.single_leg.enabled, SingleLegExit(config.single_leg)),
        (config.trailing_stop.enabled, TrailingStop(config.trailing_stop)),
        (config.vix_exit.enabled, VixExit(config.vix_exit)),
        (config.take_profit.enabled, TakeProfit(config.take_profit)),
        (config.stop_loss.enabled, StopLoss(config.stop_loss)),
        (config.delta_risk.enabled, DeltaRisk(config.delta_risk)),
        (config.iv_crush.enabled, IVCrush(config.iv_crush)),
        (config.iv_percentile.enabled, IVPercentileExit(config.iv_percentile)),
        (config.dte_roll.enabled, DteRoll(config.dte_roll, config.time_exit.at_dte)),
        (config.gamma_risk.enabled, GammaRisk(config.gamma_risk)),
        (config.time_exit.enabled, TimeExit(config.time_exit)),
    ]
    return sorted((rule for enabled, rule in candidates if enabled), key=lambda r: r.priority)


class DecisionEngine:
    """Evaluates snapshots against the rules; holds the fire counts, errors and delta book.

    ``rules`` replaces the configured rule set (it is sorted by priority here); ``portfolio``
    is the delta book used to send a portfolio/symbol breach to one position (see
    ``portfolio.py``); every evaluated snapshot updates it.
    """

    def __init__(
        self,
        config: RulesConfig | None = None,
        *,
        limits: DeltaLimits | None = None,
        portfolio: PortfolioView | None = None,
        rules: Iterable[Rule] | None = None,
    ) -> None:
        config = config or RulesConfig()
        chosen = build_rules(config) if rules is None else list(rules)
        self.rules: tuple[Rule, ...] = tuple(sorted(chosen, key=lambda r: r.priority))
        self._stale_rules = tuple(r for r in self.rules if r.acts_on_stale)
        self.portfolio = portfolio or PortfolioView(limits)
        self._fire_counts: dict[str, int] = dict.fromkeys(
            [r.name for r in self.rules] + [EXIT_WORKING], 0
        )
        self._errors: list[RuleError] = []

    @property
    def fire_counts(self) -> dict[str, int]:
        """How often each rule fired (including fires held back by a working exit)."""
        return dict(self._fire_counts)

    def drain_errors(self) -> list[RuleError]:
        """The rule errors since the last call, for the caller to turn into alerts."""
        errors, self._errors = self._errors, []
        return errors

    def forget(self, strategy_id: str) -> None:
        """Drop a closed strategy from the delta book."""
        self.portfolio.remove(strategy_id)

    def evaluate(
        self, snapshot: PositionSnapshot, state: StrategyState | None = None
    ) -> tuple[Decision, StrategyState]:
        if state is None:
            state = StrategyState(strategy_id=snapshot.strategy_id)
        if state.closed:
            return _hold(CLOSED, "strategy already closed"), state
        self.portfolio.update(snapshot)
        return self._decide(snapshot, state)

    def evaluate_book(
        self, snapshots: Sequence[PositionSnapshot], states: dict[str, StrategyState]
    ) -> list[tuple[Decision, StrategyState]]:
        """Evaluate a whole book at once: every delta is known before any breach is assigned."""
        for snapshot in snapshots:
            self.portfolio.update(snapshot)
        results = []
        for snapshot in snapshots:
            state = states.get(snapshot.strategy_id) or StrategyState(
                strategy_id=snapshot.strategy_id
            )
            if state.closed:
                results.append((_hold(CLOSED, "strategy already closed"), state))
            else:
                results.append(self._decide(snapshot, state))
        return results

    def _decide(
        self, snapshot: PositionSnapshot, state: StrategyState
    ) -> tuple[Decision, StrategyState]:
        portfolio = self.portfolio
        decision: Decision | None = None
        failed: list[RuleError] | None = None
        for rule in self._stale_rules if snapshot.stale else self.rules:
            try:
                decision = rule.evaluate(snapshot, state, portfolio)
            except Exception as exc:  # a faulty rule must not stop the ones after it
                error = RuleError(
                    rule=rule.name,
                    strategy_id=snapshot.strategy_id,
                    error_type=type(exc).__name__,
                    error=str(exc),
                    snapshot_as_of=snapshot.as_of.isoformat(),
                )
                self._errors.append(error)
                failed = failed or []
                failed.append(error)
                continue
            if decision is not None:
                counts = self._fire_counts
                counts[decision.rule] = counts.get(decision.rule, 0) + 1
                break
        if decision is None:
            decision = HOLD if failed is None else _hold_after_errors(failed)
        elif snapshot.exit_working or state.exit_working:
            decision = self._unless_escalation(decision, state)
        return decision, update_state(state, snapshot, decision)

    def _unless_escalation(self, decision: Decision, state: StrategyState) -> Decision:
        # an exit we did not decide (e.g. close-all) is taken as normal urgency
        working = state.last_urgency if state.exit_working and state.last_urgency else None
        floor = URGENCY_RANK[working or Urgency.NORMAL]
        if URGENCY_RANK[decision.urgency] > floor:
            return decision
        self._fire_counts[EXIT_WORKING] += 1
        return _hold(
            EXIT_WORKING,
            f"an exit is working; {decision.rule} ({decision.action}, {decision.urgency}) "
            "is not more urgent",
            held_rule=decision.rule,
            held_action=str(decision.action),
        )


def _hold(rule: str, reason: str, **metadata: object) -> Decision:
    return Decision(action=Action.HOLD, rule=rule, reason=reason, metadata=metadata)


def _hold_after_errors(errors: list[RuleError]) -> Decision:
    names = ", ".join(e.rule for e in errors)
    return _hold(
        HOLD.rule,
        f"no rule fired; failed rules: {names}",
        rule_errors=[msgspec.structs.asdict(e) for e in errors],
    )
