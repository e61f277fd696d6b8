"""The order book: limit/market/stop orders on stocks, options and BAG combos.

Matching is against the simulated quotes, re-checked on every market change:
- a BUY whose limit is at or above the ask, a SELL at or below the bid, fills at once at that
  ask/bid (the natural price); market orders fill at once at the natural price;
- a limit inside the spread may fill at its limit, by the fill model (``fills.py``): the more
  likely the closer it sits to the natural and the longer it rests. No fill is worse than the
  limit;
- a combo's quote is built from its legs in the BAG's own (BUY) terms:
  ``ask = Σ buy-legs ratio·ask - Σ sell-legs ratio·bid`` and
  ``bid = Σ buy-legs ratio·bid - Σ sell-legs ratio·ask``. A credit structure therefore quotes
  negative: "BUY at -1.40" and "SELL the reversed legs at +1.40" are the same trade, as at IB;
- each leg executes at its own natural price, moved toward its mid by the combo's price
  improvement, so the leg prices add up to the combo price;
- quantities above ``partial_fill_above`` fill in parts of whole units, one per market change;
- a fill cancels the rest of its OCA group; bracket children (``parentId``) wait until the
  parent is transmitted and filled, and cancel each other as one OCA group;
- an order placed with ``transmit=False`` is held until a child with ``transmit=True`` arrives;
- nothing fills outside the regular session (``hours``): an order released then stays
  PreSubmitted until the open, with IB's warning 399; a DAY order ends at the close of the
  session it works in.

Refusals answer with IB's own codes and texts (the TWS API's message-code table, and the
gateway's own lines as ib_insync users logged them):
- a placeOrder with the id of an order that is no longer working: 104 "Can't modify a filled
  order." when it repeats the filled order (a modify that came too late), else 103 "Duplicate
  order ID."; neither creates an order;
- a modify that changes the contract or the side: 105 "Order being modified does not match
  original order."; the order keeps working unchanged;
- a cancel of an order that ended: 10148 "OrderId <id> that needs to be cancelled cannot be
  cancelled, state: <status>."; of an id never seen: 10147 "... is not found.";
- a risk refusal (``reject_next``): 201 and the order is Inactive; of a modify
  (``reject_next_modify``): 201 and the order works on unchanged.
A cancel goes PendingCancel, then Cancelled.

Events go to an ``OrderListener`` (the simulator), which turns them into wire messages.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from services.ibsim import hours
from services.ibsim.fills import FillModel, depth
from services.ibsim.instruments import Instrument
from services.ibsim.market import Market
from services.ibsim.requests import ContractSpec, OrderRequest

OPTION_COMMISSION = 0.65  # per contract
STOCK_COMMISSION = 0.005  # per share
MIN_COMMISSION = 1.0
PRICE_TICK = 0.01
WORKING = frozenset({"PreSubmitted", "Submitted"})
DONE = frozenset({"Filled", "Cancelled", "Inactive", "ApiCancelled"})
OFF_TICK = "The price does not conform to the minimum price variation for this contract."


class OrderRejected(Exception):
    """A request refused as IB would: ``code`` is the IB error code (201, 110, 103 ...).

    ``order``: the order whose state follows the error on the wire (a refused modify leaves it
    working; a refused placement leaves it Inactive); None when no order is concerned.
    """

    def __init__(self, code: int, message: str, order: SimOrder | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.order = order


@dataclass(frozen=True, slots=True)
class Leg:
    instrument: Instrument
    ratio: int
    action: str  # BUY or SELL, in the BAG's own terms


@dataclass(slots=True)
class Execution:
    exec_id: str
    time: dt.datetime
    instrument: Instrument
    side: str  # BOT or SLD
    shares: float
    price: float
    cum_qty: float
    avg_price: float
    commission: float = 0.0
    realized_pnl: float = 0.0
    is_combo_summary: bool = False  # the BAG-level execution (no commission of its own)


@dataclass(slots=True)
class SimOrder:
    client_id: int
    order_id: int
    perm_id: int
    instrument: Instrument  # the BAG's own instrument for combos
    legs: list[Leg]
    action: str
    total_qty: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    oca_group: str
    oca_type: int
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    spec: ContractSpec
    placed_at: dt.datetime | None = None
    status: str = "PreSubmitted"
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    why_held: str = ""
    stop_triggered: bool = False
    held_for_open: bool = False  # transmitted outside the session: waits for the open
    resting_since: dt.datetime | None = None  # working at this limit since (a modify resets it)
    checked_at: dt.datetime | None = None  # the fill model's last look at it
    executions: list[Execution] = field(default_factory=list)

    @property
    def remaining(self) -> float:
        return self.total_qty - self.filled

    @property
    def is_combo(self) -> bool:
        return bool(self.legs)

    @property
    def is_working(self) -> bool:
        return self.status in WORKING

    @property
    def key(self) -> tuple[int, int]:
        return (self.client_id, self.order_id)


class OrderListener(Protocol):
    def order_changed(self, order: SimOrder) -> None: ...

    def order_filled(self, order: SimOrder, executions: list[Execution]) -> None: ...

    def order_message(self, order: SimOrder, code: int, text: str) -> None: ...


def commission_for(instrument: Instrument, qty: float) -> float:
    """IB-like tiered-ish commissions: $0.65 per option contract, $0.005 per share, min $1."""
    rate = OPTION_COMMISSION if instrument.is_option else STOCK_COMMISSION
    return round(max(rate * abs(qty), MIN_COMMISSION), 2)


def combo_quote(market: Market, legs: list[Leg]) -> tuple[float, float]:
    """(bid, ask) of a combo in its own BUY terms."""
    bid = ask = 0.0
    for leg in legs:
        q = market.quote(leg.instrument)
        if leg.action == "BUY":
            bid += leg.ratio * q.bid
            ask += leg.ratio * q.ask
        else:
            bid -= leg.ratio * q.ask
            ask -= leg.ratio * q.bid
    return round(bid, 2), round(ask, 2)


@dataclass(frozen=True, slots=True)
class OrderQuote:
    """An order's prices now: natural and mid, in the order's own terms, and per leg."""

    natural: float
    mid: float
    leg_naturals: list[float]
    leg_mids: list[float]


def order_quote(market: Market, order: SimOrder) -> OrderQuote:
    buying = order.action == "BUY"
    if not order.is_combo:
        q = market.quote(order.instrument)
        return OrderQuote((q.ask if buying else q.bid), (q.bid + q.ask) / 2, [], [])
    naturals, mids = [], []
    natural = mid = 0.0
    for leg in order.legs:
        q = market.quote(leg.instrument)
        leg_buys = (leg.action == "BUY") == buying
        sign = 1 if leg.action == "BUY" else -1
        naturals.append(q.ask if leg_buys else q.bid)
        mids.append((q.bid + q.ask) / 2)
        natural += sign * leg.ratio * naturals[-1]
        mid += sign * leg.ratio * mids[-1]
    return OrderQuote(round(natural, 2), mid, naturals, mids)


def leg_prices_at(order: SimOrder, quote: OrderQuote, price: float) -> list[float]:
    """Each leg's execution price for a combo fill at ``price``: every leg gives up the same
    share of its half spread, in cents, and the first single-ratio leg takes the rounding so
    that the legs add up to ``price`` exactly."""
    span = quote.natural - quote.mid
    share = (quote.natural - price) / span if abs(span) > 1e-12 else 0.0
    prices = [
        round(nat + share * (mid - nat), 2)
        for nat, mid in zip(quote.leg_naturals, quote.leg_mids, strict=True)
    ]
    signs = [(1 if leg.action == "BUY" else -1) * leg.ratio for leg in order.legs]
    residual = price - sum(s * p for s, p in zip(signs, prices, strict=True))
    for i, leg in enumerate(order.legs):
        if leg.ratio == 1:
            prices[i] = round(prices[i] + residual / signs[i], 2)
            break
    return prices


def _describe(order: SimOrder) -> str:
    """The order as IB's order messages name it: ``BUY 1 SPY SMART``."""
    inst = order.instrument
    name = inst.local_symbol if inst.is_option else inst.symbol
    qty = f"{order.total_qty:g}"
    return f"{order.action} {qty} {name} {inst.exchange}"


def _is_off_tick(price: float | None) -> bool:
    return price is not None and abs(price / PRICE_TICK - round(price / PRICE_TICK)) > 1e-6


class OrderBook:
    """Every order received, by (clientId, orderId), and the matching that fills them."""

    def __init__(
        self,
        market: Market,
        listener: OrderListener,
        resolve: Callable[[ContractSpec], Instrument],
        fill_model: FillModel,
        regular_hours_only: bool = True,
    ) -> None:
        self._market = market
        self._listener = listener
        self._resolve = resolve
        self.fill_model = fill_model
        self.regular_hours_only = regular_hours_only
        self.orders: dict[tuple[int, int], SimOrder] = {}
        self._next_perm_id = 1_000_001
        self._next_exec = 1
        self.reject_next: str | None = None
        self.reject_next_modify: str | None = None

    def place(self, client_id: int, req: OrderRequest) -> SimOrder:
        """Accept a new order or modify an existing one; raises OrderRejected."""
        existing = self.orders.get((client_id, req.order_id))
        if existing is not None and existing.is_working:
            return self._modify(existing, req)
        if existing is not None:
            if existing.status == "Filled" and self._same_order(existing, req):
                raise OrderRejected(104, "Can't modify a filled order.")
            raise OrderRejected(103, "Duplicate order ID.")
        order = self._new_order(client_id, req)
        self.orders[order.key] = order
        if self.reject_next is not None:
            reason, self.reject_next = self.reject_next, None
            order.status = "Inactive"
            raise OrderRejected(201, f"Order rejected - reason:{reason}", order)
        self._activate(order)
        return order

    def _same_order(self, order: SimOrder, req: OrderRequest) -> bool:
        """Whether ``req`` is ``order`` sent again (same contract and side), i.e. a modify."""
        if req.action != order.action:
            return False
        if order.is_combo:
            legs = {(leg.instrument.con_id, leg.ratio, leg.action) for leg in order.legs}
            asked = {(leg.con_id, leg.ratio, leg.action) for leg in req.contract.combo_legs}
            return req.contract.sec_type == "BAG" and legs == asked
        try:
            return self._resolve(req.contract).con_id == order.instrument.con_id
        except LookupError:
            return False

    def _new_order(self, client_id: int, req: OrderRequest) -> SimOrder:
        if req.total_quantity <= 0:
            raise OrderRejected(201, "Order rejected - reason:The order size must be positive")
        if req.order_type not in ("LMT", "MKT", "STP"):
            raise OrderRejected(201, f"Order rejected - reason:Unsupported type {req.order_type}")
        if req.order_type == "LMT" and req.lmt_price is None:
            raise OrderRejected(201, "Order rejected - reason:A limit order needs a limit price")
        if _is_off_tick(req.lmt_price) or _is_off_tick(req.aux_price):
            raise OrderRejected(110, OFF_TICK)
        legs = [
            Leg(self._resolve(ContractSpec(con_id=leg.con_id)), leg.ratio, leg.action)
            for leg in req.contract.combo_legs
        ]
        if req.contract.sec_type == "BAG":
            if not legs:
                raise OrderRejected(201, "Order rejected - reason:A combo needs legs")
            instrument = Instrument(
                con_id=0, symbol=legs[0].instrument.symbol, sec_type="BAG", exchange="SMART"
            )
        else:
            instrument = self._resolve(req.contract)
        perm_id = self._next_perm_id
        self._next_perm_id += 1
        return SimOrder(
            client_id=client_id,
            order_id=req.order_id,
            perm_id=perm_id,
            instrument=instrument,
            legs=legs,
            action=req.action,
            total_qty=req.total_quantity,
            order_type=req.order_type,
            lmt_price=req.lmt_price,
            aux_price=req.aux_price,
            tif=req.tif,
            oca_group=req.oca_group,
            oca_type=req.oca_type,
            account=req.account,
            order_ref=req.order_ref,
            transmit=req.transmit,
            parent_id=req.parent_id,
            spec=req.contract,
            placed_at=self._market.now,
        )

    def _modify(self, order: SimOrder, req: OrderRequest) -> SimOrder:
        if not self._same_order(order, req):
            raise OrderRejected(105, "Order being modified does not match original order.", order)
        if _is_off_tick(req.lmt_price) or _is_off_tick(req.aux_price):
            raise OrderRejected(110, OFF_TICK, order)
        if self.reject_next_modify is not None:
            reason, self.reject_next_modify = self.reject_next_modify, None
            raise OrderRejected(201, f"Order rejected - reason:{reason}", order)
        if req.total_quantity < order.filled:
            raise OrderRejected(
                201, "Order rejected - reason:Quantity below the filled amount", order
            )
        if req.lmt_price != order.lmt_price:
            order.resting_since = self._market.now  # a new price queues behind the others
        order.total_qty = req.total_quantity
        order.lmt_price = req.lmt_price
        order.aux_price = req.aux_price
        order.tif = req.tif
        order.order_ref = req.order_ref
        order.transmit = order.transmit or req.transmit
        self._listener.order_changed(order)
        self.check(order)
        return order

    def _activate(self, order: SimOrder) -> None:
        """Decide whether a new order works now, waits for transmission, or waits for a parent."""
        if not order.transmit:
            order.status, order.why_held = "PreSubmitted", ""
            self._listener.order_changed(order)
            return
        parent = self.orders.get((order.client_id, order.parent_id)) if order.parent_id else None
        if parent is not None and not parent.transmit:
            # transmitting the last child transmits the whole bracket
            for staged in self._family(parent):
                staged.transmit = True
            for staged in self._family(parent):
                self._release(staged)
            return
        self._release(order)

    def _release(self, order: SimOrder) -> None:
        if order.status == "Submitted" or order.status in DONE:
            return
        parent = self.orders.get((order.client_id, order.parent_id)) if order.parent_id else None
        if parent is not None and parent.status != "Filled":
            order.status, order.why_held = "PreSubmitted", "child"
            self._listener.order_changed(order)
            return
        if self._closed():
            first = not order.held_for_open
            order.status, order.why_held, order.held_for_open = "PreSubmitted", "", True
            self._listener.order_changed(order)
            if first:
                opening = hours.next_open(self._market.now)
                text = hours.held_until_open_text(_describe(order), opening)
                self._listener.order_message(order, 399, text)
            return
        order.held_for_open = False
        order.status, order.why_held = "Submitted", ""
        order.resting_since = order.checked_at = self._market.now
        self._listener.order_changed(order)
        self.check(order)

    def _family(self, parent: SimOrder) -> list[SimOrder]:
        return [parent, *self._children(parent)]

    def _children(self, parent: SimOrder) -> list[SimOrder]:
        return [
            o
            for o in self.orders.values()
            if o.client_id == parent.client_id and o.parent_id == parent.order_id
        ]

    def cancel(self, client_id: int, order_id: int) -> SimOrder:
        """Cancel a working order (PendingCancel, then Cancelled); raises OrderRejected when
        there is nothing to cancel."""
        order = self.orders.get((client_id, order_id))
        if order is None:
            raise OrderRejected(
                10147, f"OrderId {order_id} that needs to be cancelled is not found."
            )
        if order.status in DONE:
            raise OrderRejected(
                10148,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                f"state: {order.status}.",
            )
        order.status = "PendingCancel"
        self._listener.order_changed(order)
        self._set_cancelled(order)
        for child in self._children(order):
            if child.status not in DONE:
                self._set_cancelled(child)
        return order

    def _set_cancelled(self, order: SimOrder) -> None:
        order.status = "Cancelled"
        order.why_held = ""
        self._listener.order_changed(order)

    def cancel_contracts(self, con_ids: set[int]) -> None:
        """Cancel working orders on contracts that no longer trade (expired)."""
        for order in list(self.orders.values()):
            ids = {leg.instrument.con_id for leg in order.legs} or {order.instrument.con_id}
            if order.status not in DONE and ids & con_ids:
                self._set_cancelled(order)

    def expire_day_orders(self) -> None:
        """Cancel DAY orders still working at the close of the session they work in (the
        session they were placed in, or the next one when they arrived after its close)."""
        now = self._market.now
        for order in list(self.orders.values()):
            if order.tif != "DAY" or order.status in DONE or order.placed_at is None:
                continue
            if now >= hours.day_order_close(order.placed_at):
                self._set_cancelled(order)

    def _closed(self) -> bool:
        return self.regular_hours_only and not hours.in_session(self._market.now)

    def check_all(self) -> None:
        """Re-check every working order against the current quotes (called on each tick);
        at the open, orders held for it go to the exchange."""
        if self._closed():
            return
        for order in list(self.orders.values()):
            if order.held_for_open and order.status == "PreSubmitted":
                self._release(order)
            elif order.status == "Submitted":
                self.check(order)

    def check(self, order: SimOrder) -> None:
        if order.status != "Submitted" or order.remaining <= 0 or self._closed():
            return
        now = self._market.now
        elapsed = (now - order.checked_at).total_seconds() if order.checked_at else 0.0
        order.checked_at = now
        quote = order_quote(self._market, order)
        if math.isnan(quote.natural):
            return
        if self._marketable(order, quote.natural):
            price = quote.natural
        elif order.order_type == "LMT" and self._fills_inside(order, quote, now, elapsed):
            assert order.lmt_price is not None
            price = order.lmt_price
        else:
            return
        legs = leg_prices_at(order, quote, price) if order.is_combo else []
        self._fill(order, self.fill_model.units(order.remaining), price, legs)

    def _fills_inside(
        self, order: SimOrder, quote: OrderQuote, now: dt.datetime, elapsed_s: float
    ) -> bool:
        assert order.lmt_price is not None and order.resting_since is not None
        limit_depth = depth(order.lmt_price, quote.mid, quote.natural, order.action == "BUY")
        rested_s = (now - order.resting_since).total_seconds()
        return self.fill_model.fills_inside(limit_depth, rested_s, elapsed_s)

    def _marketable(self, order: SimOrder, natural: float) -> bool:
        buying = order.action == "BUY"
        if order.order_type == "MKT":
            return True
        if order.order_type == "STP":
            if not order.stop_triggered:
                assert order.aux_price is not None
                order.stop_triggered = (
                    natural >= order.aux_price if buying else natural <= order.aux_price
                )
            return order.stop_triggered
        assert order.lmt_price is not None
        tolerance = 1e-9
        if buying:
            return order.lmt_price >= natural - tolerance
        return order.lmt_price <= natural + tolerance

    def _fill(self, order: SimOrder, qty: float, price: float, leg_prices: list[float]) -> None:
        now = self._market.now
        previous_value = order.avg_fill_price * order.filled
        order.filled += qty
        order.avg_fill_price = round((previous_value + price * qty) / order.filled, 6)
        order.last_fill_price = price
        order.status = "Filled" if order.remaining <= 0 else "Submitted"
        buying = order.action == "BUY"
        executions: list[Execution] = []
        for leg, leg_price in zip(order.legs, leg_prices, strict=True):
            leg_buys = (leg.action == "BUY") == buying
            shares = qty * leg.ratio
            executions.append(
                self._execution(order, leg.instrument, leg_buys, shares, leg_price, now)
            )
        summary = self._execution(order, order.instrument, buying, qty, price, now)
        summary.cum_qty, summary.avg_price = order.filled, order.avg_fill_price
        if order.is_combo:
            summary.is_combo_summary = True
            summary.commission = 0.0
        executions.append(summary)
        order.executions.extend(executions)
        self._listener.order_filled(order, executions)
        if order.status == "Filled":
            self._after_filled(order)

    def _execution(
        self,
        order: SimOrder,
        instrument: Instrument,
        buys: bool,
        shares: float,
        price: float,
        now: dt.datetime,
    ) -> Execution:
        exec_id = f"0000e0d5.{self._next_exec:08x}.01.01"
        self._next_exec += 1
        return Execution(
            exec_id=exec_id,
            time=now,
            instrument=instrument,
            side="BOT" if buys else "SLD",
            shares=shares,
            price=price,
            cum_qty=shares,
            avg_price=price,
            commission=commission_for(instrument, shares),
        )

    def _after_filled(self, order: SimOrder) -> None:
        for child in self._children(order):
            if child.status == "PreSubmitted" and child.transmit:
                self._release(child)
        if order.parent_id:
            # bracket children form one implicit OCA group
            parent = self.orders.get((order.client_id, order.parent_id))
            if parent is not None:
                for sibling in self._children(parent):
                    if sibling is not order and sibling.status not in DONE:
                        self._set_cancelled(sibling)
        if order.oca_group:
            for other in self.orders.values():
                if (
                    other is not order
                    and other.oca_group == order.oca_group
                    and other.account == order.account
                    and other.status not in DONE
                ):
                    self._set_cancelled(other)

    def open_orders(self, client_id: int | None = None) -> list[SimOrder]:
        return [
            o
            for o in self.orders.values()
            if o.status not in DONE and (client_id is None or o.client_id == client_id)
        ]

    def next_order_id(self, client_id: int) -> int:
        ids = [oid for (cid, oid) in self.orders if cid == client_id]
        return max(ids, default=0) + 1
