"""What a fill does to a strategy: the one position fold every service applies (pure, no I/O).

Execution (its holdings), the monitor (its positions) and entry (its strategy records) each keep
their own record of a strategy, but how an execution changes it is decided here, once:

- whether a fill *opens* the strategy it is booked under (``fill_opens``): an entry, or the
  opening order of a roll — the order that carries ``rolled_from``. The closing order of a roll in
  two steps is booked under the old strategy with no ``rolled_from``: it closes, whatever the old
  strategy's own history (a strategy that came from a roll is closed like any other);
- the price of a strategy's own legs within a fill (``own_net_price``): a roll combo trades the
  old legs and the new legs in one order, and its combo price mixes both;
- the average entry price over opening fills, the realized P&L of closing ones, and the status
  moves they make, every one checked against ``shared.domain.strategy.TRANSITIONS``.

Units: prices are signed net per unit, credit positive; P&L is currency (x ``MULTIPLIER``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import msgspec

from shared.domain.strategy import check_move, move_stamps
from shared.enums import OrderPurpose, OrderSide, Right, StrategyStatus
from shared.events import MULTIPLIER, Leg, LegFill


def fill_opens(purpose: OrderPurpose, rolled_from: str | None) -> bool:
    """Whether a fill of an order with ``purpose`` opens the strategy it is booked under."""
    return purpose is OrderPurpose.ENTRY or (
        purpose is OrderPurpose.ROLL and rolled_from is not None
    )


def _key(leg: Leg | LegFill) -> tuple[Right, float, dt.date]:
    return (leg.right, round(float(leg.strike), 4), leg.expiry)


def own_net_price(legs: Sequence[Leg], fills: Sequence[LegFill]) -> float | None:
    """The signed net price per unit of ``legs`` alone, from a fill's per-leg prices.

    None when one of ``legs`` has no leg fill (then the combo price is all there is).
    """
    by_key = {_key(fill): fill for fill in fills}
    total = 0.0
    for leg in legs:
        fill = by_key.get(_key(leg))
        if fill is None:
            return None
        sign = 1.0 if fill.side is OrderSide.SELL else -1.0
        total += sign * fill.price * abs(leg.quantity)
    return total


def price_within(legs: Sequence[Leg], fills: Sequence[LegFill], fill_price: float) -> float:
    """The signed net per unit of ``legs`` within a fill priced ``fill_price`` per unit.

    A fill of just these legs is worth its own price; a fill of more (a roll combo, which mixes
    the other strategy's legs in) is worth the per-leg prices of these legs.
    """
    if len(fills) <= len(legs):
        return fill_price
    own = own_net_price(legs, fills)
    return fill_price if own is None else own


def realized_pnl(entry_price: float, close_price: float, units: int) -> float:
    """Currency P&L of closing ``units`` opened at ``entry_price`` at ``close_price`` (signed)."""
    return (entry_price + close_price) * MULTIPLIER * units


def average_price(price: float, units: int, new_price: float, new_units: int) -> float:
    """The average signed price per unit after adding ``new_units`` at ``new_price``."""
    total = units + new_units
    return (price * units + new_price * new_units) / total if total else new_price


class PositionState(msgspec.Struct, frozen=True, kw_only=True):
    """What the fills say about one strategy: units held, their price, realized P&L, status."""

    strategy_id: str
    status: StrategyStatus = StrategyStatus.PENDING
    quantity: int = 0
    entry_price: float = 0.0  # average signed net per unit over the opening fills
    realized_pnl: float = 0.0
    opened_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None


class FillApplied(msgspec.Struct, frozen=True):
    """The state after one fill, the units it moved and the P&L it realized (closing only)."""

    state: PositionState
    units: int
    pnl: float = 0.0


def move(state: PositionState, to: StrategyStatus, at: dt.datetime) -> PositionState:
    """``state`` in status ``to`` (stamped); raises ``InvalidTransition`` if not allowed."""
    if state.status is to:
        return state
    check_move(state.strategy_id, state.status, to)
    return msgspec.structs.replace(state, status=to, **move_stamps(state.opened_at, to, at))


def apply_open(state: PositionState, units: int, price: float, at: dt.datetime) -> FillApplied:
    """An opening fill of ``units`` at ``price``: averaged in; a pending strategy opens.

    A closing strategy (an exit working) stays closing: its units grow all the same. A failed or
    closed strategy cannot open again: ``InvalidTransition``.
    """
    to = StrategyStatus.CLOSING if state.status is StrategyStatus.CLOSING else StrategyStatus.OPEN
    moved = move(state, to, at)
    return FillApplied(
        msgspec.structs.replace(
            moved,
            quantity=state.quantity + units,
            entry_price=average_price(state.entry_price, state.quantity, price, units),
        ),
        units,
    )


def apply_close(state: PositionState, units: int, price: float, at: dt.datetime) -> FillApplied:
    """A closing fill of ``units`` (at most what is held) at ``price``; closed when none left."""
    closed = min(units, state.quantity)
    pnl = realized_pnl(state.entry_price, price, closed)
    left = state.quantity - closed
    after = msgspec.structs.replace(state, quantity=left, realized_pnl=state.realized_pnl + pnl)
    if left == 0 and state.status in (StrategyStatus.OPEN, StrategyStatus.CLOSING):
        after = move(after, StrategyStatus.CLOSED, at)
    return FillApplied(after, closed, pnl)


def apply_fill(
    state: PositionState,
    purpose: OrderPurpose,
    rolled_from: str | None,
    units: int,
    price: float,
    at: dt.datetime,
) -> FillApplied:
    """One fill of an order (``purpose``, the order's ``rolled_from``) booked under ``state``."""
    if fill_opens(purpose, rolled_from):
        return apply_open(state, units, price, at)
    return apply_close(state, units, price, at)
