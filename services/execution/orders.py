"""What to send to the broker, in the project's terms: combo prices, the limit walk, exits.

Price convention (decided once, used everywhere in this service):
- the project's net price is signed per unit, credit positive (``shared.events``);
- a multi-leg order is one BAG that we always BUY, each leg carrying its own action, with the
  IB limit ``-net``: a positive IB limit is a debit paid, a negative one a credit received
  (IB's own combo convention, which the simulator follows); a BAG execution's price converts
  back the same way;
- a single-leg order is a plain option order, BUY or SELL by the leg's sign, at the premium.

In signed net terms a worse price is always a *lower* one (less credit, more debit), so the
walk only ever lowers the limit and the worst acceptable price is a floor.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence

import msgspec

from shared.domain.strategy import order_ref
from shared.enums import OrderPurpose, OrderSide, StrategyType
from shared.events import Leg, Quote

COMBO_TICK = 0.01
# bracket orders' sequence numbers in their refs, far from the exits' own 0, 1, 2 ...
BRACKET_TP_SEQ = 900
BRACKET_SL_SEQ = 901


def bracket_refs(strategy_id: str) -> tuple[str, str]:
    """The order refs of a strategy's take-profit and stop-loss orders."""
    return (
        order_ref(strategy_id, OrderPurpose.EXIT, BRACKET_TP_SEQ),
        order_ref(strategy_id, OrderPurpose.EXIT, BRACKET_SL_SEQ),
    )


class OrderRole(enum.StrEnum):
    """What an order does for its strategy; set by the code that builds it, it picks the
    order's callbacks (``workflow.role_callbacks``) and is saved with it."""

    ENTRY = "entry"  # opens a built strategy
    BRACKET = "bracket"  # a standing take-profit or stop-loss exit placed after the entry
    CLOSE = "close"  # closes all of it (a decision, or the operator's close-all)
    REDUCE = "reduce"  # closes part of it
    ROLL_COMBO = "roll_combo"  # one BAG: the old legs reversed and the new ones, new id
    ROLL_CLOSE = "roll_close"  # a roll in two steps, first: close the old strategy, old id
    ROLL_OPEN = "roll_open"  # a roll in two steps, second: open the new strategy, new id


# the roles whose fills open the strategy the order is placed under
OPENING_ROLES = frozenset({OrderRole.ENTRY, OrderRole.ROLL_COMBO, OrderRole.ROLL_OPEN})
# the order purpose (the ref's and the events' word) of each closing role
CLOSING_PURPOSE = {
    OrderRole.CLOSE: OrderPurpose.EXIT,
    OrderRole.REDUCE: OrderPurpose.REDUCE,
    OrderRole.ROLL_CLOSE: OrderPurpose.ROLL,
}
# a roll's close under the old id counts from here: a strategy that itself came from a roll
# was opened by "roll" refs 0 (the combo) or 1 (the second step) under that same id
ROLL_CLOSE_SEQ = 100


def exit_ref(strategy_id: str, role: OrderRole, exit_seq: int) -> str:
    """The order ref of a strategy's ``exit_seq``-th exit of a closing ``role``."""
    seq = exit_seq + (ROLL_CLOSE_SEQ if role is OrderRole.ROLL_CLOSE else 0)
    return order_ref(strategy_id, CLOSING_PURPOSE[role], seq)


class OrderSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One order to place: the legs (signed per unit) of what is bought, units and limit."""

    strategy_id: str
    symbol: str
    order_ref: str
    purpose: OrderPurpose
    legs: tuple[Leg, ...]
    quantity: int
    limit_price: float  # signed net per unit, credit positive
    worst_price: float  # the walk never goes below this
    natural_price: float | None = None  # the walk's target; None: no walk
    oca_group: str | None = None
    strategy_type: StrategyType | None = None  # of the strategy an ENTRY or ROLL order opens
    rolled_from: str | None = None  # a roll's opening order (combo or second step): the old id
    closes: int = 0  # a roll combo: how many leading legs close the old strategy
    take_profit: float | None = None  # an entry's bracket: closing-combo prices, signed net
    stop_loss: float | None = None
    stop: bool = False  # a stop order triggered at ``limit_price`` (a bracket's stop loss)
    # None only in holdings saved before roles existed (``tables.holding_from_row`` fills it)
    role: OrderRole | None = None

    @property
    def combo(self) -> bool:
        return len(self.legs) > 1

    @property
    def opened_legs(self) -> tuple[Leg, ...]:
        """The legs of the strategy the order opens (a roll combo's new legs); else all."""
        return self.legs[self.closes :]

    def opens(self, strategy_id: str) -> bool:
        """Whether this is the order opening ``strategy_id`` (its entry, or a roll into it)."""
        return self.strategy_id == strategy_id and self.role in OPENING_ROLES


def round_tick(price: float, tick: float = COMBO_TICK) -> float:
    return round(round(price / tick) * tick, 10)


def ib_order_terms(legs: Sequence[Leg], net_price: float) -> tuple[OrderSide, float]:
    """(action, IB limit) for an order of ``legs`` at the signed ``net_price`` per unit."""
    if len(legs) > 1:
        return OrderSide.BUY, round_tick(-net_price)
    (leg,) = legs
    side = OrderSide.BUY if leg.quantity > 0 else OrderSide.SELL
    return side, round_tick(abs(net_price / leg.quantity))


def net_from_ib(legs: Sequence[Leg], side: OrderSide, ib_price: float) -> float:
    """The signed net price per unit of an execution reported by IB for ``legs``."""
    if len(legs) > 1:
        return -ib_price if side is OrderSide.BUY else ib_price
    (leg,) = legs
    return -ib_price * abs(leg.quantity) if side is OrderSide.BUY else ib_price * abs(leg.quantity)


def closing_legs(legs: Sequence[Leg]) -> tuple[Leg, ...]:
    """The legs that close ``legs``: every quantity negated."""
    return tuple(msgspec.structs.replace(leg, quantity=-leg.quantity, price=None) for leg in legs)


def _quote_of(leg: Leg, quotes: Mapping[int, Quote]) -> Quote | None:
    return quotes.get(leg.con_id) if leg.con_id is not None else None


def _sides(quote: Quote) -> tuple[float, float] | None:
    bid, ask = quote.bid, quote.ask
    if bid is not None and ask is not None and 0 <= bid <= ask and ask > 0:
        return bid, ask
    if quote.model_price is not None and quote.model_price > 0:
        return quote.model_price, quote.model_price
    return None


def net_prices(legs: Sequence[Leg], quotes: Mapping[int, Quote]) -> tuple[float, float] | None:
    """(mid, natural) signed net per unit of trading ``legs`` now, or None without quotes.

    Natural is what crossing the spread gets: pay the ask of what we buy, get the bid of what
    we sell.
    """
    mid = natural = 0.0
    for leg in legs:
        quote = _quote_of(leg, quotes)
        sides = _sides(quote) if quote else None
        if sides is None:
            return None
        bid, ask = sides
        mid -= leg.quantity * (bid + ask) / 2
        natural -= leg.quantity * (ask if leg.quantity > 0 else bid)
    return round_tick(mid), round_tick(natural)


def walk_limits(
    start: float,
    natural: float,
    worst: float,
    step_fraction: float,
    max_steps: int,
    reach: float = 1.0,
) -> list[float]:
    """The limits after each walk step, from ``start`` toward ``natural``, floored at ``worst``.

    ``reach`` is how much of the distance to natural the walk may cover (1 = all of it). An
    order already at or better than natural needs no walk.
    """
    if natural >= start or max_steps <= 0:
        return []
    target = start + (natural - start) * reach
    limits: list[float] = []
    for k in range(1, max_steps + 1):
        price = start + (target - start) * min(1.0, k * step_fraction)
        price = max(round_tick(price), worst)
        if limits and math.isclose(price, limits[-1]):
            break  # floored or at the target: further steps would repeat the same price
        if not math.isclose(price, start):
            limits.append(price)
    return limits


def reduce_units(quantity: int, ratio: float) -> int:
    """Whole units to close for a REDUCE of ``ratio``; 0 when no whole unit fits."""
    if not 0 < ratio <= 1:
        raise ValueError(f"close_ratio must be in (0, 1], got {ratio}")
    return min(quantity, math.floor(quantity * ratio + 1e-9))
