"""Strategy domain model: legs, lifecycle, validation, payoff, Greeks aggregation, order refs.

Units (the same as ``shared.events``):
- prices are per share; ``entry_price`` is the signed net price per unit (credit positive,
  debit negative);
- ``max_profit`` and ``max_loss`` are **currency for the whole position** (x 100 x quantity), both
  positive amounts; ``math.inf`` when unbounded. ``max_profit_per_unit``/``max_loss_per_unit``
  give the same per unit (one combo);
- ``take_profit`` and ``stop_loss`` are signed net prices per unit of the *closing* combo (the
  limit price a bracket would use): a condor sold for +1.50 has take-profit -0.75 (pay 0.75 to
  close) and, at 2x the credit lost, stop-loss -4.50. The P&L per unit of closing at price ``c``
  is ``(entry_price + c) x 100``;
- breakevens are underlying prices at expiry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Protocol

import msgspec
import numpy as np

from shared.enums import OrderPurpose, Right, StrategyStatus, StrategyType
from shared.errors import Invalid
from shared.events import MULTIPLIER, Leg, StrategyBuilt

if TYPE_CHECKING:
    from shared.domain.chain import OptionChain

OptionLeg = Leg


class InvalidTransition(Invalid, ValueError):
    """A lifecycle change the transition table does not allow (a message asking for it can
    never be handled: dead-lettered with the reason)."""


# The lifecycle (style.md: a transition table with a short reason on unusual rows).
TRANSITIONS: dict[tuple[StrategyStatus, StrategyStatus], str] = {
    (StrategyStatus.PENDING, StrategyStatus.OPEN): "entry filled (fully or partially)",
    (StrategyStatus.PENDING, StrategyStatus.FAILED): "entry rejected, denied or unfilled",
    (StrategyStatus.OPEN, StrategyStatus.CLOSING): "exit order working",
    (StrategyStatus.CLOSING, StrategyStatus.CLOSED): "exit filled",
    (StrategyStatus.CLOSING, StrategyStatus.OPEN): "exit failed: the position is still held",
    (StrategyStatus.OPEN, StrategyStatus.CLOSED): "expired, or closed outside v6 (reconciliation)",
}


class Strategy(msgspec.Struct, frozen=True, kw_only=True):
    """A concrete multi-leg option strategy and where it is in its lifecycle."""

    strategy_id: str
    symbol: str
    strategy_type: StrategyType
    legs: tuple[Leg, ...]
    quantity: int
    entry_price: float
    max_profit: float
    max_loss: float
    breakevens: tuple[float, ...] = ()
    take_profit: float | None = None
    stop_loss: float | None = None
    worst_price: float | None = None
    status: StrategyStatus = StrategyStatus.PENDING
    created_at: dt.datetime | None = None
    opened_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    status_reason: str = ""
    signal_id: str | None = None
    rolled_from: str | None = None

    @property
    def is_credit(self) -> bool:
        return self.entry_price > 0

    @property
    def max_profit_per_unit(self) -> float:
        return self.max_profit / self.quantity

    @property
    def max_loss_per_unit(self) -> float:
        return self.max_loss / self.quantity

    @property
    def expiry(self) -> dt.date:
        """The nearest expiry among the legs."""
        return min(leg.expiry for leg in self.legs)

    def dte(self, today: dt.date) -> int:
        return (self.expiry - today).days

    def pnl_per_unit_at_close(self, close_price: float) -> float:
        """Currency P&L of one unit closed at the signed net price ``close_price``."""
        return (self.entry_price + close_price) * MULTIPLIER


def check_move(strategy_id: str, current: StrategyStatus, to: StrategyStatus) -> None:
    """Raise InvalidTransition unless the table allows ``current -> to``."""
    if (current, to) not in TRANSITIONS:
        raise InvalidTransition(f"strategy {strategy_id}: {current} -> {to} is not allowed")


def move_stamps(
    opened_at: dt.datetime | None, to: StrategyStatus, at: dt.datetime
) -> dict[str, dt.datetime]:
    """The time stamps a move to ``to`` at ``at`` sets: opened once, closed on an end."""
    stamps: dict[str, dt.datetime] = {}
    if to is StrategyStatus.OPEN and opened_at is None:
        stamps["opened_at"] = at
    if to in (StrategyStatus.CLOSED, StrategyStatus.FAILED):
        stamps["closed_at"] = at
    return stamps


def transition(
    strategy: Strategy, to: StrategyStatus, at: dt.datetime, reason: str = ""
) -> Strategy:
    """The strategy in status ``to``; raises InvalidTransition if the table does not allow it."""
    check_move(strategy.strategy_id, strategy.status, to)
    stamps = move_stamps(strategy.opened_at, to, at)
    return msgspec.structs.replace(strategy, status=to, status_reason=reason, **stamps)


# --- ids ---------------------------------------------------------------------------------------


def derive_id(*parts: str) -> str:
    """A 32-hex id that is a pure function of its parts (the same on every replay/restart)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def order_ref(strategy_id: str, purpose: OrderPurpose | str, seq: int = 0) -> str:
    """The IB ``orderRef`` of a strategy's order: pure, so a redelivery finds the same order."""
    return f"v6:{strategy_id}:{OrderPurpose(purpose).value}:{seq}"


# --- payoff ------------------------------------------------------------------------------------


_DIGITS = 6


class Payoff(msgspec.Struct, frozen=True):
    """Expiry payoff figures per unit, per share (multiply by 100 for currency)."""

    max_profit: float
    max_loss: float
    breakevens: tuple[float, ...]


def _pnl_at(legs: Sequence[Leg], net_price: float, s: np.ndarray) -> np.ndarray:
    pnl = np.full_like(s, net_price, dtype=np.float64)
    for leg in legs:
        sign = 1.0 if leg.right is Right.CALL else -1.0
        pnl += leg.quantity * np.maximum(sign * (s - leg.strike), 0.0)
    return pnl


def payoff(legs: Sequence[Leg], net_price: float) -> Payoff:
    """Max profit, max loss (positive amounts, ``inf`` if unbounded) and breakevens at expiry.

    The expiry payoff is piecewise linear with kinks at the strikes, so its extremes lie at
    S = 0, at a strike, or at S -> inf (unbounded when the slope there is not zero). Legs of a
    later expiry are valued at intrinsic, which is exact only for single-expiry strategies.
    """
    strikes = sorted({leg.strike for leg in legs})
    points = np.array([0.0, *strikes], dtype=np.float64)
    pnl = _pnl_at(legs, net_price, points)
    slope_up = sum(leg.quantity for leg in legs if leg.right is Right.CALL)
    hi, lo = float(pnl.max()), float(pnl.min())
    max_profit = math.inf if slope_up > 0 else hi
    max_loss = math.inf if slope_up < 0 else -lo
    breakevens: list[float] = []
    for (s0, p0), (s1, p1) in pairwise(zip(points.tolist(), pnl.tolist(), strict=True)):
        if p0 == 0.0:
            breakevens.append(s0)
        elif p0 * p1 < 0:
            breakevens.append(s0 + (s1 - s0) * p0 / (p0 - p1))
    last_s, last_p = float(points[-1]), float(pnl[-1])
    if last_p == 0.0:
        breakevens.append(last_s)
    elif slope_up != 0 and last_p * slope_up < 0:
        breakevens.append(last_s - last_p / slope_up)
    # rounding drops binary noise (3.6100000000000136) that would leak into currency figures
    return Payoff(
        max_profit=round(max_profit, _DIGITS),
        max_loss=round(max(max_loss, 0.0), _DIGITS),
        breakevens=tuple(round(b, _DIGITS) for b in breakevens),
    )


# --- Greeks ------------------------------------------------------------------------------------


class LegGreeks(Protocol):
    """Anything with a signed per-unit quantity and per-share Greeks (e.g. LegSnapshot)."""

    quantity: int
    delta: float
    gamma: float
    theta: float
    vega: float


class PositionGreeks(msgspec.Struct, frozen=True):
    """Position totals in share equivalents: option Greek x quantity x 100 x units.

    delta in shares, gamma in shares per 1.00 move, theta in currency per calendar day, vega in
    currency per vol point.
    """

    delta: float
    gamma: float
    theta: float
    vega: float

    def per_unit(self, quantity: int) -> PositionGreeks:
        return PositionGreeks(
            self.delta / quantity,
            self.gamma / quantity,
            self.theta / quantity,
            self.vega / quantity,
        )


def position_greeks(legs: Iterable[LegGreeks], quantity: int) -> PositionGreeks:
    scale = MULTIPLIER * quantity
    delta = gamma = theta = vega = 0.0
    for leg in legs:
        delta += leg.quantity * leg.delta
        gamma += leg.quantity * leg.gamma
        theta += leg.quantity * leg.theta
        vega += leg.quantity * leg.vega
    return PositionGreeks(delta * scale, gamma * scale, theta * scale, vega * scale)


# --- validation --------------------------------------------------------------------------------

# (right, +1 long / -1 short) per leg, in ascending strike order within each right; puts first.
_SHAPES: dict[StrategyType, tuple[tuple[Right, int], ...]] = {
    StrategyType.IRON_CONDOR: ((Right.PUT, 1), (Right.PUT, -1), (Right.CALL, -1), (Right.CALL, 1)),
    StrategyType.PUT_CREDIT_SPREAD: ((Right.PUT, 1), (Right.PUT, -1)),
    StrategyType.CALL_CREDIT_SPREAD: ((Right.CALL, -1), (Right.CALL, 1)),
    StrategyType.CALL_DEBIT_SPREAD: ((Right.CALL, 1), (Right.CALL, -1)),
    StrategyType.PUT_DEBIT_SPREAD: ((Right.PUT, -1), (Right.PUT, 1)),
    StrategyType.SHORT_STRANGLE: ((Right.PUT, -1), (Right.CALL, -1)),
    StrategyType.LONG_STRADDLE: ((Right.PUT, 1), (Right.CALL, 1)),
    StrategyType.LONG_CALL: ((Right.CALL, 1),),
    StrategyType.LONG_PUT: ((Right.PUT, 1),),
}

# Types whose risk is not defined by a protecting long leg (allowed only where configured).
UNDEFINED_RISK_TYPES = frozenset({StrategyType.SHORT_STRANGLE})


def _leg_key(leg: Leg) -> tuple[int, float]:
    return (0 if leg.right is Right.PUT else 1, leg.strike)


def _shape_problems(strategy: Strategy) -> list[str]:
    shape = _SHAPES.get(strategy.strategy_type)
    if shape is None:
        return []
    legs = sorted(strategy.legs, key=_leg_key)
    actual = tuple((leg.right, 1 if leg.quantity > 0 else -1) for leg in legs)
    if actual != shape:
        want = ", ".join(f"{'long' if s > 0 else 'short'} {r.name}" for r, s in shape)
        return [f"{strategy.strategy_type} needs legs [{want}] in strike order"]
    problems: list[str] = []
    if len({abs(leg.quantity) for leg in legs}) > 1:
        problems.append("legs must have equal ratios")
    if len({leg.expiry for leg in legs}) > 1:
        problems.append(f"{strategy.strategy_type} needs one expiry")
    strikes = [leg.strike for leg in legs]
    if strategy.strategy_type is StrategyType.LONG_STRADDLE:
        if strikes[0] != strikes[1]:
            problems.append("a straddle's put and call need one strike")
    elif any(a >= b for a, b in pairwise(strikes)):
        order = (
            "LP < SP < SC < LC"
            if strategy.strategy_type is StrategyType.IRON_CONDOR
            else "strikes strictly increasing (widths positive)"
        )
        problems.append(f"strike order violated: need {order}, got {strikes}")
    return problems


def naked_short_problems(legs: Sequence[Leg]) -> list[str]:
    """Short contracts not covered by long contracts of the same right expiring no earlier.

    For each right and each short expiry e, the shorts expiring at or after e must not exceed the
    longs expiring at or after e (Hall's condition for covering with later-dated longs).
    """
    problems: list[str] = []
    for right in Right:
        of_right = [leg for leg in legs if leg.right is right]
        for expiry in sorted({leg.expiry for leg in of_right if leg.quantity < 0}):
            shorts = -sum(
                leg.quantity for leg in of_right if leg.quantity < 0 and leg.expiry >= expiry
            )
            longs = sum(
                leg.quantity for leg in of_right if leg.quantity > 0 and leg.expiry >= expiry
            )
            if shorts > longs:
                problems.append(
                    f"naked short {right.name}: {shorts} short vs {longs} protecting long "
                    f"from {expiry.isoformat()}"
                )
    return problems


def validate(strategy: Strategy, today: dt.date, chain: OptionChain | None = None) -> list[str]:
    """Every problem that forbids sending this strategy (empty when it may be sent).

    Works on hand-built strategies too. With ``chain``, every leg must also be listed in it.
    """
    problems: list[str] = []
    if strategy.quantity < 1:
        problems.append(f"quantity must be at least 1, got {strategy.quantity}")
    if not strategy.legs:
        return [*problems, "a strategy needs at least one leg"]
    seen: set[tuple[Right, float, dt.date]] = set()
    for leg in strategy.legs:
        key = (leg.right, leg.strike, leg.expiry)
        name = f"{leg.right.name} {leg.strike:g} {leg.expiry.isoformat()}"
        if key in seen:
            problems.append(f"duplicate leg {name}")
        seen.add(key)
        if not (math.isfinite(leg.strike) and leg.strike > 0):
            problems.append(f"strike must be positive, got {leg.strike}")
        if leg.quantity == 0:
            problems.append(f"leg {name} has zero quantity")
        if leg.expiry <= today:
            problems.append(f"leg {name} expires on or before {today.isoformat()}")
        if chain is not None and not chain.is_listed(leg.expiry, leg.right, leg.strike):
            problems.append(f"leg {name} is not listed in the chain")
    problems += _shape_problems(strategy)
    if strategy.strategy_type not in UNDEFINED_RISK_TYPES:
        problems += naked_short_problems(strategy.legs)
    if not math.isfinite(strategy.entry_price):
        problems.append(f"entry price must be finite, got {strategy.entry_price}")
    elif not problems and not (strategy.max_loss > 0 and strategy.max_profit > 0):
        problems.append(
            f"net price {strategy.entry_price} leaves no risk or no reward "
            f"(max profit {strategy.max_profit}, max loss {strategy.max_loss})"
        )
    return problems


# --- construction and conversion ----------------------------------------------------------------


def make_strategy(
    *,
    strategy_id: str,
    symbol: str,
    strategy_type: StrategyType,
    legs: Sequence[Leg],
    quantity: int,
    entry_price: float,
    take_profit: float | None = None,
    stop_loss: float | None = None,
    worst_price: float | None = None,
    created_at: dt.datetime | None = None,
    signal_id: str | None = None,
    rolled_from: str | None = None,
) -> Strategy:
    """A pending strategy whose max profit/loss and breakevens come from its legs and price."""
    figures = payoff(legs, entry_price)
    scale = MULTIPLIER * quantity
    return Strategy(
        strategy_id=strategy_id,
        symbol=symbol,
        strategy_type=strategy_type,
        legs=tuple(sorted(legs, key=_leg_key)),
        quantity=quantity,
        entry_price=entry_price,
        max_profit=round(figures.max_profit * scale, 2),
        max_loss=round(figures.max_loss * scale, 2),
        breakevens=figures.breakevens,
        take_profit=take_profit,
        stop_loss=stop_loss,
        worst_price=worst_price,
        created_at=created_at,
        signal_id=signal_id,
        rolled_from=rolled_from,
    )


def to_built_event(
    strategy: Strategy,
    *,
    market_time: dt.datetime | None = None,
    producer: str = "entry",
    purpose: OrderPurpose = OrderPurpose.ENTRY,
    oca_group: str | None = None,
    bracket: bool = False,
) -> StrategyBuilt:
    """The event asking execution to open ``strategy`` at its entry price (as the limit)."""
    return StrategyBuilt(
        correlation_id=strategy.signal_id or strategy.strategy_id,
        producer=producer,
        market_time=market_time or strategy.created_at,
        strategy_id=strategy.strategy_id,
        symbol=strategy.symbol,
        strategy_type=strategy.strategy_type,
        legs=list(strategy.legs),
        quantity=strategy.quantity,
        limit_price=strategy.entry_price,
        worst_price=(
            strategy.worst_price if strategy.worst_price is not None else strategy.entry_price
        ),
        max_profit=strategy.max_profit,
        max_loss=strategy.max_loss,
        take_profit=strategy.take_profit,
        stop_loss=strategy.stop_loss,
        signal_id=strategy.signal_id,
        purpose=purpose,
        rolled_from=strategy.rolled_from,
        oca_group=oca_group,
        bracket=bracket,
    )


def from_built_event(ev: StrategyBuilt) -> Strategy:
    """The pending strategy an event describes; breakevens are recomputed from legs and limit."""
    return Strategy(
        strategy_id=ev.strategy_id,
        symbol=ev.symbol,
        strategy_type=ev.strategy_type,
        legs=tuple(sorted(ev.legs, key=_leg_key)),
        quantity=ev.quantity,
        entry_price=ev.limit_price,
        max_profit=ev.max_profit,
        max_loss=ev.max_loss,
        breakevens=payoff(ev.legs, ev.limit_price).breakevens,
        take_profit=ev.take_profit,
        stop_loss=ev.stop_loss,
        worst_price=ev.worst_price,
        created_at=ev.market_time,
        signal_id=ev.signal_id,
        rolled_from=ev.rolled_from,
    )
