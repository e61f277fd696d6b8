"""The service's logic: open built strategies as one order each, and carry out exits.

``OrderWorkflow.on_strategy_built`` is the entry path; ``ExitWorkflow`` carries out decisions
(``execute_exit_decision``) and the operator's close-all (``execute_close_all``). Both keep the
book and save a holding *before* its order is placed, so a crash between placing and recording
is recovered by finding the order at the broker by its ref.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from services.execution.book import Book, Holding
from services.execution.ib_client import IBClient
from services.execution.orders import (
    OrderSpec,
    closing_legs,
    net_prices,
    realized_pnl,
    reduce_units,
)
from services.execution.reconcile import Finding, FindingKind, book_positions, reconcile
from services.execution.translate import describe
from services.execution.working import OrderManager, WorkingOrder
from shared.config import OrdersConfig
from shared.domain.breaker import CircuitBreaker
from shared.domain.strategy import derive_id, from_built_event, order_ref, validate
from shared.enums import (
    Action,
    ExitResult,
    OrderPurpose,
    OrderStatus,
    Severity,
    StrategyStatus,
    Urgency,
)
from shared.errors import Transient
from shared.events import (
    MULTIPLIER,
    AlertRaised,
    BrokerPositionsReconciled,
    CloseAll,
    DecisionMade,
    Event,
    ExitExecuted,
    Leg,
    OrderDenied,
    Quote,
    StrategyBuilt,
)

log = logging.getLogger(__name__)

IMMEDIATE_SLIPPAGE = 0.02  # per leg, per share


class MarketData(Protocol):
    """What the workflows need from the market-data relay."""

    quotes: dict[int, Quote]

    async def qualify(self, symbol: str, legs: list[Leg]) -> list[Leg]: ...

    async def track(self, symbol: str, legs: list[Leg]) -> None: ...

    async def wait_quotes(self, legs: list[Leg], timeout_s: float) -> None: ...


SaveHolding = Callable[[Holding], Awaitable[None]]
Publish = Callable[[Event], Awaitable[object]]


class Workflows:
    """Shared state of the entry and exit paths: one book, one breaker, one order manager.

    ``halted`` (the operator's halt) denies new entries only; exits keep working.
    """

    def __init__(
        self,
        client: IBClient,
        orders: OrderManager,
        book: Book,
        breaker: CircuitBreaker,
        md: MarketData,
        config: OrdersConfig,
        publish: Publish,
        save: SaveHolding,
    ) -> None:
        self.client = client
        self.orders = orders
        self.book = book
        self.breaker = breaker
        self.halted = False
        self.md = md
        self.config = config
        self.publish = publish
        self.save = save

    async def resume_working(self) -> None:
        """After a (re)start: every order saved as working is re-attached (or placed) by ref."""
        for h in list(self.book.holdings.values()):
            spec = h.working
            if spec is None or spec.order_ref in self.orders.working:
                continue
            await self.md.track(h.symbol, list(spec.legs))
            entry = spec.purpose is OrderPurpose.ENTRY
            await self.orders.place(
                spec,
                self._entry_filled if entry else self._exit_filled,
                self._entry_done if entry else self._exit_done,
                dry_run=self.config.dry_run,
            )

    async def reconcile_positions(self) -> list[Finding]:
        """Compare the broker's positions with the book; every difference is a critical alert."""
        account = self.client.config.account
        broker: dict[int, float] = {}
        names: dict[int, str] = {}
        for pos in self.client.ib.positions():
            if account and pos.account != account:
                continue
            broker[pos.contract.conId] = broker.get(pos.contract.conId, 0.0) + pos.position
            names[pos.contract.conId] = describe(pos.contract)
        held = [(h.legs, h.held) for h in self.book.holdings.values() if h.held > 0]
        ours = book_positions(held)
        findings = reconcile(broker, ours, names)
        now = self.client.now()
        for f in findings:
            await self.publish(
                AlertRaised(
                    market_time=now,
                    alert_id=derive_id("reconcile", now.isoformat(), str(f.con_id)),
                    severity=Severity.CRITICAL,
                    title=f"broker position {f.kind.value}",
                    message=f.detail,
                    source="execution.reconcile",
                )
            )
        kinds = [f.kind for f in findings]
        await self.publish(
            BrokerPositionsReconciled(
                market_time=now,
                matched=len(set(broker) | set(ours)) - len(findings),
                unknown=kinds.count(FindingKind.UNKNOWN),
                missing=kinds.count(FindingKind.MISSING),
                mismatched=kinds.count(FindingKind.MISMATCH),
                details=[f.detail for f in findings],
            )
        )
        return findings

    # --- entry ------------------------------------------------------------------------

    async def on_strategy_built(self, ev: StrategyBuilt) -> None:
        ref = order_ref(ev.strategy_id, ev.purpose)
        known = self.book.get(ev.strategy_id)
        if known is not None and (known.working is None or ref in self.orders.working):
            log.info("strategy already handled", extra={"strategy_id": ev.strategy_id})
            return
        if known is None:
            refusal = self.gate.refusal(self._mono(), exit_order=False)
            today = self.client.now().date()
            problems = [refusal] if refusal else validate(from_built_event(ev), today)
            if problems:
                await self._deny(ev, ref, "; ".join(problems))
                return
        legs = await self.md.qualify(ev.symbol, list(ev.legs))
        await self.md.track(ev.symbol, legs)
        await self.md.wait_quotes(legs, timeout_s=2.0)
        prices = net_prices(legs, self.md.quotes)
        spec = OrderSpec(
            strategy_id=ev.strategy_id,
            symbol=ev.symbol,
            order_ref=ref,
            purpose=ev.purpose,
            legs=tuple(legs),
            quantity=ev.quantity,
            limit_price=ev.limit_price,
            worst_price=ev.worst_price,
            natural_price=prices[1] if prices else ev.worst_price,
            oca_group=ev.oca_group,
        )
        holding = known or Holding(
            strategy_id=ev.strategy_id,
            symbol=ev.symbol,
            strategy_type=ev.strategy_type,
            legs=tuple(legs),
            target_quantity=ev.quantity,
            rolled_from=ev.rolled_from,
            updated_at=self.client.now(),
        )
        holding.working = spec
        self.book.add(holding)
        await self.save(holding)
        await self.orders.place(
            spec,
            self._entry_filled,
            self._entry_done,
            dry_run=self.config.dry_run,
            correlation_id=ev.correlation_id or ev.strategy_id,
            extra={"strategy_type": ev.strategy_type, "rolled_from": ev.rolled_from},
        )

    async def _deny(self, ev: StrategyBuilt, ref: str, reason: str) -> None:
        holding = Holding(
            strategy_id=ev.strategy_id,
            symbol=ev.symbol,
            strategy_type=ev.strategy_type,
            legs=tuple(ev.legs),
            target_quantity=ev.quantity,
            status=StrategyStatus.FAILED,
            status_reason=reason,
            updated_at=self.client.now(),
        )
        self.book.add(holding)
        await self.save(holding)
        await self.publish(
            OrderDenied(
                correlation_id=ev.correlation_id or ev.strategy_id,
                market_time=self.client.now(),
                strategy_id=ev.strategy_id,
                order_ref=ref,
                purpose=ev.purpose,
                reason=reason,
            )
        )

    async def _entry_filled(self, wo: WorkingOrder, units: int, net: float) -> None:
        h = self.book.get(wo.spec.strategy_id)
        if h is None:
            return
        Book.apply_entry_fill(h, units, net, self.client.now())
        self.gate.record_success(self._mono())
        await self.save(h)

    async def _entry_done(self, wo: WorkingOrder) -> None:
        h = self.book.get(wo.spec.strategy_id)
        if wo.status is OrderStatus.REJECTED:
            self.gate.record_failure(self._mono())
        if h is None:
            return
        h.working = None
        if wo.status is OrderStatus.DRY_RUN:
            h.status_reason = "dry run: no order placed"
        elif wo.filled == 0:
            h.status = StrategyStatus.FAILED
            h.status_reason = wo.reason or f"entry order {wo.status.value}"
        h.updated_at = self.client.now()
        await self.save(h)

    # --- exits ------------------------------------------------------------------------

    async def execute_exit_decision(self, d: DecisionMade) -> None:
        if d.action is Action.HOLD:
            return
        h = self.book.get(d.strategy_id)
        if h is not None and h.working_decision == d.decision_id:
            return  # a redelivery of the decision whose exit is working or done
        if h is None or not h.is_open:
            why = "unknown strategy" if h is None else f"strategy is {h.status.value}"
            await self._exit_failed(d.strategy_id, d.action, d.decision_id, d.rule, why)
            return
        if h.working is not None:
            log.info("an exit is already working", extra={"strategy_id": h.strategy_id})
            return
        if d.action is Action.ROLL:
            await self._exit_failed(
                h.strategy_id, d.action, d.decision_id, d.rule, "roll is not supported yet"
            )
            return
        units = h.held
        purpose = OrderPurpose.EXIT
        if d.action is Action.REDUCE:
            purpose = OrderPurpose.REDUCE
            units = reduce_units(h.held, d.close_ratio or 0.5)
            if units == 0:
                await self._exit_failed(
                    h.strategy_id,
                    d.action,
                    d.decision_id,
                    d.rule,
                    f"{h.held} unit(s) cannot be reduced by {d.close_ratio} in whole contracts",
                )
                return
        await self._close(h, units, purpose, d.urgency, d.decision_id)

    async def execute_close_all(self, cmd: CloseAll) -> None:
        for h in self.book.open_holdings(cmd.symbol):
            if h.working is None:
                await self._close(
                    h, h.held, OrderPurpose.EXIT, Urgency.HIGH, f"close_all:{cmd.event_id}"
                )

    async def _close(
        self, h: Holding, units: int, purpose: OrderPurpose, urgency: Urgency, decision_id: str
    ) -> None:
        legs = list(closing_legs(h.legs))
        await self.md.track(h.symbol, legs)
        await self.md.wait_quotes(legs, timeout_s=2.0)
        prices = net_prices(legs, self.md.quotes)
        if prices is None:
            raise Transient(f"no quotes for the legs of {h.strategy_id}; exit retried later")
        mid, natural = prices
        marketable = urgency is Urgency.IMMEDIATE and self.config.immediate_marketable
        spec = OrderSpec(
            strategy_id=h.strategy_id,
            symbol=h.symbol,
            order_ref=order_ref(h.strategy_id, purpose, h.exit_seq),
            purpose=purpose,
            legs=tuple(legs),
            quantity=units,
            limit_price=natural if marketable else mid,
            # an immediate exit may give a few ticks past the natural price it saw, because the
            # quotes it priced from can be a tick old by the time the order arrives
            worst_price=natural - IMMEDIATE_SLIPPAGE * len(legs) if marketable else natural,
            natural_price=natural - IMMEDIATE_SLIPPAGE * len(legs) if marketable else natural,
        )
        h.exit_seq += 1
        h.working = spec
        h.working_decision = decision_id
        h.status = StrategyStatus.CLOSING
        h.updated_at = self.client.now()
        await self.save(h)
        await self.orders.place(
            spec,
            self._exit_filled,
            self._exit_done,
            dry_run=self.config.dry_run,
            correlation_id=h.strategy_id,
            extra={"rolled_from": h.rolled_from},
        )

    async def _exit_filled(self, wo: WorkingOrder, units: int, net: float) -> None:
        h = self.book.get(wo.spec.strategy_id)
        if h is None:
            return
        Book.apply_exit_fill(h, units, net, self.client.now())
        await self.save(h)

    async def _exit_done(self, wo: WorkingOrder) -> None:
        h = self.book.get(wo.spec.strategy_id)
        if h is None:
            return
        decision_id = h.working_decision
        action = Action.REDUCE if wo.spec.purpose is OrderPurpose.REDUCE else Action.CLOSE
        h.working = None
        if h.held > 0:
            h.status = StrategyStatus.OPEN
        await self.save(h)
        if wo.filled == 0:
            reason = wo.reason or f"exit order {wo.status.value}"
            await self._exit_failed(h.strategy_id, action, decision_id, None, reason, wo)
            return
        pnl = realized_pnl(h.entry_price, wo.avg_price or 0.0, wo.filled, MULTIPLIER)
        await self.publish(
            ExitExecuted(
                correlation_id=h.strategy_id,
                market_time=self.client.now(),
                strategy_id=h.strategy_id,
                action=action,
                result=ExitResult.CLOSED if h.held == 0 else ExitResult.REDUCED,
                decision_id=decision_id,
                closed_quantity=wo.filled,
                remaining_quantity=h.held,
                realized_pnl=round(pnl, 2),
                order_refs=[wo.spec.order_ref],
            )
        )

    async def _exit_failed(
        self,
        strategy_id: str,
        action: Action,
        decision_id: str | None,
        rule: str | None,
        reason: str,
        wo: WorkingOrder | None = None,
    ) -> None:
        h = self.book.get(strategy_id)
        await self.publish(
            ExitExecuted(
                correlation_id=strategy_id,
                market_time=self.client.now(),
                strategy_id=strategy_id,
                action=action,
                result=ExitResult.FAILED,
                decision_id=decision_id,
                rule=rule,
                remaining_quantity=h.held if h else 0,
                order_refs=[wo.spec.order_ref] if wo else [],
                reason=reason,
            )
        )
