"""Pairing a combo's leg executions with the BAG execution they make up (pure).

IB reports a BAG fill as one execution per leg plus one for the BAG, in no promised order, and
replays all of them after a reconnect. A BAG execution of ``n`` units is complete once every leg
has ``ratio x n`` more shares executed; legs are consumed first in, first out, so live and
replayed executions pair the same way.

Not every gateway sends the BAG execution: when the order status reports more filled than the
BAG executions account for, ``from_legs`` makes the fills from the whole units the legs hold.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque

import msgspec

from shared.enums import OrderSide


class Execution(msgspec.Struct, frozen=True, kw_only=True):
    exec_id: str
    con_id: int
    is_bag: bool
    side: OrderSide
    shares: float
    price: float  # IB's price: per share for a leg, IB's combo price for the BAG
    time: dt.datetime | None = None
    order_ref: str = ""


class LegExecution(msgspec.Struct, frozen=True, kw_only=True):
    con_id: int
    side: OrderSide
    shares: float
    price: float  # average over the executions consumed


class ComboExecution(msgspec.Struct, frozen=True, kw_only=True):
    """One complete fill of ``units`` of an order; ``exec_ids`` name every execution in it."""

    key_exec_id: str  # the BAG execution (or the single leg's), the fill's identity
    units: float
    side: OrderSide
    price: float  # IB's price of the whole (combo price, or the single leg's premium)
    legs: tuple[LegExecution, ...]
    exec_ids: tuple[str, ...]
    time: dt.datetime | None = None


class _Open:
    __slots__ = ("exec_id", "price", "remaining", "shares", "side")

    def __init__(self, ex: Execution) -> None:
        self.exec_id = ex.exec_id
        self.side = ex.side
        self.price = ex.price
        self.shares = ex.shares
        self.remaining = ex.shares


class FillMatcher:
    """Pairs the executions of one order; ``ratios`` is |leg quantity| per unit by con_id."""

    def __init__(self, ratios: dict[int, int]) -> None:
        self.ratios = ratios
        self.combo = len(ratios) > 1
        self._seen: set[str] = set()
        self._bags: deque[Execution] = deque()
        self._legs: dict[int, deque[_Open]] = {con_id: deque() for con_id in ratios}

    def add(self, ex: Execution) -> list[ComboExecution]:
        """Take one execution (duplicates ignored); return the fills it completed, in order."""
        if ex.exec_id in self._seen:
            return []
        self._seen.add(ex.exec_id)
        if not self.combo:
            leg = LegExecution(con_id=ex.con_id, side=ex.side, shares=ex.shares, price=ex.price)
            return [self._whole(ex, (leg,), (ex.exec_id,))]
        if ex.is_bag:
            self._bags.append(ex)
        elif ex.con_id in self._legs:
            self._legs[ex.con_id].append(_Open(ex))
        out: list[ComboExecution] = []
        while self._bags and self._complete(self._bags[0]):
            out.append(self._take(self._bags.popleft()))
        return out

    def from_legs(self) -> list[ComboExecution]:
        """The whole units the pending leg executions make up, without a BAG execution.

        The fill's identity is its first leg execution; its price is the legs' in the BAG's
        BUY terms (what buying the legs cost per unit, a credit negative), as IB reports a BAG.
        """
        if not self.combo:
            return []
        units = min(
            math.floor(sum(o.remaining for o in self._legs[con_id]) / ratio + 1e-9)
            for con_id, ratio in self.ratios.items()
        )
        if units <= 0:
            return []
        first = min((self._legs[con_id][0] for con_id in self.ratios), key=lambda o: o.exec_id)
        # the same execution may start two such fills: where in it this one starts tells them apart
        key = f"{first.exec_id}@{first.shares - first.remaining:g}"
        bag = Execution(
            exec_id=key, con_id=0, is_bag=True, side=OrderSide.BUY, shares=units, price=0
        )
        combo = self._take(bag)
        price = sum(
            (leg.shares if leg.side is OrderSide.BUY else -leg.shares) * leg.price / units
            for leg in combo.legs
        )
        return [msgspec.structs.replace(combo, price=round(price, 10), exec_ids=combo.exec_ids[1:])]

    def _whole(
        self, ex: Execution, legs: tuple[LegExecution, ...], ids: tuple[str, ...]
    ) -> ComboExecution:
        return ComboExecution(
            key_exec_id=ex.exec_id,
            units=ex.shares,
            side=ex.side,
            price=ex.price,
            legs=legs,
            exec_ids=ids,
            time=ex.time,
        )

    def _complete(self, bag: Execution) -> bool:
        return all(
            sum(o.remaining for o in self._legs[con_id]) >= ratio * bag.shares - 1e-9
            for con_id, ratio in self.ratios.items()
        )

    def _take(self, bag: Execution) -> ComboExecution:
        legs: list[LegExecution] = []
        ids: list[str] = [bag.exec_id]
        for con_id, ratio in self.ratios.items():
            need = ratio * bag.shares
            value = 0.0
            queue = self._legs[con_id]
            side = queue[0].side
            while need > 1e-9:
                head = queue[0]
                used = min(head.remaining, need)
                value += used * head.price
                head.remaining -= used
                need -= used
                ids.append(head.exec_id)
                if head.remaining <= 1e-9:
                    queue.popleft()
            shares = ratio * bag.shares
            legs.append(LegExecution(con_id=con_id, side=side, shares=shares, price=value / shares))
        return self._whole(bag, tuple(legs), tuple(dict.fromkeys(ids)))
