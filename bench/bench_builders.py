"""Strategy building on a 2,000-option chain (target: well under 5 ms per strategy).

Run through ``python -m bench`` or directly: ``python bench/bench_builders.py``.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from shared.config import BuilderConfig, DteRollRule
from shared.domain.builders import StrategyBuilder
from shared.domain.chain import OptionChain
from shared.domain.roll import RollDeclined, build_roll
from shared.domain.strategy import Strategy, transition
from shared.enums import StrategyStatus, StrategyType

FACTORY = Path(__file__).resolve().parents[1] / "tests" / "unit" / "domain" / "chain_factory.py"
CHAIN_SIZE = 2_000


def _factory() -> ModuleType:
    # the tests' chain factory is not part of an installed package: load it by path
    spec = importlib.util.spec_from_file_location("chain_factory", FACTORY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _per_call_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) * 1000 / repeat


def run() -> list[tuple[str, str, str]]:
    factory = _factory()
    # 13 weekly expiries x 2 rights x 77 strikes every 2.5 = 2,002 options
    quotes = factory.make_quotes(step=2.5, span=0.165)
    chain = OptionChain("SPY", 580.0, quotes, factory.AS_OF)
    builder = StrategyBuilder(BuilderConfig(), max_position_risk_pct=0.02)
    today, now = factory.TODAY, factory.AS_OF

    def build(kind: StrategyType) -> Callable[[], object]:
        return lambda: builder.build(
            kind, chain, today=today, strategy_id="bench", net_liquidation=1e6, now=now
        )

    # a condor opened earlier, now at 25 DTE: the roll window
    near = StrategyBuilder(BuilderConfig(min_dte=22, target_dte=25, max_dte=30), 0.02)
    old = near.build(
        StrategyType.IRON_CONDOR, chain, today=today, strategy_id="b", net_liquidation=1e6
    )
    assert isinstance(old, Strategy), old
    opened = transition(old, StrategyStatus.OPEN, now)
    rule = DteRollRule(credit_only=False)
    rows = [
        (
            f"chain index of {len(chain):,} quotes",
            f"{_per_call_ms(lambda: OptionChain('SPY', 580.0, quotes, now), 20):.2f} ms",
            "-",
        )
    ]
    for kind in (
        StrategyType.IRON_CONDOR,
        StrategyType.PUT_CREDIT_SPREAD,
        StrategyType.CALL_DEBIT_SPREAD,
        StrategyType.LONG_STRADDLE,
    ):
        assert isinstance(build(kind)(), Strategy), kind  # time builds, not rejections
        rows.append(
            (
                f"build {kind} ({len(chain):,} options)",
                f"{_per_call_ms(build(kind), 500):.3f} ms",
                "< 5 ms",
            )
        )
    plan = build_roll(opened, chain, builder, rule, today=today)
    assert not isinstance(plan, RollDeclined), plan
    roll_ms = _per_call_ms(lambda: build_roll(opened, chain, builder, rule, today=today), 500)
    rows.append(("roll construction (condor, same chain)", f"{roll_ms:.3f} ms", "< 5 ms"))
    return rows


if __name__ == "__main__":
    for name, figure, target in run():
        print(f"{name:<48} {figure:>12} {target:>8}")
