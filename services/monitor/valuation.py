"""Valuation of the whole book in one vectorized pass over every leg.

Per leg: mark from the bid/ask mid, the IB model price when the quote is missing or crossed,
else Black-Scholes with the leg's implied vol; Greeks from IB's model ticks when all four are
present, else Black-Scholes. Per strategy (``np.bincount`` over the leg -> strategy index):

- ``mark``: net value per unit in the entry's sign (credit positive), ``-sum(q_i * price_i)``:
  a credit condor sold for 1.20 and worth 0.30 now has mark 0.30;
- ``unrealized_pnl`` = (entry_price - mark) x 100 x quantity, positive when it made money;
- ``upl_pct`` = unrealized_pnl / (|entry_price| x 100 x quantity), for credit and debit alike;
- Greeks are position totals: delta and gamma in share equivalents, theta and vega in currency.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from services.monitor.book import Position, payoff_extremes
from services.monitor.market import LatestQuotes
from shared.domain.calendar import dte, session, time_to_expiry, trading_date
from shared.domain.optionmath import bs_greeks
from shared.enums import Right
from shared.events import MULTIPLIER, LegSnapshot, PositionSnapshot

_NAN = math.nan

# (symbol, current average IV) -> (iv_rank 0-100, iv_percentile 0-1)
IVStatsFn = Callable[[str, float], tuple[float, float]]


@dataclass(frozen=True)
class BookValuation:
    """Per-strategy results of one pass, aligned with ``positions``; NaN mark = not valuable."""

    positions: Sequence[Position]
    leg_start: NDArray[np.int64]
    leg_price: NDArray[np.float64]
    leg_delta: NDArray[np.float64]
    leg_gamma: NDArray[np.float64]
    leg_theta: NDArray[np.float64]
    leg_vega: NDArray[np.float64]
    leg_iv: NDArray[np.float64]
    mark: NDArray[np.float64]
    delta: NDArray[np.float64]
    gamma: NDArray[np.float64]
    theta: NDArray[np.float64]
    vega: NDArray[np.float64]
    iv: NDArray[np.float64]
    as_of: NDArray[np.float64]  # POSIX seconds of the oldest input


def market_seconds_between(start: dt.datetime, end: dt.datetime) -> float:
    """Seconds of today's regular session between ``start`` and ``end``: data does not go stale
    overnight, when nothing trades."""
    today = session(trading_date(end))
    if today is None:
        return 0.0
    return max((min(end, today.close) - max(start, today.open)).total_seconds(), 0.0)


def _col(values: list[float | None]) -> NDArray[np.float64]:
    return np.array([_NAN if v is None else v for v in values], dtype=np.float64)


def value_book(
    positions: Sequence[Position], market: LatestQuotes, now: dt.datetime, rate: float
) -> BookValuation:
    """Value every leg of ``positions`` at once and sum per strategy."""
    idx: list[int] = []
    qty: list[int] = []
    is_call: list[bool] = []
    strike: list[float] = []
    years: list[float] = []
    fields: dict[str, list[float | None]] = {
        k: [] for k in ("bid", "ask", "model", "iv", "delta", "gamma", "vega", "theta", "und", "t")
    }
    starts: list[int] = []
    year_cache: dict[dt.date, float] = {}
    for i, pos in enumerate(positions):
        starts.append(len(idx))
        und = market.underlyings.get(pos.symbol)
        und_time = market.underlying_time.get(pos.symbol)
        for leg in pos.legs:
            q = market.leg_quote(pos.symbol, leg)
            idx.append(i)
            qty.append(leg.quantity)
            is_call.append(leg.right == Right.CALL)
            strike.append(leg.strike)
            if leg.expiry not in year_cache:
                year_cache[leg.expiry] = time_to_expiry(leg.expiry, now)
            years.append(year_cache[leg.expiry])
            times = [x.timestamp() for x in (und_time, q.time if q else None) if x is not None]
            fields["t"].append(min(times) if times else None)
            if q is None:
                for k in ("bid", "ask", "model", "iv", "delta", "gamma", "vega", "theta"):
                    fields[k].append(None)
                fields["und"].append(und)
                continue
            fields["bid"].append(q.bid)
            fields["ask"].append(q.ask)
            fields["model"].append(q.model_price)
            fields["iv"].append(q.iv)
            fields["delta"].append(q.delta)
            fields["gamma"].append(q.gamma)
            fields["vega"].append(q.vega)
            fields["theta"].append(q.theta)
            fields["und"].append(q.und_price if q.und_price else und)
    n = len(positions)
    a = {k: _col(v) for k, v in fields.items()}
    strat = np.array(idx, dtype=np.int64)
    q_arr = np.array(qty, dtype=np.float64)

    def per_strategy(values: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.bincount(strat, weights=values, minlength=n)

    iv_ok = np.isfinite(a["iv"]) & (a["iv"] > 0)
    iv_n = per_strategy(iv_ok.astype(np.float64))
    entry_iv = _col([p.iv_at_entry for p in positions])
    with np.errstate(invalid="ignore", divide="ignore"):
        iv = np.where(iv_n > 0, per_strategy(np.where(iv_ok, a["iv"], 0.0)) / iv_n, entry_iv)
    # a leg without an IV of its own is priced at its strategy's average (else entry) IV
    sigma = np.where(iv_ok, a["iv"], iv[strat])
    bs = bs_greeks(a["und"], np.array(strike), np.array(years), rate, 0.0, sigma, is_call)

    bid, ask = a["bid"], a["ask"]
    two_sided = (bid >= 0) & (ask > 0) & (ask >= bid)
    model = np.where(np.isfinite(a["model"]), a["model"], bs.price)
    price = np.where(two_sided, (bid + ask) / 2, model)
    ib = np.isfinite(a["delta"]) & np.isfinite(a["gamma"])
    ib &= np.isfinite(a["vega"]) & np.isfinite(a["theta"])
    delta = np.where(ib, a["delta"], bs.delta)
    gamma = np.where(ib, a["gamma"], bs.gamma)
    vega = np.where(ib, a["vega"], bs.vega)
    theta = np.where(ib, a["theta"], bs.theta)

    units = np.array([p.quantity for p in positions], dtype=np.float64) * MULTIPLIER
    mark = -per_strategy(q_arr * price)
    # a leg without any price makes its strategy unvaluable (NaN), never silently zero
    mark[per_strategy((~np.isfinite(price)).astype(np.float64)) > 0] = _NAN
    as_of = np.full(n, np.inf)
    np.minimum.at(as_of, strat, np.where(np.isfinite(a["t"]), a["t"], np.inf))
    return BookValuation(
        positions=positions,
        leg_start=np.array(starts, dtype=np.int64),
        leg_price=price,
        leg_delta=delta,
        leg_gamma=gamma,
        leg_theta=theta,
        leg_vega=vega,
        leg_iv=a["iv"],
        mark=mark,
        delta=per_strategy(q_arr * delta) * units,
        gamma=per_strategy(q_arr * gamma) * units,
        theta=per_strategy(q_arr * theta) * units,
        vega=per_strategy(q_arr * vega) * units,
        iv=iv,
        as_of=as_of,
    )


@dataclass(frozen=True)
class SnapshotContext:
    """What a snapshot needs beyond the valuation: market-wide figures and the book totals."""

    now: dt.datetime
    market: LatestQuotes
    iv_stats: IVStatsFn
    portfolio_delta: float
    symbol_delta: dict[str, float]
    stale_after_s: float
    producer: str = "monitor"


def build_snapshot(
    valuation: BookValuation, i: int, ctx: SnapshotContext
) -> PositionSnapshot | None:
    """The i-th strategy's snapshot; None when it cannot be valued (no price, no underlying)."""
    pos = valuation.positions[i]
    mark = float(valuation.mark[i])
    und = ctx.market.underlyings.get(pos.symbol)
    if not math.isfinite(mark) or und is None:
        return None
    start = int(valuation.leg_start[i])
    legs = [
        LegSnapshot(
            right=leg.right,
            strike=leg.strike,
            expiry=leg.expiry,
            quantity=leg.quantity,
            price=float(valuation.leg_price[j]),
            delta=float(valuation.leg_delta[j]),
            gamma=float(valuation.leg_gamma[j]),
            theta=float(valuation.leg_theta[j]),
            vega=float(valuation.leg_vega[j]),
            iv=float(valuation.leg_iv[j]),
            con_id=leg.con_id,
        )
        for j, leg in enumerate(pos.legs, start)
    ]
    basis = abs(pos.entry_price) * MULTIPLIER * pos.quantity
    pnl = (pos.entry_price - mark) * MULTIPLIER * pos.quantity
    iv = float(valuation.iv[i])
    iv_entry = pos.iv_at_entry
    iv_change = (iv - iv_entry) / iv_entry if iv_entry and math.isfinite(iv) else 0.0
    iv_rank, iv_pct = ctx.iv_stats(pos.symbol, iv)
    best, worst = payoff_extremes(pos.legs, pos.entry_price)
    as_of_ts = float(valuation.as_of[i])
    as_of = dt.datetime.fromtimestamp(as_of_ts, dt.UTC) if math.isfinite(as_of_ts) else ctx.now
    expiry = min(leg.expiry for leg in pos.legs)
    # without a VIX reading yet the snapshot still goes out (time rules must run) but flagged
    # stale, with the entry VIX standing in so that no "VIX rose" can be read from it
    vix_known = ctx.market.vix is not None
    vix = ctx.market.vix if vix_known else (pos.vix_at_entry or 0.0)
    return PositionSnapshot(
        correlation_id=pos.strategy_id,
        producer=ctx.producer,
        market_time=ctx.now,
        strategy_id=pos.strategy_id,
        symbol=pos.symbol,
        strategy_type=pos.strategy_type,
        legs=legs,
        quantity=pos.quantity,
        opened_at=pos.opened_at or ctx.now,
        expiry=expiry,
        dte=dte(expiry, ctx.now),
        entry_price=pos.entry_price,
        mark=mark,
        unrealized_pnl=pnl,
        upl_pct=pnl / basis if basis else 0.0,
        max_profit=best * pos.quantity,
        max_loss=worst * pos.quantity,
        delta=float(valuation.delta[i]),
        gamma=float(valuation.gamma[i]),
        theta=float(valuation.theta[i]),
        vega=float(valuation.vega[i]),
        iv=iv,
        iv_rank=iv_rank,
        iv_percentile=iv_pct,
        iv_change_pct=iv_change,
        underlying_price=und,
        underlying_change_1h=ctx.market.change_1h(pos.symbol, ctx.now),
        vix=vix,
        vix_at_entry=pos.vix_at_entry if pos.vix_at_entry is not None else vix,
        portfolio_delta=ctx.portfolio_delta,
        symbol_delta=ctx.symbol_delta.get(pos.symbol, 0.0),
        as_of=as_of,
        stale=not vix_known or market_seconds_between(as_of, ctx.now) > ctx.stale_after_s,
        exit_working=pos.exit_working,
    )
