"""Orders at the broker: place (once per order ref), walk the limit, follow status and fills.

Every order this service places carries an ``orderRef`` that is a pure function of the
strategy and the purpose, so before placing, the broker's open and completed orders are
searched for it: a redelivered command or a restart after a crash re-attaches the existing
order instead of sending a second one.

What an order's fills and end do to the book depends on its ``role``: the manager calls the
role's pair from the one table it is given (``workflow.role_callbacks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import msgspec

from services.execution.fills import ComboExecution, Execution, FillMatcher
from services.execution.ib_client import IBClient
from services.execution.orders import (
    OrderRole,
    OrderSpec,
    ib_order_terms,
    net_from_ib,
    net_prices,
    walk_limits,
)
from services.execution.status_map import (
    ErrorKind,
    cancelled_by_client,
    error_kind,
    order_status,
    was_accepted,
)
from services.execution.translate import BrokerOrder
from shared.config import OrdersConfig
from shared.domain.strategy import derive_id
from shared.enums import TERMINAL_ORDER_STATUSES, OrderStatus
from shared.events import (
    Event,
    LegFill,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
    Quote,
)

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[object]]
COMMISSION_WAIT_S = 0.5


def _set_event() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


@dataclass
class WorkingOrder:
    """One order of ours at the broker and what has happened to it so far."""

    spec: OrderSpec
    broker: BrokerOrder | None
    matcher: FillMatcher
    filled: int = 0
    announced: int = 0  # units whose OrderFilled is out (or was before a restart)
    fill_value: float = 0.0  # sum of signed net price x units over the fills
    status: OrderStatus = OrderStatus.PENDING_SUBMIT
    reason: str = ""
    rejected: bool = False  # the broker refused it (an error code), whatever status follows
    # the broker refused a modify or cancel of it: it works on as it is, the walk leaves it
    change_refused: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    walk: asyncio.Task[None] | None = None
    # cleared while IB holds the order until the open (399): the walk starts at the open
    at_exchange: asyncio.Event = field(default_factory=_set_event)

    @property
    def avg_price(self) -> float | None:
        return self.fill_value / self.filled if self.filled else None

    @property
    def broker_order_id(self) -> int | None:
        return self.broker.order_id if self.broker else None


class Filled(msgspec.Struct, frozen=True, kw_only=True):
    """One complete fill of a working order: ``units`` at the signed ``net`` per unit."""

    units: int
    net: float
    key: str  # the fill's identity (its BAG execution): a replay applies nothing twice
    legs: tuple[LegFill, ...]  # per leg, with the leg's total shares and price per share


FillCallback = Callable[[WorkingOrder, Filled], Awaitable[None]]
DoneCallback = Callable[[WorkingOrder], Awaitable[None]]
# the broker reported more units than the order asked for: (order, units beyond its size)
OverfillCallback = Callable[[WorkingOrder, int], Awaitable[None]]


class RoleCallbacks(msgspec.Struct, frozen=True):
    """What the book does when an order of one role fills, and when it ends."""

    on_fill: FillCallback
    on_done: DoneCallback


class OrderManager:
    """All orders of the service; routes IB's callbacks to them by ``orderRef``."""

    def __init__(
        self,
        client: IBClient,
        publish: Publish,
        config: OrdersConfig,
        quotes: Mapping[int, Quote],
        recorded_fills: set[str] | None = None,
        on_overfill: OverfillCallback | None = None,
    ) -> None:
        self.client = client
        self.on_overfill = on_overfill
        self.publish = publish
        self.config = config
        self.quotes = quotes
        self.recorded_fills = recorded_fills if recorded_fills is not None else set()
        self.working: dict[str, WorkingOrder] = {}
        # every role's callbacks: set once by the workflows (``workflow.role_callbacks``)
        self.roles: Mapping[OrderRole, RoleCallbacks] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        client.on_order_status(self._on_status)
        client.on_execution(self._on_exec)
        client.on_error(self._on_error)

    # --- placing ------------------------------------------------------------------------

    def _callbacks(self, wo: WorkingOrder) -> RoleCallbacks:
        assert wo.spec.role is not None, f"{wo.spec.order_ref} has no role"
        return self.roles[wo.spec.role]

    async def place(
        self,
        spec: OrderSpec,
        *,
        dry_run: bool = False,
        correlation_id: str = "",
        resume: bool = False,
    ) -> WorkingOrder:
        """Place ``spec`` unless an order with its ref exists (then re-attach); start the walk.

        ``resume``: ``spec`` was saved as working before a restart. It is re-attached or settled
        from the broker's executions, but never sent again: the broker not knowing it means it
        ended while we were away (or never reached it), and a stale order must not trade.
        """
        if spec.order_ref in self.working:
            return self.working[spec.order_ref]
        ratios = {leg.con_id or 0: abs(leg.quantity) for leg in spec.legs}
        wo = WorkingOrder(spec=spec, broker=None, matcher=FillMatcher(ratios))
        self.working[spec.order_ref] = wo
        existing = self.client.order_by_ref(spec.order_ref)
        if existing is not None:
            log.info("order found at the broker, re-attached", extra={"ref": spec.order_ref})
            wo.broker = existing
            # a crash may have come between placing and announcing: announced again, same id
            await self._publish_placed(wo, correlation_id, dry_run=False)
            await self._catch_up(wo)
        elif not dry_run and await self._ended_while_away(wo):
            return wo
        elif resume and not dry_run:
            await self._settle_unknown(wo)
            return wo
        elif dry_run:
            wo.status = OrderStatus.DRY_RUN
            await self._publish_placed(wo, correlation_id, dry_run=True)
            await self._publish_status(wo)
            await self._finish(wo)
            return wo
        else:
            try:
                wo.broker = self.client.place(spec)
            except Exception:
                del self.working[spec.order_ref]
                raise
            await self._publish_placed(wo, correlation_id, dry_run=False)
        if not wo.done.is_set() and spec.natural_price is not None:
            wo.walk = asyncio.create_task(self._walk(wo), name=f"walk-{spec.order_ref}")
        return wo

    async def _publish_placed(
        self, wo: WorkingOrder, correlation_id: str, *, dry_run: bool
    ) -> None:
        spec = wo.spec
        side, _ = ib_order_terms(spec.legs, spec.limit_price)
        await self.publish(
            OrderPlaced(
                event_id=derive_id("placed", spec.order_ref),
                correlation_id=correlation_id or spec.rolled_from or spec.strategy_id,
                market_time=self.client.now(),
                strategy_id=spec.strategy_id,
                order_ref=spec.order_ref,
                purpose=spec.purpose,
                broker_order_id=wo.broker_order_id or 0,
                perm_id=wo.broker.perm_id if wo.broker else None,
                combo=spec.combo,
                side=side,
                quantity=spec.quantity,
                limit_price=spec.limit_price,
                # a roll combo announces the structure it opens: consumers learn it from here
                legs=list(spec.opened_legs),
                dry_run=dry_run,
                symbol=spec.symbol,
                strategy_type=spec.strategy_type,
                rolled_from=spec.rolled_from,
            )
        )

    # --- the walk -----------------------------------------------------------------------

    async def _walk(self, wo: WorkingOrder) -> None:
        """Every ``walk_interval_s``, move the limit one step from where it started toward the
        natural price *of now* (the market moves while the order works), never past the worst
        price and never back up; cancel when the steps are spent."""
        spec = wo.spec
        steps = self.config.walk_max_steps
        # the interval is market time: an accelerated simulator walks in fewer wall seconds
        interval_s = self.config.walk_interval_s / self.client.clock.speed
        try:
            k = 0
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wo.done.wait(), interval_s)
                if wo.done.is_set():
                    return
                if not wo.at_exchange.is_set():
                    # held for the open: walking a price no exchange sees would only spend
                    # the steps and cancel the order before the session starts
                    await wo.at_exchange.wait()
                    continue
                if k == steps:
                    break
                price = self._walk_price(spec, k)
                k += 1
                if wo.change_refused:
                    continue  # the broker would not move it: it rests where it is
                if price is not None and price < wo.spec.limit_price - 1e-9:
                    self._modify(wo, price)
            if self.config.cancel_remaining_after_walk:
                wo.reason = f"walk ended unfilled after {steps} steps at {wo.spec.limit_price:.2f}"
                self.cancel(wo)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("order walk failed", extra={"ref": spec.order_ref})

    def _walk_price(self, spec: OrderSpec, step: int) -> float | None:
        """The limit of walk step ``step`` (0-based) of the order first placed as ``spec``."""
        prices = net_prices(spec.legs, self.quotes)
        natural = prices[1] if prices else spec.natural_price
        assert natural is not None
        limits = walk_limits(
            spec.limit_price,
            natural,
            spec.worst_price,
            self.config.walk_step_fraction,
            self.config.walk_max_steps,
            self.config.worst_price_fraction,
        )
        return limits[min(step, len(limits) - 1)] if limits else None

    def _modify(self, wo: WorkingOrder, net_price: float) -> None:
        _, ib_price = ib_order_terms(wo.spec.legs, net_price)
        if wo.broker is None or not self.client.modify(wo.broker, ib_price):
            return
        wo.spec = msgspec.structs.replace(wo.spec, limit_price=net_price)
        log.info("limit walked", extra={"ref": wo.spec.order_ref, "limit": net_price})

    def cancel(self, wo: WorkingOrder) -> None:
        if wo.broker is not None:
            self.client.cancel(wo.broker)

    # --- broker callbacks ---------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("order callback failed", exc_info=task.exception())

    def _on_status(self, order: BrokerOrder) -> None:
        wo = self.working.get(order.order_ref)
        if wo is not None:
            wo.broker = order
            if order.status == "Submitted":  # at the exchange (after a hold, from the open)
                wo.at_exchange.set()
            self._spawn(self._status_changed(wo))

    def _on_exec(self, order: BrokerOrder, execution: Execution) -> None:
        wo = self.working.get(order.order_ref)
        if wo is not None:
            self._spawn(self._executed(wo, execution))

    def _on_error(self, req_id: int, code: int, message: str) -> None:
        kind = error_kind(code)
        if kind is ErrorKind.ORDER_HELD:
            for wo in self.working.values():
                if wo.broker_order_id == req_id:
                    log.info("held until the open", extra={"ref": wo.spec.order_ref})
                    wo.at_exchange.clear()
            return
        if kind not in (ErrorKind.ORDER_REJECTED, ErrorKind.CHANGE_REFUSED):
            return
        for wo in self.working.values():
            if wo.broker_order_id != req_id or wo.done.is_set():
                continue
            assert wo.broker is not None
            if kind is ErrorKind.CHANGE_REFUSED or was_accepted(wo.broker.history):
                # a refused modify or cancel (often one that crossed a fill on the wire): the
                # order is as the broker has it, and its statuses say what becomes of it
                log.warning(
                    "broker refused a change to the order; it stays as it is",
                    extra={"ref": wo.spec.order_ref, "code": code, "reason": message},
                )
                wo.change_refused = True
            else:
                wo.reason = f"IB {code}: {message}"
                wo.rejected = True
                self._spawn(self._rejected(wo, code, message))

    async def _rejected(self, wo: WorkingOrder, code: int, message: str) -> None:
        await self.publish(
            OrderRejected(
                correlation_id=wo.spec.strategy_id,
                market_time=self.client.now(),
                strategy_id=wo.spec.strategy_id,
                order_ref=wo.spec.order_ref,
                purpose=wo.spec.purpose,
                broker_order_id=wo.broker_order_id,
                code=code,
                reason=message,
            )
        )
        wo.status = OrderStatus.REJECTED
        await self._finish(wo)

    async def _status_changed(self, wo: WorkingOrder) -> None:
        assert wo.broker is not None
        st = wo.broker
        status = order_status(st.status, st.filled, st.remaining)
        history = st.history
        if (
            status is OrderStatus.CANCELLED
            and was_accepted(history)
            and cancelled_by_client(history)
        ):
            return  # ib_async's word after a refused change, not the broker's: its status follows
        if wo.rejected and status is OrderStatus.CANCELLED:
            status = OrderStatus.REJECTED  # IB cancels what it refused: a rejection all the same
        if status is wo.status or wo.done.is_set():
            return
        wo.status = status
        if status is OrderStatus.FILLED:
            wo.reason = ""  # a walk's cancel that lost the race to the fill is no failure
        await self._publish_status(wo)
        if status is OrderStatus.PARTIALLY_FILLED:
            self._spawn(self._settle_fills(wo, int(st.filled)))
        if status in TERMINAL_ORDER_STATUSES:
            if wo.walk is not None:
                wo.walk.cancel()
            await self._settle_fills(wo, int(st.filled))
            await self._finish(wo)

    async def _settle_fills(self, wo: WorkingOrder, filled: int, timeout_s: float = 2.0) -> None:
        """Wait for the executions of ``filled`` units; without a BAG execution, use the legs'.

        The status may overtake the last executions on the wire, and some gateways send a
        combo's leg executions only.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        # the order's end waits for its fills' events, so they come before what it leads to
        while wo.announced < filled and loop.time() < deadline:  # noqa: ASYNC110 - fills come from several callbacks
            await asyncio.sleep(0.02)
        if wo.filled < filled:
            for combo in wo.matcher.from_legs():
                await self._filled(wo, combo)

    async def _publish_status(self, wo: WorkingOrder) -> None:
        st = wo.broker
        await self.publish(
            OrderStatusChanged(
                correlation_id=wo.spec.strategy_id,
                market_time=self.client.now(),
                strategy_id=wo.spec.strategy_id,
                order_ref=wo.spec.order_ref,
                purpose=wo.spec.purpose,
                broker_order_id=wo.broker_order_id,
                status=wo.status,
                filled=int(st.filled) if st else wo.filled,
                remaining=int(st.remaining) if st else wo.spec.quantity - wo.filled,
                avg_fill_price=wo.avg_price,
                limit_price=wo.spec.limit_price,
                reason=wo.reason if wo.status in TERMINAL_ORDER_STATUSES else "",
            )
        )

    async def _finish(self, wo: WorkingOrder) -> None:
        if wo.done.is_set():
            return
        wo.done.set()
        await self._callbacks(wo).on_done(wo)

    async def _executed(self, wo: WorkingOrder, execution: Execution) -> None:
        for combo in wo.matcher.add(execution):
            await self._filled(wo, combo)

    async def _filled(self, wo: WorkingOrder, combo: ComboExecution) -> None:
        units = round(combo.units)
        room = wo.spec.quantity - wo.filled
        if units > room:
            # never more than the order's size into the book: the excess is the broker's error
            # (or a modify taken as a new order) and goes to the operator, not into a strategy
            log.error(
                "fill beyond the order's size",
                extra={"ref": wo.spec.order_ref, "units": units, "room": room},
            )
            if self.on_overfill is not None:
                await self.on_overfill(wo, units - max(room, 0))
            units = max(room, 0)
            if units == 0:
                return
        net = net_from_ib(wo.spec.legs, combo.side, combo.price)
        wo.filled += units
        wo.fill_value += net * units
        legs_by_con = {leg.con_id or 0: leg for leg in wo.spec.legs}
        legs = tuple(
            LegFill(
                con_id=leg.con_id,
                right=legs_by_con[leg.con_id].right,
                strike=legs_by_con[leg.con_id].strike,
                expiry=legs_by_con[leg.con_id].expiry,
                side=leg.side,
                quantity=round(leg.shares),
                price=leg.price,
            )
            for leg in combo.legs
            if leg.con_id in legs_by_con
        )
        # the book first (it ignores a fill it has): the order's end, which reads the book,
        # may come before the commission report this fill's event waits for
        await self._callbacks(wo).on_fill(
            wo, Filled(units=units, net=net, key=combo.key_exec_id, legs=legs)
        )
        if combo.key_exec_id in self.recorded_fills:
            wo.announced += units
            return  # recorded before a restart or reconnect: not published again
        self.recorded_fills.add(combo.key_exec_id)
        commission = await self._commission(combo.exec_ids)
        await self.publish(
            OrderFilled(
                # one id per execution: a fill published again after a crash is de-duplicated
                event_id=derive_id("fill", combo.key_exec_id),
                correlation_id=wo.spec.strategy_id,
                market_time=self.client.now(),
                strategy_id=wo.spec.strategy_id,
                order_ref=wo.spec.order_ref,
                purpose=wo.spec.purpose,
                broker_order_id=wo.broker_order_id or 0,
                exec_id=combo.key_exec_id,
                side=combo.side,
                quantity=units,
                price=net,
                cumulative_quantity=wo.filled,
                total_quantity=wo.spec.quantity,
                legs=list(legs),
                commission=commission,
                rolled_from=wo.spec.rolled_from,
            )
        )
        wo.announced += units

    async def _commission(self, exec_ids: tuple[str, ...]) -> float:
        # commission reports follow their executions; wait briefly rather than report zero
        loop = asyncio.get_running_loop()
        deadline = loop.time() + COMMISSION_WAIT_S
        while True:
            commission = self.client.commission(exec_ids)
            if commission is not None:
                return commission
            if loop.time() >= deadline:
                return self.client.commission(exec_ids, complete=False) or 0.0
            await asyncio.sleep(0.02)

    # --- resynchronisation --------------------------------------------------------------

    async def _catch_up(self, wo: WorkingOrder) -> None:
        """Feed the session's executions of ``wo`` (replayed after a connect) and its status."""
        assert wo.broker is not None
        for execution in self.client.executions_of(wo.spec.order_ref):
            await self._executed(wo, execution)
        await self._status_changed(wo)

    async def _ended_while_away(self, wo: WorkingOrder) -> bool:
        """Settle an order that is not open at the broker but has executions there.

        It ended while we were away (disconnected, or down): a gateway need not list completed
        orders, but it replays the session's executions, and those are what moved money.
        """
        ref = wo.spec.order_ref
        executions = self.client.executions_of(ref)
        if not executions:
            return False
        log.info("order ended while away, settled from its executions", extra={"ref": ref})
        for execution in executions:
            await self._executed(wo, execution)
        await self._settle_fills(wo, wo.spec.quantity, timeout_s=0.0)
        # the rest of a partly filled order that is no longer open was cancelled
        wo.status = OrderStatus.FILLED if wo.filled >= wo.spec.quantity else OrderStatus.CANCELLED
        await self._publish_status(wo)
        await self._finish(wo)
        return True

    async def _settle_unknown(self, wo: WorkingOrder) -> None:
        """An order of ours the broker neither lists nor has executions of: it ended unfilled
        while we were away. Settled as cancelled, so what waits on it moves on."""
        log.warning(
            "working order unknown at the broker: settled", extra={"ref": wo.spec.order_ref}
        )
        wo.reason = "not at the broker after a restart or reconnect, and no executions"
        wo.status = OrderStatus.CANCELLED
        await self._publish_status(wo)
        await self._finish(wo)

    async def resynchronise(self) -> None:
        """After a reconnect: re-attach every working order by ref and record missed fills."""
        for ref, wo in list(self.working.items()):
            if wo.done.is_set():
                continue
            order = self.client.order_by_ref(ref)
            if order is None:
                if not await self._ended_while_away(wo):
                    await self._settle_unknown(wo)
                continue
            wo.broker = order
            await self._catch_up(wo)

    async def stop(self) -> None:
        for wo in self.working.values():
            if wo.walk is not None:
                wo.walk.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
