"""The entry signal (trading.md section 1) as pure functions, in two steps.

1. ``evaluate_market(state, config)``: direction from IV rank, trend and the structure it picks,
   the VIX band and the entry window. If it is accepted, the entry service builds a candidate
   strategy for ``evaluation.strategy_type``.
2. ``evaluate_capacity(evaluation, book, candidate, config, net_liquidation)``: adds the
   portfolio capacity checks with the candidate's own Greeks and max loss, the conflict check and
   the one-entry-per-signal check.

An evaluation is accepted only if every check it holds passed; ``to_event`` turns either step's
result into the ``EntrySignalEvaluated`` that records it. The signal id is a pure function of the
symbol and the evaluation interval it falls in, so a replayed evaluation has the same id and the
book refuses a second entry for it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import msgspec

from shared.config import EntryConfig
from shared.domain.calendar import is_entry_window
from shared.domain.ivstats import iv_percentile, iv_rank, moving_average, trend
from shared.domain.risk import BookEntry, check_entry_capacity, conflicting, signal_unused
from shared.enums import Direction, StrategyType, Trend
from shared.events import Check, EntrySignalEvaluated


class MarketState(msgspec.Struct, frozen=True, kw_only=True):
    """What the signal looks at for one symbol; histories are daily, oldest first."""

    symbol: str
    underlying_price: float
    iv_history: list[float]  # daily OPTION_IMPLIED_VOLATILITY closes
    closes: list[float]  # daily TRADES closes
    vix: float
    now: dt.datetime  # market time of the evaluation, timezone-aware
    current_iv: float | None = None  # today's IV when it is not yet a daily bar


class SignalEvaluation(msgspec.Struct, frozen=True, kw_only=True):
    signal_id: str
    symbol: str
    now: dt.datetime
    direction: Direction
    checks: tuple[Check, ...]
    trend: Trend | None = None
    strategy_type: StrategyType | None = None
    iv_rank: float | None = None
    iv_percentile: float | None = None
    vix: float | None = None
    underlying_price: float | None = None

    @property
    def accepted(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def reasons(self) -> list[str]:
        """One line per failed check, for the record and the operator."""
        return [f"{check.name}: {check.detail}" for check in self.checks if not check.passed]

    def to_event(self, **envelope: Any) -> EntrySignalEvaluated:
        """The record of this evaluation; ``envelope`` sets producer and the like."""
        return EntrySignalEvaluated(
            signal_id=self.signal_id,
            correlation_id=self.signal_id,
            market_time=self.now,
            symbol=self.symbol,
            accepted=self.accepted,
            direction=self.direction,
            trend=self.trend,
            strategy_type=self.strategy_type,
            iv_rank=self.iv_rank,
            iv_percentile=self.iv_percentile,
            vix=self.vix,
            underlying_price=self.underlying_price,
            checks=list(self.checks),
            reasons=self.reasons,
            **envelope,
        )


def signal_id(symbol: str, when: dt.datetime, interval_s: float) -> str:
    """``sig-SPY-20261125T153000Z``: the symbol and the UTC start of the interval ``when`` is in."""
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: pass a timezone-aware time")
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, got {interval_s}")
    bucket = math.floor(when.timestamp() / interval_s) * interval_s
    start = dt.datetime.fromtimestamp(bucket, dt.UTC)
    return f"sig-{symbol.upper()}-{start:%Y%m%dT%H%M%SZ}"


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _direction(rank: float, config: EntryConfig) -> tuple[Direction, Check]:
    if not math.isfinite(rank):
        return Direction.NONE, Check(
            name="iv_rank", passed=False, detail="no implied-volatility history to rank against"
        )
    if rank > config.iv_rank_sell_above:
        direction, limit, detail = (
            Direction.SELL_PREMIUM,
            config.iv_rank_sell_above,
            "IV rank high: sell premium",
        )
    elif rank < config.iv_rank_buy_below:
        direction, limit, detail = (
            Direction.BUY_PREMIUM,
            config.iv_rank_buy_below,
            "IV rank low: buy premium",
        )
    else:
        direction, limit, detail = (
            Direction.NONE,
            config.iv_rank_sell_above,
            f"IV rank within [{config.iv_rank_buy_below:g}, {config.iv_rank_sell_above:g}]: "
            "no edge either way",
        )
    check = Check(
        name="iv_rank",
        passed=direction is not Direction.NONE,
        value=rank,
        limit=limit,
        detail=detail,
    )
    return direction, check


def _trend(state: MarketState, config: EntryConfig) -> tuple[Trend | None, Check]:
    days = config.trend_ma_days
    if len(state.closes) < days:
        return None, Check(
            name="trend",
            passed=False,
            value=float(len(state.closes)),
            limit=float(days),
            detail=f"need {days} daily closes for the moving average, have {len(state.closes)}",
        )
    average = moving_average(state.closes, days)
    found = trend(state.closes, days, config.trend_band_pct, price=state.underlying_price)
    distance = state.underlying_price / average - 1.0
    return found, Check(
        name="trend",
        passed=True,
        value=distance,
        limit=config.trend_band_pct,
        detail=f"{found.value}: price {distance:+.2%} from its {days}-day average",
    )


def _structure(
    direction: Direction, found: Trend, config: EntryConfig
) -> tuple[StrategyType | None, Check]:
    table = config.sell_structures if direction is Direction.SELL_PREMIUM else config.buy_structures
    name = table.get(found.value)
    try:
        chosen = StrategyType(name) if name is not None else None
    except ValueError:
        chosen = None
    detail = (
        f"{direction.value} + {found.value} -> {chosen.value}"
        if chosen is not None
        else f"no valid structure configured for {direction.value} + {found.value}: {name!r}"
    )
    return chosen, Check(name="structure", passed=chosen is not None, detail=detail)


def _vix(vix: float, config: EntryConfig) -> Check:
    if not math.isfinite(vix):
        return Check(name="vix", passed=False, detail="no VIX value")
    if vix >= config.vix_max:
        return Check(
            name="vix", passed=False, value=vix, limit=config.vix_max, detail="VIX at/above max"
        )
    if vix < config.vix_min:
        return Check(
            name="vix", passed=False, value=vix, limit=config.vix_min, detail="VIX below min"
        )
    return Check(
        name="vix",
        passed=True,
        value=vix,
        limit=config.vix_max,
        detail=f"VIX within [{config.vix_min:g}, {config.vix_max:g})",
    )


def _hours(now: dt.datetime, config: EntryConfig) -> Check:
    ok, reason = is_entry_window(
        now,
        config.avoid_open_minutes,
        config.avoid_close_minutes,
        config.half_day_cutoff,
        config.calendar,
    )
    return Check(name="market_hours", passed=ok, detail=reason)


def evaluate_market(state: MarketState, config: EntryConfig) -> SignalEvaluation:
    """Step 1: direction, trend and structure, VIX band and entry window, each as a Check."""
    rank = iv_rank(state.iv_history, state.current_iv, config.iv_lookback_days)
    percentile = iv_percentile(state.iv_history, state.current_iv, config.iv_lookback_days)
    direction, rank_check = _direction(rank, config)
    found, trend_check = _trend(state, config)
    checks = [rank_check, trend_check]
    strategy_type = None
    if direction is not Direction.NONE and found is not None:
        strategy_type, structure_check = _structure(direction, found, config)
        checks.append(structure_check)
    checks += [_vix(state.vix, config), _hours(state.now, config)]
    return SignalEvaluation(
        signal_id=signal_id(state.symbol, state.now, config.interval_s),
        symbol=state.symbol,
        now=state.now,
        direction=direction,
        checks=tuple(checks),
        trend=found,
        strategy_type=strategy_type,
        iv_rank=_finite_or_none(rank),
        iv_percentile=_finite_or_none(percentile),
        vix=_finite_or_none(state.vix),
        underlying_price=state.underlying_price,
    )


def evaluate_capacity(
    evaluation: SignalEvaluation,
    book: Iterable[BookEntry],
    candidate: BookEntry,
    config: EntryConfig,
    net_liquidation: float,
) -> SignalEvaluation:
    """Step 2: the step-1 evaluation plus capacity, conflict and one-entry-per-signal checks.

    ``candidate`` is the built strategy (its totals over the quantity to trade); ``book`` holds
    the strategies already known, in any status (the candidate itself, if already recorded as
    pending, is ignored).
    """
    entries = list(book)
    checks = (
        *evaluation.checks,
        *check_entry_capacity(entries, candidate, config, net_liquidation),
        conflicting(entries, candidate),
        signal_unused(
            [e for e in entries if e.strategy_id != candidate.strategy_id], evaluation.signal_id
        ),
    )
    return msgspec.structs.replace(evaluation, checks=checks)
