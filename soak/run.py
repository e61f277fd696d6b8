"""The soak itself: launch, drive entries through the trading days, measure, reconcile."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.aio.msg import Msg

from desk.cli.up import Supervisor
from services.ibsim.server import Simulator
from shared.bus import connect
from shared.config import Config, load_config
from shared.domain.calendar import next_session_open, session, trading_date
from shared.events import EvaluateEntry, PositionClosed, PositionOpened, decode
from soak.probes import BusTap, MemoryTrace, stream_sizes, table_files
from soak.reconcile import book_contracts, broker_contracts, differences

# entry allows one strategy per symbol and expiry with overlapping strikes (risk.conflicting):
# reaching the cap takes about one symbol per STRATEGIES_PER_SYMBOL open strategies
STRATEGIES_PER_SYMBOL = 4
SETTLE_S = 20.0  # after the last day: let working orders end before reconciling


@dataclass(frozen=True)
class Plan:
    days: int
    max_open: int
    data_root: Path
    speed: float = 600.0  # market seconds per wall second
    evaluate_every_s: float = 0.5  # wall seconds between EvaluateEntry commands
    sample_every_s: float = 2.0
    symbols: dict[str, float] = field(default_factory=dict)

    @classmethod
    def sized(cls, days: int, max_open: int, data_root: Path, speed: float) -> Plan:
        """A plan with enough simulated underlyings (S00, S01, ...; $40-$580) for ``max_open``."""
        count = max(3, math.ceil(max_open / STRATEGIES_PER_SYMBOL))
        symbols = {f"S{i:02d}": 40.0 + (i * 37.0) % 540.0 for i in range(count)}
        return cls(days, max_open, data_root, speed, symbols=symbols)


@dataclass
class Result:
    plan: Plan
    wall_s: float
    sessions: int
    tap: BusTap
    memory: MemoryTrace
    opened: int
    closed: int
    open_at_end: int
    files: dict[str, tuple[int, int]]
    broker_contracts: int
    book_strategies: int
    differences: list[str]
    streams: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def environment(plan: Plan, ib_port: int) -> dict[str, str]:
    """``V6__`` overrides for every process: room for ``max_open`` strategies, fast cadence."""
    per_symbol = math.ceil(plan.max_open / len(plan.symbols)) + 1
    settings: dict[str, object] = {
        "NATS__AUTH": False,  # the soak taps and drives the bus as a plain client
        "SIM__TIME_SPEED": plan.speed,
        "SIM__SYMBOLS": plan.symbols,
        "IB__PORT": ib_port,
        "IB__MAX_MARKET_DATA_LINES": 10_000,
        "IB__MAX_MESSAGES_PER_S": 1_000,  # the simulator enforces no pacing
        "UNIVERSE__SYMBOLS": list(plan.symbols),
        "ENTRY__INTERVAL_S": 1e9,  # the soak asks for evaluations itself
        "ENTRY__MAX_STRATEGIES_PER_SYMBOL": per_symbol,
        "ENTRY__MAX_TOTAL_EXPOSURE_PCT": 1.0,
        "ENTRY__MAX_POSITION_RISK_PCT": 0.05,
        "ENTRY__MAX_PORTFOLIO_DELTA": 1e9,
        "ENTRY__MAX_SYMBOL_DELTA": 1e9,
        "ENTRY__MAX_PORTFOLIO_GAMMA": 1e9,
        "ENTRY__NET_LIQUIDATION": 1_000_000.0,
        "ENTRY__IV_RANK_SELL_ABOVE": 0.0,
        "ENTRY__IV_RANK_BUY_BELOW": 0.0,
        "ENTRY__VIX_MIN": 1.0,
        "ENTRY__VIX_MAX": 100.0,
        "ENTRY__AVOID_OPEN_MINUTES": 5,
        "ENTRY__AVOID_CLOSE_MINUTES": 5,
        "BUILDER__MIN_CREDIT_PCT_OF_WIDTH": 0.10,
        "BUILDER__MAX_QUANTITY": 2,
        "MONITOR__INTERVAL_S": 600.0,  # market seconds: every 10 simulated minutes
        "STORAGE__COMPACT_EVERY_S": 30.0,  # wall seconds: compaction runs many times
        "STORAGE__COMPACT_MIN_FILES": 20,
        "LOGGING__LEVEL": "WARNING",
        "LOGGING__JSON": True,
    }
    env = {f"V6__{k}": _toml(v) for k, v in settings.items()}
    env["V6_DATA_ROOT"] = str(plan.data_root)
    return env


class Driver:
    """Counts opened/closed strategies from the bus and asks for entries while below the cap."""

    def __init__(self, plan: Plan, config: Config) -> None:
        self.plan = plan
        self.config = config
        self.tap = BusTap()
        self.opened: set[str] = set()
        self.closed: set[str] = set()
        self._book_prefix = f"{config.nats.subject_prefix}.book."

    @property
    def open_now(self) -> int:
        return len(self.opened - self.closed)

    async def on_msg(self, msg: Msg) -> None:
        self.tap.on_msg(msg, int(time.monotonic()))
        if msg.subject.startswith(self._book_prefix):
            with contextlib.suppress(Exception):
                event = decode(msg.data)
                if isinstance(event, PositionOpened):
                    self.opened.add(event.strategy_id)
                elif isinstance(event, PositionClosed):
                    self.closed.add(event.strategy_id)


async def _trade_days(
    plan: Plan, sim: Simulator, driver: Driver, pids: dict[str, int]
) -> tuple[int, MemoryTrace]:
    """Drive entries session by session, skipping nights and weekends; returns sessions run."""
    memory = MemoryTrace()
    cli = await connect(driver.config.nats, "v6-cli")
    symbols = list(plan.symbols)
    sessions, turn = 0, 0
    last_sample = 0.0
    try:
        while sessions < plan.days:
            now = sim.market.now
            today = session(trading_date(now))
            if today is None or now >= today.close:
                if today is not None:
                    sessions += 1
                    print(
                        f"  day {sessions}/{plan.days} {today.open.date()}: "
                        f"open {driver.open_now}, opened {len(driver.opened)}, "
                        f"closed {len(driver.closed)}, events {driver.tap.total}",
                        flush=True,
                    )
                sim.market.advance(next_session_open(now) - now + dt.timedelta(minutes=1))
                continue
            if driver.open_now < plan.max_open:
                symbol = symbols[turn % len(symbols)]
                turn += 1
                await cli.publish(EvaluateEntry(symbol=symbol))
            if time.monotonic() - last_sample >= plan.sample_every_s:
                memory.sample(pids)
                last_sample = time.monotonic()
            await asyncio.sleep(plan.evaluate_every_s)
    finally:
        await cli.close(grace_s=2.0)
    return sessions, memory


async def soak(plan: Plan, log_path: Path) -> Result:
    plan.data_root.mkdir(parents=True, exist_ok=True)
    ib_port = _free_port()
    os.environ.update(environment(plan, ib_port))
    # the simulator runs in this process (its account is the broker's book to reconcile);
    # the children are told it is enabled so they run on its accelerated market time
    config = load_config(overrides={"sim": {"enabled": False}})
    sim_config = load_config().sim
    started = time.monotonic()
    with log_path.open("w") as log:
        supervisor = Supervisor(config, out=log)
        async with Simulator(sim_config, port=ib_port) as sim:
            nats_url = await supervisor.start()
            driver = Driver(plan, load_config(overrides={"nats": {"url": nats_url}}))
            tap = await nats.connect(nats_url, name="v6-soak-tap")
            await tap.subscribe(f"{config.nats.subject_prefix}.>", cb=driver.on_msg)
            pids = {c.name: c.process.pid for c in supervisor.children if c.process}
            pids["soak+ibsim"] = os.getpid()
            try:
                sessions, memory = await _trade_days(plan, sim, driver, pids)
                sim.market.pause()
                await asyncio.sleep(SETTLE_S)
                memory.sample(pids)
                broker = broker_contracts(sim.account.open_positions())
                book, strategies = await book_contracts(plan.data_root)
                streams = await stream_sizes(tap, config.nats.subject_prefix)
            finally:
                await tap.drain()
                await supervisor.stop()
    return Result(
        plan=plan,
        wall_s=time.monotonic() - started,
        sessions=sessions,
        tap=driver.tap,
        memory=memory,
        opened=len(driver.opened),
        closed=len(driver.closed),
        open_at_end=driver.open_now,
        files=table_files(plan.data_root),
        broker_contracts=sum(abs(v) for v in broker.values()),
        book_strategies=strategies,
        differences=differences(broker, book),
        streams=streams,
    )
