"""Rolls: the old strategy closed and a new one opened further out, as one order if it can be.

A roll is one combo (the old legs reversed and the new legs in one BAG, role ROLL_COMBO) under
the new strategy's id with ``rolled_from``; when one combo is impossible (a contract on both
sides) or the broker rejects it, the old strategy is closed first (ROLL_CLOSE, under its own
id) and the new one opened (ROLL_OPEN) only after that close filled.
"""

from __future__ import annotations

import logging

import msgspec

from services.execution.book import Holding
from services.execution.brackets import Brackets
from services.execution.closing import Closer
from services.execution.order_manager import Filled, WorkingOrder
from services.execution.orders import OrderRole, OrderSpec, closing_legs, exit_ref
from services.execution.placing import OrderPlacer
from services.execution.reports import ExitReports
from shared.config import DteRollRule
from shared.domain.builders import StrategyBuilder
from shared.domain.calendar import trading_date
from shared.domain.chain import OptionChain, strikes_around
from shared.domain.position import price_within
from shared.domain.roll import RollDeclined, RollPlan, build_roll
from shared.domain.strategy import make_strategy, naked_short_problems, order_ref, validate
from shared.enums import Action, OrderPurpose, OrderStatus, StrategyStatus, Urgency
from shared.errors import Transient
from shared.events import ChainRequested, DecisionMade, Leg

log = logging.getLogger(__name__)

DEFAULT_IV = 0.25
NARROW_DAYS = 7  # the expiry window asked around the roll's target DTE


class RollSetup(msgspec.Struct, frozen=True, kw_only=True):
    """What building a roll needs besides the chain: the builder and the rules' settings."""

    builder: StrategyBuilder
    rule: DteRollRule
    time_exit_dte: int = 1


def _ids(legs: tuple[Leg, ...] | list[Leg]) -> list[int]:
    return [leg.con_id or 0 for leg in legs]


class RollWorkflow:
    def __init__(
        self,
        placer: OrderPlacer,
        closer: Closer,
        brackets: Brackets,
        reports: ExitReports,
        setup: RollSetup | None,
    ) -> None:
        self.placer = placer
        self.closer = closer
        self.brackets = brackets
        self.reports = reports
        self.setup = setup

    # --- placing ----------------------------------------------------------------------

    async def roll(self, h: Holding, d: DecisionMade) -> None:
        placer = self.placer
        await self.brackets.cancel(h)
        if h.held == 0:
            why = "already closed by its bracket order"
            await self.reports.failed(h.strategy_id, Action.ROLL, d.decision_id, d.rule, why)
            return
        plan = await self._plan(h, d)
        if isinstance(plan, str):
            await self.reports.failed(h.strategy_id, Action.ROLL, d.decision_id, d.rule, plan)
            return
        # the new structure is execution's own build, and still checked like any entry
        problems = validate(plan.new, trading_date(placer.now()))
        if not placer.config.allow_naked_shorts:
            problems += [p for p in naked_short_problems(plan.new.legs) if p not in problems]
        if problems:
            why = "roll refused: " + "; ".join(problems)
            await self.reports.failed(h.strategy_id, Action.ROLL, d.decision_id, d.rule, why)
            return
        new_legs = await placer.md.qualify(h.symbol, list(plan.new.legs))
        new = placer.book.add(
            Holding(
                strategy_id=plan.new.strategy_id,
                symbol=h.symbol,
                strategy_type=h.strategy_type,
                legs=tuple(new_legs),
                target_quantity=h.held,
                rolled_from=h.strategy_id,
                updated_at=placer.now(),
            )
        )
        h.rolled_into = new.strategy_id
        if set(_ids(h.legs)) & set(_ids(new_legs)):
            # one contract on both sides cannot be one BAG: close first, then open
            await self.closer.close(
                h, h.held, OrderRole.ROLL_CLOSE, d.urgency, d.decision_id, Action.ROLL
            )
            return
        closing = closing_legs(h.legs)
        spec = OrderSpec(
            strategy_id=new.strategy_id,
            symbol=h.symbol,
            order_ref=order_ref(new.strategy_id, OrderPurpose.ROLL),
            purpose=OrderPurpose.ROLL,
            role=OrderRole.ROLL_COMBO,
            legs=(*closing, *new_legs),
            quantity=h.held,
            limit_price=plan.net_price,
            worst_price=plan.worst_price,
            natural_price=plan.worst_price,
            strategy_type=h.strategy_type,
            rolled_from=h.strategy_id,
            closes=len(closing),
        )
        h.start_exit(d.decision_id, placer.now())
        await placer.place(spec, [h, new])

    async def _chain(self, h: Holding, target_dte: int) -> OptionChain:
        """The chain around the roll's target expiry, with the current legs' quotes merged in.

        The builder's DTE window does not hold a position near its roll DTE, and the roll is
        priced from the cost of closing those legs. Only the week around the target is asked
        for (every option is a snapshot under IB's pacing).
        """
        assert self.setup is not None
        md = self.placer.md
        cfg = self.setup.builder.config
        legs = list(h.legs)
        await self.placer.quoted(h.symbol, legs)
        current = [md.quotes[c] for c in _ids(legs) if c in md.quotes]
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
            provided = await md.on_chain_requested(
                ChainRequested(
                    symbol=h.symbol,
                    min_dte=min_dte,
                    max_dte=max_dte,
                    strikes_around=around,
                    market_time=self.placer.now(),
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

    async def _plan(self, h: Holding, d: DecisionMade) -> RollPlan | str:
        if self.setup is None:
            return "rolls are not configured"
        now = self.placer.now()
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
        rule = self.setup.rule
        target_dte = rule.target_dte if d.roll_to_dte is None else d.roll_to_dte
        plan = build_roll(
            strategy,
            await self._chain(h, target_dte),
            self.setup.builder,
            rule,
            today=trading_date(now),
            now=now,
            time_exit_dte=self.setup.time_exit_dte,
            target_dte=target_dte,
            new_strategy_id=f"{h.strategy_id}-r1",  # a strategy is rolled once: then it is closed
        )
        if isinstance(plan, RollDeclined):
            return f"{plan.reason}: {plan.detail}" if plan.detail else plan.reason
        return plan

    # --- the roll's orders: fills and ends --------------------------------------------

    async def on_combo_fill(self, wo: WorkingOrder, fill: Filled) -> None:
        """A fill of the one roll combo: the old strategy closes what the new one opens."""
        book = self.placer.book
        new = book.get(wo.spec.strategy_id)
        old = book.get(wo.spec.rolled_from or "")
        at = self.placer.now()
        if old is not None and old.first_time(fill.key):
            old.apply_exit_fill(
                fill.key,
                fill.units,
                price_within(wo.spec.legs[: wo.spec.closes], fill.legs, fill.net),
                at,
            )
            await self.placer.save(old)
        if new is not None and new.first_time(fill.key):
            new.apply_entry_fill(
                fill.units, price_within(wo.spec.opened_legs, fill.legs, fill.net), at
            )
            await self.placer.save(new)

    async def _abandon(self, new: Holding, reason: str) -> None:
        new.working = None
        new.move(StrategyStatus.FAILED, self.placer.now(), reason)
        await self.placer.save(new)

    async def on_close_done(self, wo: WorkingOrder) -> None:
        """The first order of a roll in two ended: open the new strategy once the old closed."""
        placer = self.placer
        placer.order_ended(wo)
        old = placer.book.get(wo.spec.strategy_id)
        new = placer.book.get(old.rolled_into or "") if old else None
        if old is None or new is None:
            return
        if old.held > 0:
            old.release(placer.now())
            await placer.save(old)
            reason = wo.reason or f"roll close order {wo.status.value}"
            await self.reports.result(old, Action.ROLL, [wo.spec.order_ref], wo, reason=reason)
            await self._abandon(new, f"the roll's close did not complete: {reason}")
            return
        mid, natural = await placer.quoted(new.symbol, list(new.legs))
        spec = OrderSpec(
            strategy_id=new.strategy_id,
            symbol=new.symbol,
            # seq 1: the one roll combo, when tried first, holds seq 0
            order_ref=order_ref(new.strategy_id, OrderPurpose.ROLL, 1),
            purpose=OrderPurpose.ROLL,
            role=OrderRole.ROLL_OPEN,
            legs=new.legs,
            quantity=old.exit_units,
            limit_price=mid,
            worst_price=natural,
            natural_price=natural,
            strategy_type=new.strategy_type,
            rolled_from=old.strategy_id,
        )
        await placer.place(spec, [old, new])

    async def on_done(self, wo: WorkingOrder) -> None:
        """A roll's opening order (the one combo, or the second of two) ended."""
        placer = self.placer
        placer.order_ended(wo)
        new = placer.book.get(wo.spec.strategy_id)
        old = placer.book.get(wo.spec.rolled_from or "")
        if new is None or old is None:
            return
        one_combo = wo.spec.role is OrderRole.ROLL_COMBO
        if one_combo and wo.status is OrderStatus.REJECTED and wo.filled == 0:
            log.warning("roll combo rejected: closing first", extra={"ref": wo.spec.order_ref})
            old.release(placer.now())
            await self.closer.close(
                old,
                old.held,
                OrderRole.ROLL_CLOSE,
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
            new.updated_at = placer.now()
            await placer.save(new)
        old.release(placer.now())
        await placer.save(old)
        refs = [wo.spec.order_ref]
        if not one_combo:
            refs.insert(0, exit_ref(old.strategy_id, OrderRole.ROLL_CLOSE, old.exit_seq - 1))
        rolled = wo.filled > 0
        await self.reports.result(
            old,
            Action.ROLL,
            refs,
            wo,
            new_strategy_id=new.strategy_id if rolled else None,
            reason=""
            if rolled or one_combo
            else f"closed; the new strategy did not open: {reason}",
        )
