"""Decision-engine throughput: 100,000 snapshots through the twelve rules on one core.

Two books: a mixed one (thresholds crossed at random, as in a volatile day) and a calm one where
no rule fires, so every snapshot runs all twelve rules (the worst case of the hot path).
"""

from __future__ import annotations

import datetime as dt
import random
import time

from shared.domain.rules import DecisionEngine, StrategyState
from shared.enums import Right, StrategyType
from shared.events import LegSnapshot, PositionSnapshot

SNAPSHOTS = 100_000
STRATEGIES = 1_000
TARGET_PER_S = 100_000
_NOW = dt.datetime(2026, 3, 2, 15, 30, tzinfo=dt.UTC)
_EXPIRY = dt.date(2026, 4, 17)
_TYPES = (
    StrategyType.IRON_CONDOR,
    StrategyType.PUT_CREDIT_SPREAD,
    StrategyType.CALL_DEBIT_SPREAD,
    StrategyType.LONG_CALL,
)
_LEGS = [
    LegSnapshot(
        right=right,
        strike=strike,
        expiry=_EXPIRY,
        quantity=qty,
        price=1.0,
        delta=0.2,
        gamma=0.01,
        theta=-0.02,
        vega=0.1,
        iv=0.2,
    )
    for right, strike, qty in (
        (Right.PUT, 420.0, 1),
        (Right.PUT, 425.0, -1),
        (Right.CALL, 475.0, -1),
        (Right.CALL, 480.0, 1),
    )
]


def _snapshot(rng: random.Random, i: int, calm: bool) -> PositionSnapshot:
    def spread(calm_value: float, low: float, high: float) -> float:
        return calm_value if calm else rng.uniform(low, high)

    return PositionSnapshot(
        strategy_id=f"s-{i % STRATEGIES}",
        symbol=("SPY", "QQQ", "IWM")[i % 3],
        strategy_type=StrategyType.IRON_CONDOR if calm else rng.choice(_TYPES),
        legs=_LEGS,
        quantity=rng.randint(1, 10),
        opened_at=_NOW,
        expiry=_EXPIRY,
        dte=40 if calm else rng.randint(0, 60),
        entry_price=1.5,
        mark=1.3,
        unrealized_pnl=20.0,
        upl_pct=spread(0.1, -2.5, 1.0),
        max_profit=150.0,
        max_loss=350.0,
        delta=spread(2.0, -60.0, 60.0),
        gamma=spread(1.0, 0.0, 15.0),
        theta=3.0,
        vega=spread(-10.0, -20.0, 20.0),
        iv=0.2,
        iv_rank=50.0,
        iv_percentile=spread(0.5, 0.0, 1.0),
        iv_change_pct=spread(0.0, -0.5, 0.6),
        underlying_price=450.0,
        underlying_change_1h=spread(0.0, -0.04, 0.04),
        vix=spread(18.0, 12.0, 40.0),
        vix_at_entry=18.0,
        portfolio_delta=spread(10.0, -600.0, 600.0),
        symbol_delta=spread(10.0, -350.0, 350.0),
        as_of=_NOW,
        stale=False if calm else rng.random() < 0.05,
        wall_time=_NOW,
    )


def _throughput(calm: bool) -> float:
    rng = random.Random(6)
    snapshots = [_snapshot(rng, i, calm) for i in range(SNAPSHOTS)]
    engine = DecisionEngine()
    states: dict[str, StrategyState] = {}
    evaluate = engine.evaluate
    start = time.perf_counter()
    for snapshot in snapshots:
        _, states[snapshot.strategy_id] = evaluate(snapshot, states.get(snapshot.strategy_id))
    return SNAPSHOTS / (time.perf_counter() - start)


def run() -> list[tuple[str, str, str]]:
    rows = []
    for label, calm in (("mixed book", False), ("calm book, all 12 rules run", True)):
        rate = _throughput(calm)
        rows.append(
            (
                f"rules engine, {label}",
                f"{rate:,.0f} snapshots/s ({1e6 / rate:.1f} us each)",
                f">= {TARGET_PER_S:,} snapshots/s",
            )
        )
    return rows


if __name__ == "__main__":
    for name, figure, target in run():
        print(f"{name:<40} {figure:<36} {target}")
