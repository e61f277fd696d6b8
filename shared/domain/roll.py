"""Roll construction: close an open strategy and open the same structure further out.

The replacement is built by the same ``StrategyBuilder`` leg selection (same target deltas and
width, so strikes re-centre on today's underlying) at the roll's target DTE, with the old quantity.
Prices are per unit, per share, signed: credit positive, debit negative.

The chain must hold quotes for the current legs as well as for the new expiry: the cost to close
is priced from it.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from shared.config import DteRollRule
from shared.domain.builders import BuildRejected, StrategyBuilder
from shared.domain.chain import OptionChain
from shared.domain.strategy import Strategy, derive_id
from shared.enums import StrategyStatus, StrategyType
from shared.events import Leg

# Structures a builder can re-create; custom and single legs have no target deltas to re-centre.
ROLLABLE_TYPES = frozenset(
    {
        StrategyType.IRON_CONDOR,
        StrategyType.PUT_CREDIT_SPREAD,
        StrategyType.CALL_CREDIT_SPREAD,
        StrategyType.CALL_DEBIT_SPREAD,
        StrategyType.PUT_DEBIT_SPREAD,
        StrategyType.SHORT_STRANGLE,
        StrategyType.LONG_STRADDLE,
    }
)


class RollDeclined(msgspec.Struct, frozen=True, kw_only=True):
    strategy_id: str
    reason: str
    detail: str = ""


class RollPlan(msgspec.Struct, frozen=True, kw_only=True):
    """A roll: close ``old`` at ``close_price`` and open ``new`` at its entry price.

    ``net_price`` = close + open at the mids, the roll's credit (positive) or debit per unit;
    ``worst_price`` is the same at the natural prices, the limit an order walk may not pass.
    """

    old: Strategy
    new: Strategy
    close_price: float
    net_price: float
    worst_price: float

    @property
    def legs(self) -> tuple[Leg, ...]:
        """The legs of a single roll combo: every old leg reversed, then the new legs."""
        closing = tuple(
            msgspec.structs.replace(leg, quantity=-leg.quantity, price=None)
            for leg in self.old.legs
        )
        return closing + self.new.legs


def roll_blocker(strategy_type: StrategyType, dte: int, time_exit_dte: int = 1) -> str | None:
    """Why a strategy cannot be rolled at all (None when a roll may be tried).

    ``build_roll`` checks this first; the reason of a declined roll comes back to the decision
    engine as the strategy's ``roll_blocked_reason``, so a position that cannot roll still
    reaches the gamma and time-exit rules; expiry wins over roll at ``time_exit_dte``.
    """
    if strategy_type not in ROLLABLE_TYPES:
        return f"{strategy_type} has no structure to re-create"
    if dte <= time_exit_dte:
        return f"DTE {dte} is at or below the time exit ({time_exit_dte}): close instead"
    return None


def can_roll(strategy_type: StrategyType, dte: int, time_exit_dte: int = 1) -> bool:
    return roll_blocker(strategy_type, dte, time_exit_dte) is None


def build_roll(
    strategy: Strategy,
    chain: OptionChain,
    builder: StrategyBuilder,
    rule: DteRollRule,
    *,
    today: dt.date,
    now: dt.datetime | None = None,
    time_exit_dte: int = 1,
    target_dte: int | None = None,
    new_strategy_id: str | None = None,
) -> RollPlan | RollDeclined:
    """The roll of an open ``strategy`` to ``target_dte`` (default ``rule.target_dte``), or why not.

    The replacement's id defaults to a pure function of the old id and ``today``, so a redelivered
    roll decision rebuilds the same strategy id.
    """

    def decline(reason: str, detail: str = "") -> RollDeclined:
        return RollDeclined(strategy_id=strategy.strategy_id, reason=reason, detail=detail)

    if strategy.status is not StrategyStatus.OPEN:
        return decline(f"strategy is {strategy.status}, not open")
    blocker = roll_blocker(strategy.strategy_type, strategy.dte(today), time_exit_dte)
    if blocker is not None:
        return decline(blocker)
    closing = chain.combo(
        [msgspec.structs.replace(leg, quantity=-leg.quantity) for leg in strategy.legs]
    )
    if closing is None:
        return decline("no two-sided market for the current legs")
    legs = builder.select_legs(
        strategy.strategy_type, chain, today, rule.target_dte if target_dte is None else target_dte
    )
    if isinstance(legs, BuildRejected):
        return decline(legs.reason, legs.detail)
    if min(leg.expiry for leg in legs) <= strategy.expiry:
        return decline("no listed expiry later than the current one in the DTE window")
    new = builder.finish(
        strategy.strategy_type,
        chain,
        legs,
        today=today,
        strategy_id=new_strategy_id or derive_id(strategy.strategy_id, "roll", today.isoformat()),
        quantity=strategy.quantity,
        now=now,
        signal_id=strategy.signal_id,
        rolled_from=strategy.strategy_id,
    )
    if isinstance(new, BuildRejected):
        return decline(new.reason, new.detail)
    close_price = round(closing.mid, 2)
    net_price = round(close_price + new.entry_price, 2)
    if rule.credit_only and net_price <= 0:
        return decline(
            "no net credit roll",
            f"close {close_price:+.2f} + open {new.entry_price:+.2f} = {net_price:+.2f}",
        )
    worst = closing.natural + (new.worst_price if new.worst_price is not None else new.entry_price)
    return RollPlan(
        old=strategy,
        new=new,
        close_price=close_price,
        net_price=net_price,
        worst_price=round(worst, 2),
    )
