"""The service's logic: open built strategies as one order each, and carry out exits.

``Workflows.on_strategy_built`` is the entry path; ``execute_exit_decision`` carries out
decisions (CLOSE, REDUCE, ROLL) and ``execute_close_all`` the operator's close-all. Every order
is saved on its holding *before* it is placed, so a crash between placing and recording is
recovered by finding the order at the broker by its ref (``resume_working``).

A roll is one combo (the old legs reversed and the new legs in one BAG) under the new
strategy's id with ``rolled_from``; when one combo is impossible (a contract in both sides) or
the broker rejects it, the old strategy is closed first (purpose ROLL under its own id) and the
new one opened only after that close filled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import msgspec

from services.execution.book import Book, Holding
from services.execution.fills import ComboExecution
from services.execution.ib_client import IBClient
from services.execution.orders import (
    OrderSpec,
    closing_legs,
    net_prices,
    reduce_units,
)
from services.execution.reconcile import Finding, FindingKind, book_positions, reconcile
from services.execution.translate import describe
from services.execution.working import DoneCallback, FillCallback, OrderManager, WorkingOrder
from shared.config import DteRollRule, OrdersConfig
from shared.domain.breaker import CircuitBreaker
from shared.domain.builders import StrategyBuilder
from shared.domain.calendar import trading_date
from shared.domain.chain import OptionChain
from shared.domain.roll import RollDeclined, RollPlan, build_roll
from shared.domain.strategy import (
    derive_id,
    from_built_event,
    make_strategy,
    order_ref,
    validate,
)
from shared.enums import (
    Action,
    ExitResult,
    OrderPurpose,
    OrderSide,
    OrderStatus,
    Severity,
    StrategyStatus,
    Urgency,
)
from shared.errors import Transient
from shared.events import (
    AlertRaised,
    BrokerPositionsReconciled,
    ChainProvided,
    ChainRequested,
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
QUOTE_WAIT_S = 2.0
# the roll's chain: the expected move to the target expiry in standard deviations, plus the
# wing, in $1 strikes (the densest grid), reaches beyond the builder's short-delta band
CHAIN_REACH_SD = 1.5
MAX_STRIKES_AROUND = 100
DEFAULT_IV = 0.25
NARROW_DAYS = 7  # the expiry window asked around the roll's target DTE
# bracket orders' sequence numbers in their refs, far from the exits' own 0, 1, 2 ...
BRACKET_TP_SEQ = 900
BRACKET_SL_SEQ = 901
CANCEL_WAIT_S = 5.0


class MarketData(Protocol):
    """What the workflows need from the market-data relay."""

    quotes: dict[int, Quote]

    async def qualify(self, symbol: str, legs: list[Leg]) -> list[Leg]: ...

    async def track(self, symbol: str, legs: list[Leg]) -> None: ...

    async def wait_quotes(self, legs: list[Leg], timeout_s: float) -> None: ...

    async def on_chain_requested(self, req: ChainRequested) -> ChainProvided: ...


class SaveHolding(Protocol):
    """Persist a holding; ``durable`` waits until it is committed (before an order is placed)."""

    def __call__(self, holding: Holding, *, durable: bool = False) -> Awaitable[None]: ...


Publish = Callable[[Event], Awaitable[object]]


class RollSetup(msgspec.Struct, frozen=True, kw_only=True):
    """What building a roll needs besides the chain: the builder and the rules' settings."""

    builder: StrategyBuilder
    rule: DteRollRule
    time_exit_dte: int = 1


def part_price(combo: ComboExecution, con_ids: Iterable[int]) -> float:
    """The signed net per unit (credit positive) of the legs ``con_ids`` within one fill."""
    wanted = set(con_ids)
    total = sum(
        (leg.price if leg.side is OrderSide.SELL else -leg.price) * leg.shares
        for leg in combo.legs
        if leg.con_id in wanted
    )
    return total / combo.units


def strikes_around(price: float, iv: float, dte: int, wing: float) -> int:
    """$1 strikes each side of ``price`` that hold the builder's strikes at ``dte`` and ``iv``."""
    reach = price * iv * math.sqrt(max(dte, 1) / 365.0) * CHAIN_REACH_SD + wing
    return min(math.ceil(reach) + 2, MAX_STRIKES_AROUND)


def opens(spec: OrderSpec, strategy_id: str) -> bool:
    """Whether ``spec`` is the order opening ``strategy_id`` (its entry, or a roll into it)."""
    if spec.strategy_id != strategy_id:
        return False
    return spec.purpose is OrderPurpose.ENTRY or (
        spec.purpose is OrderPurpose.ROLL and spec.rolled_from is not None
    )


def bracket_refs(strategy_id: str) -> tuple[str, str]:
    """The order refs of a strategy's take-profit and stop-loss orders."""
    return (
        order_ref(strategy_id, OrderPurpose.EXIT, BRACKET_TP_SEQ),
        order_ref(strategy_id, OrderPurpose.EXIT, BRACKET_SL_SEQ),
    )


def exit_event_id(
    strategy_id: str, decision_id: str | None, result: ExitResult, refs: Iterable[str]
) -> str:
    return derive_id("exit", strategy_id, decision_id or "", result.value, *refs)


def _ids(legs: Iterable[Leg]) -> list[int]:
    return [leg.con_id or 0 for leg in legs]


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
        roll: RollSetup | None = None,
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
        self.roll = roll

    # --- placing and its callbacks, by what the order does --------------------------------

    def _hooks(self, spec: OrderSpec) -> tuple[FillCallback, DoneCallback]:
        if spec.order_ref in bracket_refs(spec.strategy_id):
            return self._bracket_filled, self._bracket_done
        if spec.purpose is OrderPurpose.ENTRY:
            return self._entry_filled, self._entry_done
        if spec.purpose is not OrderPurpose.ROLL:
            return self._exit_filled, self._exit_done
        if spec.rolled_from is None:
            return self._exit_filled, self._roll_close_done
        if spec.closes:
            return self._roll_combo_filled, self._roll_done
        return self._entry_filled, self._roll_done

    async def _place(
        self, spec: OrderSpec, holdings: Iterable[Holding], correlation_id: str = ""
    ) -> None:
        """Save ``spec`` as working on ``holdings`` (durably), then place it."""
        for h in holdings:
            h.working = spec
            h.updated_at = self.client.now()
            await self.save(h, durable=True)
        on_fill, on_done = self._hooks(spec)
        await self.orders.place(
            spec,
            on_fill,
            on_done,
            dry_run=self.config.dry_run,
            correlation_id=correlation_id,
        )

    async def resume_working(self) -> None:
        """After a (re)start: every order saved as working is re-attached (or placed) by ref."""
        for h in list(self.book.holdings.values()):
            specs = (*((h.working,) if h.working else ()), *h.brackets)
            for spec in specs:
                if spec.order_ref in self.orders.working:
                    continue
                await self.md.track(h.symbol, list(spec.legs))
                on_fill, on_done = self._hooks(spec)
                await self.orders.place(spec, on_fill, on_done, dry_run=self.config.dry_run)

    async def _order_ended(self, wo: WorkingOrder) -> None:
        now = self.client.now()
        if wo.status is OrderStatus.REJECTED:
            self.breaker.record_failure(now)
        elif wo.filled:
            self.breaker.record_success(now)

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

    def _entry_refusal(self, ev: StrategyBuilt) -> str | None:
        now = self.client.now()
        problems = validate(from_built_event(ev), trading_date(now))
        if problems:
            return "; ".join(problems)
        if self.halted:
            return "trading halted: new entries are denied"
        # asked last: in half-open the breaker lets this one order through as its trial
        if not self.breaker.allow(now):
            return f"circuit breaker open until {self.breaker.reopens_at(now)}"
        return None

    async def on_strategy_built(self, ev: StrategyBuilt) -> None:
        ref = order_ref(ev.strategy_id, ev.purpose)
        known = self.book.get(ev.strategy_id)
        if known is not None and (known.working is None or ref in self.orders.working):
            log.info("strategy already handled", extra={"strategy_id": ev.strategy_id})
            return
        if known is None:
            refusal = self._entry_refusal(ev)
            if refusal:
                await self._deny(ev, ref, refusal)
                return
        legs = await self.md.qualify(ev.symbol, list(ev.legs))
        await self.md.track(ev.symbol, legs)
        await self.md.wait_quotes(legs, timeout_s=QUOTE_WAIT_S)
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
            strategy_type=ev.strategy_type,
            rolled_from=ev.rolled_from,
            take_profit=ev.take_profit if ev.bracket else None,
            stop_loss=ev.stop_loss if ev.bracket else None,
        )
        holding = known or self.book.add(
            Holding(
                strategy_id=ev.strategy_id,
                symbol=ev.symbol,
                strategy_type=ev.strategy_type,
                legs=tuple(legs),
                target_quantity=ev.quantity,
                rolled_from=ev.rolled_from,
                updated_at=self.client.now(),
            )
        )
        await self._place(spec, [holding], ev.correlation_id or ev.strategy_id)

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

    async def _entry_filled(
        self, wo: WorkingOrder, units: int, net: float, combo: ComboExecution
    ) -> None:
        h = self.book.get(wo.spec.strategy_id)
        if h is not None and Book.first_time(h, combo.key_exec_id):
            Book.apply_entry_fill(h, units, net, self.client.now())
            await self.save(h)

    async def _entry_done(self, wo: WorkingOrder) -> None:
        await self._order_ended(wo)
        h = self.book.get(wo.spec.strategy_id)
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
        if h.held > 0 and (wo.spec.take_profit is not None or wo.spec.stop_loss is not None):
            await self._place_brackets(h, wo.spec)

    # --- brackets: a take-profit limit and a stop on the closing combo, one OCA group ---------

    async def _place_brackets(self, h: Holding, entry: OrderSpec) -> None:
        """Once the entry filled: the standing exits it asked for (IB cancels the other when
        one fills). Placed after the fill rather than as IB child orders, because an IB child
        must trade the parent's own contract and our closing combo is its reverse."""
        tp_ref, sl_ref = bracket_refs(h.strategy_id)
        legs = closing_legs(h.legs)
        levels = ((tp_ref, entry.take_profit, False), (sl_ref, entry.stop_loss, True))
        specs = tuple(
            OrderSpec(
                strategy_id=h.strategy_id,
                symbol=h.symbol,
                order_ref=ref,
                purpose=OrderPurpose.EXIT,
                legs=legs,
                quantity=h.held,
                limit_price=price,
                worst_price=price,
                oca_group=f"v6:{h.strategy_id}:bracket",
                stop=stop,
            )
            for ref, price, stop in levels
            if price is not None
        )
        h.brackets = specs
        await self.save(h, durable=True)
        for spec in specs:
            await self.orders.place(
                spec, self._bracket_filled, self._bracket_done, dry_run=self.config.dry_run
            )

    async def _bracket_filled(
        self, wo: WorkingOrder, units: int, net: float, combo: ComboExecution
    ) -> None:
        h = self.book.get(wo.spec.strategy_id)
        if h is None or not Book.first_time(h, combo.key_exec_id):
            return
        if h.working_decision != wo.spec.order_ref:
            Book.start_exit(h, wo.spec.order_ref, self.client.now())
        Book.apply_exit_fill(h, units, net, self.client.now())
        await self.save(h)

    async def _bracket_done(self, wo: WorkingOrder) -> None:
        await self._order_ended(wo)
        h = self.book.get(wo.spec.strategy_id)
        if h is None:
            return
        h.brackets = tuple(b for b in h.brackets if b.order_ref != wo.spec.order_ref)
        if wo.filled == 0:  # cancelled: its sibling filled, or another exit took over
            await self.save(h)
            return
        # the broker cancels the rest of the OCA group, but not a sibling placed after the fill
        await self._cancel_brackets(h)
        self._release(h)
        await self.save(h)
        await self._exit_result(h, Action.CLOSE, [wo.spec.order_ref], wo)

    async def _cancel_brackets(self, h: Holding) -> None:
        """Another exit takes over: the standing bracket orders go first (bounded wait)."""
        for spec in h.brackets:
            wo = self.orders.working.get(spec.order_ref)
            if wo is not None and not wo.done.is_set():
                self.orders.cancel(wo)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wo.done.wait(), CANCEL_WAIT_S)

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
            if opens(h.working, h.strategy_id):
                # filled, but its order has not ended yet: the decision is retried shortly
                raise Transient(f"the order opening {h.strategy_id} is still working")
            log.info("an exit is already working", extra={"strategy_id": h.strategy_id})
            return
        if d.action is Action.ROLL:
            await self._roll(h, d)
            return
        units = h.held
        purpose = OrderPurpose.EXIT
        if d.action is Action.REDUCE:
            purpose = OrderPurpose.REDUCE
            units = reduce_units(h.held, d.close_ratio or 0.5)
            if units == 0:
                why = f"{h.held} unit(s) cannot be reduced by {d.close_ratio} in whole contracts"
                await self._exit_failed(h.strategy_id, d.action, d.decision_id, d.rule, why)
                return
        await self._close(h, units, purpose, d.urgency, d.decision_id, d.action)

    async def execute_close_all(self, cmd: CloseAll) -> None:
        for h in self.book.open_holdings(cmd.symbol):
            if h.working is None:
                decision_id = f"close_all:{cmd.event_id}"
                # an operator's close-all means out now: a marketable limit, not a slow walk
                # that a moving market can outrun
                await self._close(
                    h, h.held, OrderPurpose.EXIT, Urgency.IMMEDIATE, decision_id, Action.CLOSE
                )

    async def _quoted(self, symbol: str, legs: list[Leg]) -> tuple[float, float]:
        await self.md.track(symbol, legs)
        await self.md.wait_quotes(legs, timeout_s=QUOTE_WAIT_S)
        prices = net_prices(legs, self.md.quotes)
        if prices is None:
            raise Transient(f"no quotes for the legs of {symbol}; exit retried later")
        return prices

    async def _close(
        self,
        h: Holding,
        units: int,
        purpose: OrderPurpose,
        urgency: Urgency,
        decision_id: str,
        action: Action,
    ) -> None:
        if not self.breaker.allow(self.client.now(), is_exit=True):
            why = "circuit breaker open: exits are held too (breaker.allow_exits_when_open)"
            await self._exit_failed(h.strategy_id, action, decision_id, None, why)
            return
        await self._cancel_brackets(h)
        units = min(units, h.held)
        if units == 0:
            why = "already closed by its bracket order"
            await self._exit_failed(h.strategy_id, action, decision_id, None, why)
            return
        legs = list(closing_legs(h.legs))
        mid, natural = await self._quoted(h.symbol, legs)
        marketable = urgency is Urgency.IMMEDIATE and self.config.immediate_marketable
        # an immediate exit may give a few ticks past the natural price it saw, because the
        # quotes it priced from can be a tick old by the time the order arrives
        floor = natural - IMMEDIATE_SLIPPAGE * len(legs) if marketable else natural
        spec = OrderSpec(
            strategy_id=h.strategy_id,
            symbol=h.symbol,
            order_ref=order_ref(h.strategy_id, purpose, h.exit_seq),
            purpose=purpose,
            legs=tuple(legs),
            quantity=units,
            limit_price=natural if marketable else mid,
            worst_price=floor,
            natural_price=floor,
        )
        Book.start_exit(h, decision_id, self.client.now())
        await self._place(spec, [h])

    async def _exit_filled(
        self, wo: WorkingOrder, units: int, net: float, combo: ComboExecution
    ) -> None:
        h = self.book.get(wo.spec.strategy_id)
        if h is not None and Book.first_time(h, combo.key_exec_id):
            Book.apply_exit_fill(h, units, net, self.client.now())
            await self.save(h)

    def _release(self, h: Holding) -> None:
        h.working = None
        if h.held > 0:
            h.status = StrategyStatus.OPEN
        h.updated_at = self.client.now()

    async def _exit_done(self, wo: WorkingOrder) -> None:
        await self._order_ended(wo)
        h = self.book.get(wo.spec.strategy_id)
        if h is None:
            return
        action = Action.REDUCE if wo.spec.purpose is OrderPurpose.REDUCE else Action.CLOSE
        self._release(h)
        await self.save(h)
        await self._exit_result(h, action, [wo.spec.order_ref], wo)

    async def _exit_result(
        self,
        h: Holding,
        action: Action,
        refs: list[str],
        wo: WorkingOrder,
        *,
        new_strategy_id: str | None = None,
        reason: str = "",
    ) -> None:
        """What the exit working on ``h`` did, from the units its orders closed."""
        if h.exit_units == 0:
            why = reason or wo.reason or f"{wo.spec.purpose.value} order {wo.status.value}"
            await self._exit_failed(h.strategy_id, action, h.working_decision, None, why, wo)
            return
        if new_strategy_id is not None:
            result = ExitResult.ROLLED
        else:
            result = ExitResult.CLOSED if h.held == 0 else ExitResult.REDUCED
        await self.publish(
            ExitExecuted(
                event_id=exit_event_id(h.strategy_id, h.working_decision, result, refs),
                correlation_id=h.strategy_id,
                market_time=self.client.now(),
                strategy_id=h.strategy_id,
                action=action,
                result=result,
                decision_id=h.working_decision,
                closed_quantity=h.exit_units,
                remaining_quantity=h.held,
                realized_pnl=round(h.exit_pnl, 2),
                new_strategy_id=new_strategy_id,
                order_refs=refs,
                reason=reason,
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
        refs = [wo.spec.order_ref] if wo else []
        await self.publish(
            ExitExecuted(
                # a redelivered decision answered again is the same event: de-duplicated
                event_id=exit_event_id(strategy_id, decision_id, ExitResult.FAILED, refs),
                correlation_id=strategy_id,
                market_time=self.client.now(),
                strategy_id=strategy_id,
                action=action,
                result=ExitResult.FAILED,
                decision_id=decision_id,
                rule=rule,
                remaining_quantity=h.held if h else 0,
                order_refs=refs,
                reason=reason,
            )
        )

    # --- rolls ------------------------------------------------------------------------

    async def _roll_chain(self, h: Holding, target_dte: int) -> OptionChain:
        """The chain around the roll's target expiry, with the current legs' quotes merged in.

        The builder's DTE window does not hold a position near its roll DTE, and the roll is
        priced from the cost of closing those legs. Only the week around the target is asked
        for (every option is a snapshot under IB's pacing).
        """
        assert self.roll is not None
        cfg = self.roll.builder.config
        legs = list(h.legs)
        await self._quoted(h.symbol, legs)
        current = [self.md.quotes[c] for c in _ids(legs) if c in self.md.quotes]
        ivs = [q.iv for q in current if q.iv]
        spots = [q.und_price for q in current if q.und_price]
        price = spots[0] if spots else sum(leg.strike for leg in legs) / len(legs)
        wing = cfg.wing_width_pct * price if cfg.wing_width_pct else cfg.wing_width
        iv = sum(ivs) / len(ivs) if ivs else DEFAULT_IV
        around = strikes_around(price, iv, target_dte, wing)
        narrow = (
            max(cfg.min_dte, target_dte - NARROW_DAYS),
            min(cfg.max_dte, target_dte + NARROW_DAYS),
        )
        # no listing near the target: the builder's whole window
        windows = (narrow, (cfg.min_dte, cfg.max_dte))
        for min_dte, max_dte in windows:
            provided = await self.md.on_chain_requested(
                ChainRequested(
                    symbol=h.symbol,
                    min_dte=min_dte,
                    max_dte=max_dte,
                    strikes_around=around,
                    market_time=self.client.now(),
                )
            )
            if provided.error or provided.expiries:
                break
        if provided.error:
            raise Transient(f"no chain for the roll of {h.strategy_id}: {provided.error}")
        expiries = sorted({*provided.expiries, *(leg.expiry for leg in legs)})
        return OptionChain(
            h.symbol,
            provided.underlying_price,
            [*provided.quotes, *current],
            provided.market_time,
            expiries,
        )

    async def _plan_roll(self, h: Holding, d: DecisionMade) -> RollPlan | str:
        if self.roll is None:
            return "rolls are not configured"
        now = self.client.now()
        strategy = msgspec.structs.replace(
            make_strategy(
                strategy_id=h.strategy_id,
                symbol=h.symbol,
                strategy_type=h.strategy_type,
                legs=h.legs,
                quantity=h.held,
                entry_price=h.entry_price,
                rolled_from=h.rolled_from,
            ),
            status=StrategyStatus.OPEN,
        )
        target_dte = self.roll.rule.target_dte if d.roll_to_dte is None else d.roll_to_dte
        plan = build_roll(
            strategy,
            await self._roll_chain(h, target_dte),
            self.roll.builder,
            self.roll.rule,
            today=trading_date(now),
            now=now,
            time_exit_dte=self.roll.time_exit_dte,
            target_dte=target_dte,
            new_strategy_id=f"{h.strategy_id}-r1",  # a strategy is rolled once: then it is closed
        )
        if isinstance(plan, RollDeclined):
            return f"{plan.reason}: {plan.detail}" if plan.detail else plan.reason
        return plan

    async def _roll(self, h: Holding, d: DecisionMade) -> None:
        await self._cancel_brackets(h)
        if h.held == 0:
            why = "already closed by its bracket order"
            await self._exit_failed(h.strategy_id, Action.ROLL, d.decision_id, d.rule, why)
            return
        plan = await self._plan_roll(h, d)
        if isinstance(plan, str):
            await self._exit_failed(h.strategy_id, Action.ROLL, d.decision_id, d.rule, plan)
            return
        new_legs = await self.md.qualify(h.symbol, list(plan.new.legs))
        new = self.book.add(
            Holding(
                strategy_id=plan.new.strategy_id,
                symbol=h.symbol,
                strategy_type=h.strategy_type,
                legs=tuple(new_legs),
                target_quantity=h.held,
                rolled_from=h.strategy_id,
                updated_at=self.client.now(),
            )
        )
        h.rolled_into = new.strategy_id
        if set(_ids(h.legs)) & set(_ids(new_legs)):
            # one contract on both sides cannot be one BAG: close first, then open
            await self._close(h, h.held, OrderPurpose.ROLL, d.urgency, d.decision_id, Action.ROLL)
            return
        closing = closing_legs(h.legs)
        spec = OrderSpec(
            strategy_id=new.strategy_id,
            symbol=h.symbol,
            order_ref=order_ref(new.strategy_id, OrderPurpose.ROLL),
            purpose=OrderPurpose.ROLL,
            legs=(*closing, *new_legs),
            quantity=h.held,
            limit_price=plan.net_price,
            worst_price=plan.worst_price,
            natural_price=plan.worst_price,
            strategy_type=h.strategy_type,
            rolled_from=h.strategy_id,
            closes=len(closing),
        )
        Book.start_exit(h, d.decision_id, self.client.now())
        await self._place(spec, [h, new])

    async def _roll_combo_filled(
        self, wo: WorkingOrder, units: int, _net: float, combo: ComboExecution
    ) -> None:
        new = self.book.get(wo.spec.strategy_id)
        old = self.book.get(wo.spec.rolled_from or "")
        at = self.client.now()
        if old is not None and Book.first_time(old, combo.key_exec_id):
            closing = _ids(wo.spec.legs[: wo.spec.closes])
            Book.apply_exit_fill(old, units, part_price(combo, closing), at)
            await self.save(old)
        if new is not None and Book.first_time(new, combo.key_exec_id):
            opening = _ids(wo.spec.legs[wo.spec.closes :])
            Book.apply_entry_fill(new, units, part_price(combo, opening), at)
            await self.save(new)

    async def _abandon(self, new: Holding, reason: str) -> None:
        new.working = None
        new.status = StrategyStatus.FAILED
        new.status_reason = reason
        new.updated_at = self.client.now()
        await self.save(new)

    async def _roll_close_done(self, wo: WorkingOrder) -> None:
        """The first order of a roll in two ended: open the new strategy once the old closed."""
        await self._order_ended(wo)
        old = self.book.get(wo.spec.strategy_id)
        new = self.book.get(old.rolled_into or "") if old else None
        if old is None or new is None:
            return
        if old.held > 0:
            self._release(old)
            await self.save(old)
            reason = wo.reason or f"roll close order {wo.status.value}"
            await self._exit_result(old, Action.ROLL, [wo.spec.order_ref], wo, reason=reason)
            await self._abandon(new, f"the roll's close did not complete: {reason}")
            return
        mid, natural = await self._quoted(new.symbol, list(new.legs))
        spec = OrderSpec(
            strategy_id=new.strategy_id,
            symbol=new.symbol,
            # seq 1: the one roll combo, when tried first, holds seq 0
            order_ref=order_ref(new.strategy_id, OrderPurpose.ROLL, 1),
            purpose=OrderPurpose.ROLL,
            legs=new.legs,
            quantity=old.exit_units,
            limit_price=mid,
            worst_price=natural,
            natural_price=natural,
            strategy_type=new.strategy_type,
            rolled_from=old.strategy_id,
        )
        await self._place(spec, [old, new])

    async def _roll_done(self, wo: WorkingOrder) -> None:
        """A roll's opening order (the one combo, or the second of two) ended."""
        await self._order_ended(wo)
        new = self.book.get(wo.spec.strategy_id)
        old = self.book.get(wo.spec.rolled_from or "")
        if new is None or old is None:
            return
        one_combo = wo.spec.closes > 0
        if one_combo and wo.status is OrderStatus.REJECTED and wo.filled == 0:
            log.warning("roll combo rejected: closing first", extra={"ref": wo.spec.order_ref})
            self._release(old)
            await self._close(
                old,
                old.held,
                OrderPurpose.ROLL,
                Urgency.HIGH,
                old.working_decision or "",
                Action.ROLL,
            )
            return
        reason = wo.reason or f"roll order {wo.status.value}"
        if wo.filled == 0:
            await self._abandon(new, reason)
        else:
            new.working = None
            new.updated_at = self.client.now()
            await self.save(new)
        self._release(old)
        await self.save(old)
        refs = [wo.spec.order_ref]
        if not one_combo:
            refs.insert(0, order_ref(old.strategy_id, OrderPurpose.ROLL, old.exit_seq - 1))
        rolled = wo.filled > 0
        await self._exit_result(
            old,
            Action.ROLL,
            refs,
            wo,
            new_strategy_id=new.strategy_id if rolled else None,
            reason=""
            if rolled or one_combo
            else f"closed; the new strategy did not open: {reason}",
        )
