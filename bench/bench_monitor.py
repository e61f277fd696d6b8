"""Monitor valuation: revalue a book of 1,000 iron condors after one full market update.

Run ``python -m bench.bench_monitor`` (or through ``python -m bench``); prints a table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time

from services.monitor.workflow import PositionMonitoringWorkflow
from shared.clock import FixedClock
from shared.config import load_config
from shared.enums import OrderPurpose, OrderSide, Right, SecType, StrategyType
from shared.events import Leg, MarketDataUpdated, OrderFilled, OrderPlaced, Quote

NOW = dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC)
SYMBOLS = {"SPY": 580.0, "QQQ": 500.0, "IWM": 220.0}
EXPIRIES = [dt.date(2026, 4, 10), dt.date(2026, 4, 17), dt.date(2026, 4, 24)]
STRATEGIES = 1_000
REPEATS = 7


def _condor(i: int) -> tuple[str, list[Leg]]:
    symbol = list(SYMBOLS)[i % len(SYMBOLS)]
    spot = SYMBOLS[symbol]
    offset = 5 + (i // 3) % 20
    expiry = EXPIRIES[i % len(EXPIRIES)]
    put, call = round(spot - 5 * offset), round(spot + 5 * offset)
    return symbol, [
        Leg(right=Right.PUT, strike=put - 5, expiry=expiry, quantity=1),
        Leg(right=Right.PUT, strike=put, expiry=expiry, quantity=-1),
        Leg(right=Right.CALL, strike=call, expiry=expiry, quantity=-1),
        Leg(right=Right.CALL, strike=call + 5, expiry=expiry, quantity=1),
    ]


def _book(wf: PositionMonitoringWorkflow) -> dict[str, list[Leg]]:
    legs_by_symbol: dict[str, dict[tuple, Leg]] = {s: {} for s in SYMBOLS}
    for i in range(STRATEGIES):
        symbol, legs = _condor(i)
        sid = f"b-{i}"
        wf.on_order_placed(
            OrderPlaced(
                strategy_id=sid,
                order_ref=f"{sid}:entry",
                purpose=OrderPurpose.ENTRY,
                broker_order_id=i,
                combo=True,
                side=OrderSide.SELL,
                quantity=1,
                limit_price=1.0,
                legs=legs,
                symbol=symbol,
                strategy_type=StrategyType.IRON_CONDOR,
            )
        )
        wf.on_order_filled(
            OrderFilled(
                strategy_id=sid,
                order_ref=f"{sid}:entry",
                purpose=OrderPurpose.ENTRY,
                broker_order_id=i,
                exec_id=f"{sid}-e",
                side=OrderSide.SELL,
                quantity=1,
                price=1.0,
                cumulative_quantity=1,
                total_quantity=1,
                legs=[],
            )
        )
        for leg in legs:
            legs_by_symbol[symbol][(leg.right, leg.strike, leg.expiry)] = leg
    return {s: list(v.values()) for s, v in legs_by_symbol.items()}


def _full_update(legs_by_symbol: dict[str, list[Leg]], tick: int) -> list[MarketDataUpdated]:
    when = NOW + dt.timedelta(seconds=tick)
    events = [
        MarketDataUpdated(
            symbol="VIX",
            market_time=when,
            quotes=[Quote(symbol="VIX", sec_type=SecType.INDEX, last=18.0 + tick / 100)],
        )
    ]
    for symbol, legs in legs_by_symbol.items():
        spot = SYMBOLS[symbol] * (1 + tick / 10_000)
        quotes = [Quote(symbol=symbol, sec_type=SecType.STOCK, bid=spot - 0.01, ask=spot + 0.01)]
        for leg in legs:
            mid = max(0.05, 3.0 - abs(leg.strike - spot) / 20)
            quotes.append(
                Quote(
                    symbol=symbol,
                    sec_type=SecType.OPTION,
                    right=leg.right,
                    strike=leg.strike,
                    expiry=leg.expiry,
                    bid=mid - 0.05,
                    ask=mid + 0.05,
                    iv=0.2,
                    delta=0.2,
                    gamma=0.01,
                    vega=0.3,
                    theta=-0.05,
                    und_price=spot,
                )
            )
        events.append(MarketDataUpdated(symbol=symbol, market_time=when, quotes=quotes))
    return events


async def _measure() -> tuple[float, float, int]:
    clock = FixedClock(NOW)
    wf = PositionMonitoringWorkflow(load_config(env={}), clock)
    legs_by_symbol = _book(wf)
    timings: list[float] = []
    count = 0
    # tick 0 warms up (the exchange calendar is built on first use): not measured
    for tick in range(REPEATS + 1):
        updates = _full_update(legs_by_symbol, tick)
        clock.advance(1)
        start = time.perf_counter()
        for event in updates:
            wf.on_market_data(event)
        snapshots = await wf.monitor_positions()
        if tick:
            timings.append(time.perf_counter() - start)
        count = len(snapshots)
    return statistics.median(timings), max(timings), count


def run() -> list[tuple[str, str, str]]:
    median, worst, count = asyncio.run(_measure())
    return [
        (
            f"monitor: revalue {count:,} strategies after a full market update (median)",
            f"{median * 1000:.1f} ms",
            "< 250 ms",
        ),
        ("monitor: same, worst of 7", f"{worst * 1000:.1f} ms", "< 250 ms"),
    ]


if __name__ == "__main__":
    rows = run()
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'figure':>10}  target")
    for name, figure, target in rows:
        print(f"{name:<{width}}  {figure:>10}  {target}")
