"""Strategy builders: concrete legs, quantity and prices chosen from a real option chain.

A builder returns a pending ``Strategy`` or a ``BuildRejected`` value (a business "no" is a value,
not an exception). Building is split in two steps that rolls reuse: ``select_legs`` (expiry and
strikes from the chain) and ``finish`` (prices, checks, quantity, take-profit/stop-loss).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence

import msgspec

from shared.config import BuilderConfig
from shared.domain.chain import ComboQuote, OptionChain
from shared.domain.strategy import Strategy, make_strategy, payoff, validate
from shared.enums import (
    CREDIT_MULTI_LEG_TYPES,
    DEBIT_MULTI_LEG_TYPES,
    SINGLE_LEG_TYPES,
    Right,
    StrategyType,
)
from shared.events import MULTIPLIER, Leg


class BuildRejected(msgspec.Struct, frozen=True, kw_only=True):
    """Why no strategy was built, with the figures that decided it."""

    strategy_type: StrategyType
    reason: str
    detail: str = ""
    figures: dict[str, float] = {}


# Credit strategies whose credit must be at least ``min_credit_pct_of_width`` of the width.
MIN_CREDIT_TYPES = frozenset(
    {StrategyType.IRON_CONDOR, StrategyType.PUT_CREDIT_SPREAD, StrategyType.CALL_CREDIT_SPREAD}
)

# Strategies that must be opened for a net debit.
DEBIT_TYPES = DEBIT_MULTI_LEG_TYPES | SINGLE_LEG_TYPES

LegsOrRejected = tuple[Leg, ...] | BuildRejected
Selector = Callable[[OptionChain, dt.date, StrategyType], LegsOrRejected]


def _rejected(kind: StrategyType, reason: str, detail: str = "", **figures: float) -> BuildRejected:
    return BuildRejected(strategy_type=kind, reason=reason, detail=detail, figures=figures)


def _leg(right: Right, strike: float, expiry: dt.date, quantity: int) -> Leg:
    return Leg(right=right, strike=strike, expiry=expiry, quantity=quantity)


def _with_contract(chain: OptionChain, leg: Leg) -> Leg:
    """The leg with its contract id and mid from the chain (execution needs the con_id)."""
    quote = chain.quote(leg.expiry, leg.right, leg.strike)
    con_id = quote.con_id if quote is not None else leg.con_id
    return msgspec.structs.replace(leg, con_id=con_id, price=chain.leg_mid(leg))


def wing_width(legs: Sequence[Leg]) -> float:
    """The widest distance between a short strike and the long strike of the same right."""
    widths = [0.0]
    for right in Right:
        shorts = [leg.strike for leg in legs if leg.right is right and leg.quantity < 0]
        longs = [leg.strike for leg in legs if leg.right is right and leg.quantity > 0]
        widths += [abs(s - lg) for s in shorts for lg in longs]
    return max(widths)


class StrategyBuilder:
    """Builds strategies by the rules of trading.md section 2 from ``BuilderConfig``.

    ``max_position_risk_pct`` is ``EntryConfig.max_position_risk_pct``; ``roll_threshold_dte`` is
    the forced-roll DTE (an expiry at or below it would roll at once, so it is never chosen).
    """

    def __init__(
        self,
        config: BuilderConfig,
        max_position_risk_pct: float,
        roll_threshold_dte: int = 21,
    ) -> None:
        self.config = config
        self.max_position_risk_pct = max_position_risk_pct
        self.roll_threshold_dte = roll_threshold_dte
        self._selectors: dict[StrategyType, Selector] = {
            StrategyType.IRON_CONDOR: self._iron_condor,
            StrategyType.PUT_CREDIT_SPREAD: self._credit_vertical,
            StrategyType.CALL_CREDIT_SPREAD: self._credit_vertical,
            StrategyType.CALL_DEBIT_SPREAD: self._debit_vertical,
            StrategyType.PUT_DEBIT_SPREAD: self._debit_vertical,
            StrategyType.SHORT_STRANGLE: self._short_strangle,
            StrategyType.LONG_STRADDLE: self._long_straddle,
        }

    # --- public ------------------------------------------------------------------------------

    def build(
        self,
        strategy_type: StrategyType,
        chain: OptionChain,
        *,
        today: dt.date,
        strategy_id: str,
        net_liquidation: float,
        now: dt.datetime | None = None,
        signal_id: str | None = None,
        legs: Sequence[Leg] = (),
    ) -> Strategy | BuildRejected:
        """A pending strategy of ``strategy_type`` sized from risk, or why not.

        ``legs`` are the explicit legs of a CUSTOM strategy (ignored for the other types).
        """
        if strategy_type is StrategyType.CUSTOM:
            chosen: LegsOrRejected = tuple(legs) or _rejected(
                strategy_type, "a custom strategy needs explicit legs"
            )
        else:
            chosen = self.select_legs(strategy_type, chain, today)
        if isinstance(chosen, BuildRejected):
            return chosen
        return self.finish(
            strategy_type,
            chain,
            chosen,
            today=today,
            strategy_id=strategy_id,
            net_liquidation=net_liquidation,
            now=now,
            signal_id=signal_id,
        )

    def choose_expiry(
        self, chain: OptionChain, today: dt.date, target_dte: int | None = None
    ) -> dt.date | None:
        return chain.nearest_expiry(
            today,
            target_dte=self.config.target_dte if target_dte is None else target_dte,
            min_dte=self.config.min_dte,
            max_dte=self.config.max_dte,
            above_dte=self.roll_threshold_dte,
        )

    def select_legs(
        self,
        strategy_type: StrategyType,
        chain: OptionChain,
        today: dt.date,
        target_dte: int | None = None,
    ) -> LegsOrRejected:
        """The legs of ``strategy_type`` at the chosen expiry and strikes (one unit)."""
        selector = self._selectors.get(strategy_type)
        if selector is None:
            return _rejected(strategy_type, "no builder for this type")
        expiry = self.choose_expiry(chain, today, target_dte)
        if expiry is None:
            return _rejected(
                strategy_type,
                "no listed expiry in the DTE window",
                f"target {target_dte or self.config.target_dte} within "
                f"[{self.config.min_dte}, {self.config.max_dte}], above {self.roll_threshold_dte}",
            )
        return selector(chain, expiry, strategy_type)

    def finish(
        self,
        strategy_type: StrategyType,
        chain: OptionChain,
        legs: Sequence[Leg],
        *,
        today: dt.date,
        strategy_id: str,
        net_liquidation: float = 0.0,
        quantity: int | None = None,
        now: dt.datetime | None = None,
        signal_id: str | None = None,
        rolled_from: str | None = None,
    ) -> Strategy | BuildRejected:
        """Price, check and size ``legs``; a fixed ``quantity`` skips the risk sizing (rolls)."""
        combo = chain.combo(legs)
        if combo is None:
            return _rejected(strategy_type, "a leg has no two-sided market")
        legs = [_with_contract(chain, leg) for leg in legs]
        limit = round(combo.mid, 2)
        problem = self._price_problem(strategy_type, legs, combo, limit)
        if problem is not None:
            return problem
        figures = payoff(legs, limit)
        take_profit, stop_loss = self._exit_levels(limit, figures.max_profit, figures.max_loss)
        if quantity is None:
            # risk per unit: the max loss, or the loss at the stop where the loss is unbounded
            loss_per_share = figures.max_loss
            if not math.isfinite(loss_per_share) and stop_loss is not None:
                loss_per_share = -(limit + stop_loss)
            risk_per_unit = loss_per_share * MULTIPLIER
            budget = self.max_position_risk_pct * net_liquidation
            units = math.floor(budget / risk_per_unit) if risk_per_unit > 0 else 0
            if units < 1:
                return _rejected(
                    strategy_type,
                    "one unit's risk exceeds the position risk budget",
                    risk_per_unit=risk_per_unit,
                    budget=budget,
                )
            quantity = min(units, self.config.max_quantity)
        strategy = make_strategy(
            strategy_id=strategy_id,
            symbol=chain.symbol,
            strategy_type=strategy_type,
            legs=legs,
            quantity=quantity,
            entry_price=limit,
            take_profit=take_profit,
            stop_loss=stop_loss,
            worst_price=round(combo.natural, 2),
            created_at=now,
            signal_id=signal_id,
            rolled_from=rolled_from,
        )
        problems = validate(strategy, today, chain)
        if problems:
            return _rejected(strategy_type, "invalid strategy", "; ".join(problems))
        return strategy

    # --- checks and levels --------------------------------------------------------------------

    def _price_problem(
        self, kind: StrategyType, legs: Sequence[Leg], combo: ComboQuote, limit: float
    ) -> BuildRejected | None:
        if kind in CREDIT_MULTI_LEG_TYPES and limit <= 0:
            return _rejected(kind, "no net credit at the mid", mid=combo.mid)
        if kind in DEBIT_TYPES and limit >= 0:
            return _rejected(kind, "no net debit at the mid", mid=combo.mid)
        max_spread = self.config.max_spread_pct_of_mid * abs(combo.mid)
        if combo.mid == 0 or combo.spread > max_spread:
            return _rejected(
                kind,
                "combo bid/ask spread too wide",
                f"spread {combo.spread:.2f} > {self.config.max_spread_pct_of_mid:.0%} of mid",
                spread=combo.spread,
                mid=combo.mid,
                limit=max_spread,
            )
        if kind in MIN_CREDIT_TYPES:
            width = wing_width(legs)
            min_credit = self.config.min_credit_pct_of_width * width
            if limit < min_credit:
                return _rejected(
                    kind,
                    "credit below the minimum for the width",
                    f"credit {limit:.2f} < {self.config.min_credit_pct_of_width:.0%} of {width:g}",
                    credit=limit,
                    width=width,
                    min_credit=min_credit,
                )
        return None

    def _exit_levels(
        self, limit: float, max_profit: float, max_loss: float
    ) -> tuple[float | None, float | None]:
        """Take-profit and stop-loss as signed closing prices per unit (see strategy.py)."""
        take_profit = (
            round(self.config.take_profit_pct * max_profit - limit, 2)
            if math.isfinite(max_profit)
            else None
        )
        if limit > 0:
            loss = self.config.stop_loss_multiple * limit
        else:
            loss = self.config.debit_stop_loss_pct * -limit
        # a stop beyond the max loss could never trigger before the max loss itself
        loss = min(loss, max_loss)
        return take_profit, round(-loss - limit, 2)

    # --- leg selection per type ---------------------------------------------------------------

    def _width(self, chain: OptionChain) -> float:
        pct = self.config.wing_width_pct
        return pct * chain.underlying_price if pct else self.config.wing_width

    def _outward(self, chain: OptionChain, right: Right) -> float:
        """One width further out of the money: up for calls, down for puts."""
        return self._width(chain) * (1 if right is Right.CALL else -1)

    def _short_with_wing(
        self, chain: OptionChain, expiry: dt.date, kind: StrategyType, right: Right
    ) -> LegsOrRejected:
        """A short leg at the target |delta| and its protecting long one width further out."""
        if kind is StrategyType.IRON_CONDOR:
            delta, band = self.config.condor_short_delta, self.config.condor_delta_band
        else:
            delta, band = self.config.vertical_short_delta, None
        short = chain.strike_by_delta(expiry, right, delta, band)
        if short is None:
            return _no_strike(kind, right, f"|delta| {delta} (band {band})")
        long = chain.strike_at_width(expiry, right, short, self._outward(chain, right))
        if long is None:
            return _no_strike(kind, right, f"a wing {self._width(chain):g} from {short:g}")
        return _leg(right, short, expiry, -1), _leg(right, long, expiry, 1)

    def _iron_condor(
        self, chain: OptionChain, expiry: dt.date, kind: StrategyType
    ) -> LegsOrRejected:
        puts = self._short_with_wing(chain, expiry, kind, Right.PUT)
        if isinstance(puts, BuildRejected):
            return puts
        calls = self._short_with_wing(chain, expiry, kind, Right.CALL)
        return calls if isinstance(calls, BuildRejected) else puts + calls

    def _credit_vertical(
        self, chain: OptionChain, expiry: dt.date, kind: StrategyType
    ) -> LegsOrRejected:
        return self._short_with_wing(chain, expiry, kind, VERTICAL_RIGHT[kind])

    def _debit_vertical(
        self, chain: OptionChain, expiry: dt.date, kind: StrategyType
    ) -> LegsOrRejected:
        right = VERTICAL_RIGHT[kind]
        long = chain.strike_by_delta(expiry, right, self.config.debit_long_delta)
        if long is None:
            return _no_strike(kind, right, f"|delta| {self.config.debit_long_delta}")
        short = chain.strike_at_width(expiry, right, long, self._outward(chain, right))
        if short is None:
            return _no_strike(kind, right, f"a short {self._width(chain):g} from {long:g}")
        return _leg(right, long, expiry, 1), _leg(right, short, expiry, -1)

    def _short_strangle(
        self, chain: OptionChain, expiry: dt.date, kind: StrategyType
    ) -> LegsOrRejected:
        legs: list[Leg] = []
        for right in (Right.PUT, Right.CALL):
            strike = chain.strike_by_delta(expiry, right, self.config.strangle_short_delta)
            if strike is None:
                return _no_strike(kind, right, f"|delta| {self.config.strangle_short_delta}")
            legs.append(_leg(right, strike, expiry, -1))
        return tuple(legs)

    def _long_straddle(
        self, chain: OptionChain, expiry: dt.date, kind: StrategyType
    ) -> LegsOrRejected:
        strike = chain.strike_nearest(expiry, chain.underlying_price)
        if strike is None:
            return _no_strike(kind, Right.CALL, "an at-the-money strike")
        return _leg(Right.PUT, strike, expiry, 1), _leg(Right.CALL, strike, expiry, 1)


VERTICAL_RIGHT: dict[StrategyType, Right] = {
    StrategyType.PUT_CREDIT_SPREAD: Right.PUT,
    StrategyType.CALL_CREDIT_SPREAD: Right.CALL,
    StrategyType.CALL_DEBIT_SPREAD: Right.CALL,
    StrategyType.PUT_DEBIT_SPREAD: Right.PUT,
}


def _no_strike(kind: StrategyType, right: Right, what: str) -> BuildRejected:
    return _rejected(kind, "no listed strike fits", f"{right.name}: {what}")
