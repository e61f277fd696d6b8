"""The closed loop under load: 1,000 open strategies in the simulator, then a price jump that makes
one strategy's rule fire, timed until its CLOSE combo reaches the simulator.

Execution, monitor and decision run in-process (``run_service``) on a real nats-server, against
the IB simulator over its TWS socket; the benchmark stands in for entry and publishes the
StrategyBuilt events itself (built by ``shared.domain.builders`` from execution's chain, at the
natural price so they fill at once). Everything shares one event loop, so the figures are
pessimistic next to one process per service.

The background book (999 iron condors on SPY and QQQ) stays open; each sample opens one condor
on IWM, drops IWM 5 % (the catastrophe rule closes a condor on a 3 % move either way) and takes
the time from ``sim.market.jump`` to the arrival of its ``exit`` order at the simulator's order
intake, then puts IWM back. The monitor's full revaluation is timed on a copy of its book
(restored from its positions table) fed with the market data execution relayed.

Run ``python -m bench.bench_loop`` (or through ``python -m bench``); prints a table.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from services.decision import SERVICE as DECISION
from services.execution import SERVICE as EXECUTION
from services.ibsim.server import Simulator
from services.monitor import SERVICE as MONITOR
from services.monitor.tables import POSITIONS, position_from_row
from services.monitor.workflow import PositionMonitoringWorkflow
from shared.bus import Bus, connect, ensure_streams
from shared.clock import FixedClock
from shared.config import Config, SimConfig, load_config
from shared.domain.builders import BuildRejected, StrategyBuilder
from shared.domain.calendar import trading_date
from shared.domain.chain import OptionChain
from shared.domain.strategy import to_built_event
from shared.enums import StrategyType
from shared.events import (
    ChainProvided,
    ChainRequested,
    DecisionMade,
    Event,
    MarketDataUpdated,
    PositionClosed,
    PositionOpened,
    PositionSnapshot,
    StrategyBuilt,
)
from shared.natsserver import NatsServer
from shared.service import run_service
from shared.storage import Table

STRATEGIES = 1_000
SAMPLES = 50
PRICES = {"SPY": 580.0, "QQQ": 500.0, "IWM": 220.0}
BACKGROUND = ("SPY", "QQQ")
TARGET = "IWM"
JUMP = -0.05  # beyond the catastrophe rule's 3 % in an hour
START = "2026-11-24T10:45:00-05:00"  # a Tuesday, mid-session
# condor variants for the background book, so its legs are not one set of contracts
SHORT_DELTAS = (0.13, 0.15, 0.17, 0.19)
WING_WIDTHS = (5.0, 10.0)
TIMEOUT_S = 30.0


# the conflation that sets the loop's latency: execution relays a symbol at most this often, the
# monitor revalues market-driven changes at most this often; ``--tuned`` runs with both short
TUNED = {
    "ib": {"market_data_max_rate_hz": 1000.0},
    "monitor": {"revalue_min_interval_s": 0.005},
}


def _config(nats_url: str, data_root: Path, ib_port: int, tuned: bool) -> Config:
    """Defaults, except the limits that would stop a benchmark from opening 1,000 strategies."""
    tree: dict[str, dict[str, Any]] = {
        "nats": {"url": nats_url, "subject_prefix": "bench", "storage": "memory"},
        "storage": {"data_root": str(data_root)},
        "ib": {
            "port": ib_port,
            "client_id": 7,
            "max_messages_per_s": 100_000,
            "max_market_data_lines": 100_000,
        },
        "sim": msgspec.to_builtins(_sim_config()),
        "universe": {"symbols": list(PRICES)},
        # 1,000 condors exceed any sane portfolio delta: the delta rule would close them
        "entry": {"max_portfolio_delta": 1e12, "max_symbol_delta": 1e12},
        # the market is paused (it moves only when told), so quotes keep their time
        "monitor": {"stale_after_s": 86_400.0},
        "logging": {"level": "WARNING"},
    }
    for section, values in (TUNED if tuned else {}).items():
        tree[section].update(values)
    return load_config(env={}, overrides=tree)


def _sim_config() -> SimConfig:
    return SimConfig(symbols=PRICES, tick_interval_s=0.05, start_time=START)


class Watch:
    """Events of the bus, counted and awaitable: the benchmark's view of the loop."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.received: list[float] = []  # perf_counter at arrival, parallel to ``events``
        self._changed = asyncio.Event()

    async def on_event(self, event: Event) -> None:
        self.events.append(event)
        self.received.append(time.perf_counter())
        self._changed.set()

    def first_after(self, since: float, kind: type, where: Callable[[Any], bool]) -> float:
        """When the first event of ``kind`` matching ``where`` arrived after ``since``."""
        return next(
            t
            for t, e in zip(self.received, self.events, strict=True)
            if t >= since and isinstance(e, kind) and where(e)
        )

    def of(self, kind: type, where: Callable[[Any], bool] = lambda _e: True) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and where(e)]

    async def until(self, kind: type, where: Callable[[Any], bool], count: int = 1) -> None:
        async with asyncio.timeout(TIMEOUT_S * 4):
            while len(self.of(kind, where)) < count:
                self._changed.clear()
                await self._changed.wait()


class Intake:
    """Arrival times of orders at the simulator, by order ref (a hook on its order intake)."""

    def __init__(self, sim: Simulator) -> None:
        self.arrived: dict[str, float] = {}
        self._changed = asyncio.Event()
        place = sim.place_order

        def hooked(client_id: int, req: Any) -> Any:
            self.arrived.setdefault(req.order_ref, time.perf_counter())
            self._changed.set()
            return place(client_id, req)

        sim.place_order = hooked  # type: ignore[method-assign]

    async def first(self, prefix: str) -> float:
        """When the first order whose ref starts with ``prefix`` arrived."""
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                times = [t for ref, t in self.arrived.items() if ref.startswith(prefix)]
                if times:
                    return min(times)
                self._changed.clear()
                await self._changed.wait()


async def _chain(bus: Bus, config: Config, symbol: str) -> OptionChain:
    cfg = config.builder
    request = ChainRequested(
        symbol=symbol, min_dte=cfg.min_dte, max_dte=cfg.max_dte, strikes_around=60
    )
    reply = await bus.request(request, bus.subjects.rpc_chain(), ChainProvided, timeout=60)
    if reply.error:
        raise RuntimeError(f"chain {symbol}: {reply.error}")
    return OptionChain.from_event(reply)


def _condor(
    config: Config,
    chain: OptionChain,
    now: dt.datetime,
    strategy_id: str,
    delta: float,
    wing: float,
) -> StrategyBuilt:
    cfg = msgspec.structs.replace(
        config.builder,
        condor_short_delta=delta,
        condor_delta_band=(delta - 0.03, delta + 0.03),
        wing_width=wing,
        max_spread_pct_of_mid=10.0,
        min_credit_pct_of_width=0.0,
    )
    builder = StrategyBuilder(cfg, 1.0, roll_threshold_dte=config.rules.dte_roll.forced_at_dte)
    built = builder.build(
        StrategyType.IRON_CONDOR,
        chain,
        today=trading_date(now),
        strategy_id=strategy_id,
        net_liquidation=config.sim.net_liquidation,
        now=now,
    )
    if isinstance(built, BuildRejected):
        raise RuntimeError(f"{strategy_id}: {built.reason} {built.detail}")
    event = to_built_event(built, market_time=now, producer="entry")
    # at the natural price: marketable, so it fills as it arrives
    return msgspec.structs.replace(event, quantity=1, limit_price=event.worst_price)


async def _open_background(bus: Bus, config: Config, sim: Simulator, watch: Watch) -> None:
    now = sim.market.now
    variants = [
        (chain, delta, wing)
        for chain in [await _chain(bus, config, s) for s in BACKGROUND]
        for delta in SHORT_DELTAS
        for wing in WING_WIDTHS
    ]
    templates = [
        _condor(config, chain, now, f"tmpl-{i}", delta, wing)
        for i, (chain, delta, wing) in enumerate(variants)
    ]
    count = STRATEGIES - 1  # the target makes the thousandth
    for i in range(count):
        template = templates[i % len(templates)]
        sid = f"bg-{i:04d}"
        # its own event id too: JetStream de-duplicates by it
        await bus.publish(
            msgspec.structs.replace(template, strategy_id=sid, event_id=f"built-{sid}")
        )
    await watch.until(PositionOpened, lambda e: e.strategy_id.startswith("bg-"), count)


class Sample(NamedTuple):
    """Seconds from the jump to each step of the loop seeing it."""

    market_data: float  # execution relays the moved underlying
    snapshot: float  # the monitor publishes the target's valuation
    decision: float  # decision publishes CLOSE
    order: float  # the closing combo reaches the simulator


async def _sample(
    k: int,
    bus: Bus,
    config: Config,
    sim: Simulator,
    chain: OptionChain,
    watch: Watch,
    intake: Intake,
) -> Sample:
    sid = f"target-{k:03d}"
    built = _condor(config, chain, sim.market.now, sid, 0.16, 5.0)
    await bus.publish(built)
    await watch.until(PositionOpened, lambda e: e.strategy_id == sid)
    await asyncio.sleep(0.3)  # let the entry's own fills and valuations settle
    started = time.perf_counter()
    sim.market.jump(TARGET, JUMP)
    arrived = await intake.first(f"v6:{sid}:exit:")
    await watch.until(PositionClosed, lambda e: e.strategy_id == sid)
    sample = Sample(
        watch.first_after(started, MarketDataUpdated, lambda e: e.symbol == TARGET) - started,
        watch.first_after(started, PositionSnapshot, lambda e: e.strategy_id == sid) - started,
        watch.first_after(started, DecisionMade, lambda e: e.strategy_id == sid) - started,
        arrived - started,
    )
    sim.market.set_price(TARGET, PRICES[TARGET])
    await asyncio.sleep(0.3)  # the monitor sees the price back before the next target opens
    return sample


async def _revalue_all(config: Config, watch: Watch) -> tuple[float, int]:
    """The monitor's valuation of its whole book after one full market update."""
    table = await asyncio.to_thread(Table.open, f"{config.storage.data_root}/monitor", POSITIONS)
    rows = (await table.read([("status", "=", "open")])).to_pylist()
    updates = watch.of(MarketDataUpdated)
    clock = FixedClock(updates[-1].market_time or dt.datetime.now(dt.UTC))
    workflow = PositionMonitoringWorkflow(config, clock, [position_from_row(r) for r in rows])
    for event in updates:  # the market as the monitor saw it
        workflow.on_market_data(event)
    await workflow.monitor_positions()  # the first call builds the exchange calendar: not timed
    latest = {e.symbol: e for e in updates}
    started = time.perf_counter()
    for event in latest.values():
        workflow.on_market_data(event)
    snapshots = await workflow.monitor_positions()
    return time.perf_counter() - started, len(snapshots)


class Result(NamedTuple):
    samples: list[Sample]
    revalue_s: float
    valued: int
    setup_s: float
    background_exits: int  # background strategies closed during the run: should be none


async def measure(tuned: bool = False) -> Result:
    setup_started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "nats") as server:
        async with Simulator(_sim_config(), port=0) as sim, contextlib.AsyncExitStack() as stack:
            sim.market.pause()  # the benchmark moves the market on purpose
            config = _config(server.url, Path(tmp) / "data", sim.port, tuned)
            bus = await connect(config.nats, "entry")  # the benchmark stands in for entry
            stack.push_async_callback(bus.close)
            await ensure_streams(bus.js, config.nats)
            watch = Watch()
            await bus.subscribe(bus.subjects.all(), watch.on_event)
            intake = Intake(sim)
            # execution last: the paused market relays VIX once, the monitor listens first
            for service in (DECISION, MONITOR, EXECUTION):
                await stack.enter_async_context(run_service(service, config))
            await watch.until(MarketDataUpdated, lambda e: e.symbol == config.universe.vix_symbol)
            await _open_background(bus, config, sim, watch)
            setup = time.perf_counter() - setup_started
            chain = await _chain(bus, config, TARGET)
            samples = [
                await _sample(k, bus, config, sim, chain, watch, intake) for k in range(SAMPLES)
            ]
            revalue, valued = await _revalue_all(config, watch)
            exits = len(watch.of(PositionClosed, lambda e: e.strategy_id.startswith("bg-")))
    return Result(samples, revalue, valued, setup, exits)


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run(tuned: bool = False) -> list[tuple[str, str, str]]:
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(measure(tuned))
    profile = "tuned conflation" if tuned else "default config"
    ms = [s.order * 1000 for s in result.samples]
    name = f"loop ({profile}): jump -> CLOSE combo at the simulator, {STRATEGIES:,} open"
    steps = [
        (f"  median jump -> {field.replace('_', ' ')}", [getattr(s, field) for s in result.samples])
        for field in Sample._fields[:-1]
    ]
    return [
        (f"{name} (p50 of {len(ms)})", f"{_percentile(ms, 50):.1f} ms", ""),
        (f"{name} (p95)", f"{_percentile(ms, 95):.1f} ms", ""),
        (f"{name} (p99)", f"{_percentile(ms, 99):.1f} ms", "p99 < 50 ms"),
        *[(label, f"{statistics.median(v) * 1000:.1f} ms", "") for label, v in steps],
        (
            f"loop: monitor revalues all {result.valued:,} after a full update",
            f"{result.revalue_s * 1000:.1f} ms",
            "< 250 ms",
        ),
        (
            f"loop: setup (services up, {STRATEGIES - 1:,} strategies opened)",
            f"{result.setup_s:.1f} s",
            "",
        ),
        ("loop: background strategies closed during the run", str(result.background_exits), "0"),
    ]


if __name__ == "__main__":
    rows = run(tuned="--tuned" in sys.argv[1:])
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'figure':>10}  target")
    for name, figure, target in rows:
        print(f"{name:<{width}}  {figure:>10}  {target}")
