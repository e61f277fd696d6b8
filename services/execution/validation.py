"""Execution's last line of defence: an order to open is checked from first principles, whatever
the event that asks for it claims (pure; the contracts' facts come from the broker).

- size: units and leg ratios within ``orders.max_quantity`` / ``orders.max_leg_ratio``;
- contracts: every leg's ``con_id`` is the option the leg says it is (symbol, right, strike,
  expiry, multiplier), as the broker describes that contract;
- structure: the lifecycle's own checks (shape, duplicate legs, expired legs), and defined risk
  (no short leg without a protecting long) unless ``orders.allow_naked_shorts``;
- prices and risk: max profit and max loss are computed from the legs, never taken from the
  event; at the limit and at the worst price the trade must be able both to win and to lose (a
  credit no larger than the width, a debit no larger than the width); the worst price is not
  above the limit; the loss at the worst price is within ``orders.max_order_risk``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

import msgspec

from shared.config import OrdersConfig
from shared.domain.strategy import make_strategy, naked_short_problems, payoff, validate
from shared.enums import Right
from shared.events import MULTIPLIER, Leg, StrategyBuilt


class ContractFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the broker says a contract id is."""

    con_id: int
    symbol: str
    sec_type: str
    right: Right | None = None
    strike: float | None = None
    expiry: dt.date | None = None
    multiplier: int = 0


def _name(leg: Leg) -> str:
    return f"{leg.right.name} {leg.strike:g} {leg.expiry.isoformat()}"


def size_problems(ev: StrategyBuilt, limits: OrdersConfig) -> list[str]:
    problems: list[str] = []
    if ev.quantity > limits.max_quantity:
        problems.append(f"quantity {ev.quantity} above orders.max_quantity {limits.max_quantity}")
    for leg in ev.legs:
        if abs(leg.quantity) > limits.max_leg_ratio:
            problems.append(
                f"leg {_name(leg)} ratio {abs(leg.quantity)} above "
                f"orders.max_leg_ratio {limits.max_leg_ratio}"
            )
    return problems


def structure_problems(ev: StrategyBuilt, limits: OrdersConfig, today: dt.date) -> list[str]:
    """Everything that needs no broker: size, shape, defined risk, prices and risk."""
    problems = size_problems(ev, limits)
    strategy = make_strategy(
        strategy_id=ev.strategy_id,
        symbol=ev.symbol,
        strategy_type=ev.strategy_type,
        legs=ev.legs,
        quantity=ev.quantity,
        entry_price=ev.limit_price,
    )
    problems += validate(strategy, today)
    if not limits.allow_naked_shorts:
        problems += [p for p in naked_short_problems(ev.legs) if p not in problems]
    if problems:
        return problems
    if ev.worst_price > ev.limit_price + 1e-9:
        problems.append(
            f"worst price {ev.worst_price:g} is better than the limit {ev.limit_price:g}"
        )
    # ``validate`` priced the strategy at its limit; the walk may go down to the worst price
    figures = payoff(ev.legs, ev.worst_price)
    if not (figures.max_profit > 0 and figures.max_loss > 0):
        problems.append(
            f"worst price {ev.worst_price:g} leaves no risk or no reward: max profit "
            f"{figures.max_profit:g}, max loss {figures.max_loss:g} per share"
        )
    if problems:
        return problems
    risk = payoff(ev.legs, ev.worst_price).max_loss * MULTIPLIER * ev.quantity
    if not math.isfinite(risk) and not limits.allow_naked_shorts:
        problems.append("the loss is unbounded")
    elif math.isfinite(risk) and risk > limits.max_order_risk:
        problems.append(
            f"max loss {risk:,.2f} at the worst price above orders.max_order_risk "
            f"{limits.max_order_risk:,.2f}"
        )
    return problems


def contract_problems(
    symbol: str, legs: Sequence[Leg], facts: Mapping[int, ContractFacts]
) -> list[str]:
    """Every leg whose con_id is not the contract the leg says it is."""
    problems: list[str] = []
    for leg in legs:
        fact = facts.get(leg.con_id or 0)
        if fact is None:
            problems.append(f"leg {_name(leg)}: con_id {leg.con_id} is not a listed contract")
            continue
        claimed = ("OPT", symbol, leg.right, round(leg.strike, 4), leg.expiry, MULTIPLIER)
        actual = (
            fact.sec_type,
            fact.symbol,
            fact.right,
            round(fact.strike or 0.0, 4),
            fact.expiry,
            fact.multiplier,
        )
        if claimed != actual:
            what = (
                f"{fact.symbol} {fact.sec_type} {fact.right.name if fact.right else ''} "
                f"{fact.strike or 0:g} {fact.expiry or ''} x{fact.multiplier}"
            )
            problems.append(f"leg {symbol} {_name(leg)}: con_id {leg.con_id} is {what.strip()}")
    return problems
