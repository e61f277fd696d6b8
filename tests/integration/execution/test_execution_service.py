"""The execution service as it runs: NATS in and out, the simulator as the broker, Delta tables."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import nats.errors
import pytest
from fixtures.consumers import wait_acked
from fixtures.events import decision
from fixtures.execution import chain_of, condor_event, open_condor, service_config, sim_orders
from fixtures.inbox import Inbox

import services.execution
from services.ibsim.server import Simulator
from shared.bus import Bus
from shared.config import BreakerConfig, Config, DteRollRule, RulesConfig, SimConfig
from shared.enums import Action, ExitResult, OrderPurpose, OrderStatus
from shared.events import (
    CloseAll,
    ExitExecuted,
    Halt,
    HistoryProvided,
    HistoryRequested,
    MarketDataUpdated,
    OrderDenied,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
    Resume,
)
from shared.service import Runtime, run_service

SIM = SimConfig(tick_interval_s=0.05, symbols={"SPY": 580.0, "QQQ": 500.0})


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SIM, port=0) as s:
        yield s


async def health(bus: Bus) -> dict[str, Any]:
    subject = f"{bus.subjects.prefix}.svc.execution.health"
    for _ in range(50):
        try:
            msg = await bus.nc.request(subject, b"", timeout=5)
            return json.loads(msg.data)
        except nats.errors.NoRespondersError:
            # the endpoint was registered an instant ago; the server's interest is catching up
            await asyncio.sleep(0.02)
    raise AssertionError("the execution health endpoint never answered")


async def until_synchronised(bus: Bus, timeout_s: float = 10.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (status := await health(bus))["broker"] != "synchronized":
        assert loop.time() < deadline, status
        await asyncio.sleep(0.05)
    return status


def running(config: Config, sim: Simulator, **sections: Any):
    return run_service(
        services.execution.SERVICE, service_config(config, sim.port, list(SIM.symbols), **sections)
    )


async def rows(rt: Runtime, table: str) -> list[dict[str, Any]]:
    await rt.flush_writers()
    return (await rt.tables[table].read()).to_pylist()


async def test_close_all_for_a_symbol_closes_only_that_symbols_strategies(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox
):
    async with running(config, sim) as rt:
        status = await until_synchronised(bus)
        assert status["status"] == "ok" and status["halted"] is False
        await open_condor(bus, tap, "SPY", "spy-1")
        await open_condor(bus, tap, "QQQ", "qqq-1")
        await bus.publish(CloseAll(symbol="SPY"))
        closed = await tap.wait_for(ExitExecuted, strategy_id="spy-1")
        assert closed.result is ExitResult.CLOSED and closed.closed_quantity == 1
        await wait_acked(bus, "execution", "commands")  # the close-all is done with
        assert not tap.of(ExitExecuted, strategy_id="qqq-1")
        assert [o.order_ref for o in sim_orders(sim, "qqq-1")] == ["v6:qqq-1:entry:0"]
        held = {p.instrument.symbol for p in sim.positions() if p.position}
        assert held == {"QQQ"}
        exits = await rows(rt, "exits")
        assert [(r["strategy_id"], r["result"]) for r in exits] == [("spy-1", "closed")]
        # every event execution publishes carries the gateway's market time
        assert all(e.market_time is not None for e in tap.events if e.producer == "execution")


async def test_halt_denies_new_entries_while_exits_keep_working(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox
):
    async with running(config, sim):
        await until_synchronised(bus)
        await open_condor(bus, tap, "SPY", "before-halt")
        chain = await chain_of(bus, "SPY")
        await bus.publish(Halt(reason="test"))
        await bus.publish(condor_event(chain, "during-halt"))
        denied = await tap.wait_for(OrderDenied, strategy_id="during-halt")
        assert "halted" in denied.reason
        assert (await health(bus))["halted"] is True
        await bus.publish(decision("before-halt", Action.CLOSE))
        closed = await tap.wait_for(ExitExecuted, strategy_id="before-halt")
        assert closed.result is ExitResult.CLOSED
        await bus.publish(Resume())
        await bus.publish(condor_event(chain, "after-resume"))
        await tap.wait_for(OrderPlaced, strategy_id="after-resume")
        assert not sim_orders(sim, "during-halt")


async def test_breaker_opens_after_the_configured_rejections(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox
):
    async with running(config, sim, breaker=BreakerConfig(failures=2, window_s=600, open_s=600)):
        await until_synchronised(bus)
        chain = await chain_of(bus, "SPY")
        for n in (1, 2):
            sim.reject_next_order(f"margin {n}")
            await bus.publish(condor_event(chain, f"rej-{n}"))
            await tap.wait_for(OrderRejected, strategy_id=f"rej-{n}")
            await tap.wait_for(OrderStatusChanged, strategy_id=f"rej-{n}", status="rejected")
            await asyncio.sleep(0.1)  # the order's end, which counts the failure, follows
        await bus.publish(condor_event(chain, "after-breaker"))
        denied = await tap.wait_for(OrderDenied, strategy_id="after-breaker")
        assert "circuit breaker" in denied.reason
        assert not sim_orders(sim, "after-breaker")


async def test_dry_run_places_nothing_and_records_the_would_be_order(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox
):
    dry = msgspec.structs.replace(service_config(config, 1, ["SPY"]).orders, dry_run=True)
    async with running(config, sim, orders=dry) as rt:
        await until_synchronised(bus)
        await bus.publish(condor_event(await chain_of(bus, "SPY"), "dry-1", quantity=2))
        placed = await tap.wait_for(OrderPlaced, strategy_id="dry-1")
        assert placed.dry_run and placed.combo and len(placed.legs) == 4
        await tap.wait_for(OrderStatusChanged, strategy_id="dry-1", status=OrderStatus.DRY_RUN)
        orders = await rows(rt, "orders")
    assert not sim_orders(sim, "dry-1")
    assert [(r["order_ref"], r["status"], r["dry_run"]) for r in orders] == [
        ("v6:dry-1:entry:0", "dry_run", True)
    ]


async def test_roll_is_one_combo_into_a_new_strategy_with_its_exit_event(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox
):
    # the synthetic market's later condor may pay less than closing this one: allow a debit
    rules = RulesConfig(dte_roll=DteRollRule(credit_only=False))
    async with running(config, sim, rules=rules) as rt:
        await until_synchronised(bus)
        await open_condor(bus, tap, "SPY", "roll-me", quantity=2, dte=(20, 30))  # at roll DTE
        await bus.publish(decision("roll-me", Action.ROLL, urgency="normal"))
        rolled = await tap.wait_for(ExitExecuted, strategy_id="roll-me", timeout=15)
        assert rolled.result is ExitResult.ROLLED, rolled.reason
        assert rolled.new_strategy_id == "roll-me-r1" and rolled.closed_quantity == 2
        placed = await tap.wait_for(OrderPlaced, strategy_id="roll-me-r1")
        assert placed.purpose is OrderPurpose.ROLL and placed.rolled_from == "roll-me"
        assert len(placed.legs) == 4  # the structure it opens
        (bag,) = sim_orders(sim, "roll-me-r1")
        assert bag.instrument.sec_type == "BAG" and len(bag.legs) == 8
        fills = tap.of(OrderFilled, strategy_id="roll-me-r1")
        assert sum(f.quantity for f in fills) == 2 and all(len(f.legs) == 8 for f in fills)
        new_ids = {leg.con_id for leg in placed.legs}
        held = {p.instrument.con_id: p.position for p in sim.positions() if p.position}
        assert set(held) == new_ids  # the old legs are gone, the new ones held twice each
        assert sorted(abs(q) for q in held.values()) == [2, 2, 2, 2]
        holdings = {r["strategy_id"]: r for r in await rows(rt, "holdings")}
        assert holdings["roll-me"]["status"] == "closed"
        assert holdings["roll-me-r1"]["status"] == "open" and holdings["roll-me-r1"]["held"] == 2


async def test_a_roll_that_cannot_be_built_fails_with_the_reason(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox
):
    async with running(config, sim):
        await until_synchronised(bus)
        await open_condor(bus, tap, "SPY", "no-roll")
        # a roll whose target (1 DTE) is at the time exit: no roll can be built for it
        await bus.publish(decision("no-roll", Action.ROLL, roll_to_dte=1))
        failed = await tap.wait_for(ExitExecuted, strategy_id="no-roll")
        assert failed.action is Action.ROLL and failed.result is ExitResult.FAILED
        assert failed.reason
        assert not [o for o in sim.orders if ":roll:" in o.order_ref]


async def test_a_rejected_roll_combo_falls_back_to_close_then_open(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox
):
    rules = RulesConfig(dte_roll=DteRollRule(credit_only=False))
    async with running(config, sim, rules=rules):
        await until_synchronised(bus)
        await open_condor(bus, tap, "SPY", "two-step", quantity=1, dte=(20, 30))
        sim.reject_next_order("combo not accepted")  # the one roll combo
        await bus.publish(decision("two-step", Action.ROLL))
        rolled = await tap.wait_for(ExitExecuted, strategy_id="two-step", timeout=15)
        assert rolled.result is ExitResult.ROLLED, rolled.reason
        # a roll's close under the old id counts from 100 (orders.ROLL_CLOSE_SEQ), so it never
        # shares a ref with the roll orders that opened a strategy under that same id
        assert rolled.order_refs == ["v6:two-step:roll:101", "v6:two-step-r1:roll:1"]
        close = next(o for o in sim.orders if o.order_ref == "v6:two-step:roll:101")
        (opened,) = [o for o in sim.orders if o.order_ref == "v6:two-step-r1:roll:1"]
        assert len(close.legs) == 4 and len(opened.legs) == 4
        assert close.order_id < opened.order_id  # opened only after the close filled
        placed = tap.of(OrderPlaced, strategy_id="two-step", purpose=OrderPurpose.ROLL)
        assert placed and placed[0].rolled_from is None  # the old side, under its own id


async def test_market_data_and_daily_history_are_served_over_nats(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox
):
    md = await Inbox().attach(bus, bus.subjects.wildcard("md"))
    async with running(config, sim):
        await until_synchronised(bus)
        history = await bus.request(
            HistoryRequested(symbol="SPY", what="OPTION_IMPLIED_VOLATILITY"),
            bus.subjects.rpc_history(),
            HistoryProvided,
            timeout=10,
        )
        assert not history.error and len(history.bars) > 200
        again = await bus.request(
            HistoryRequested(symbol="SPY", what="OPTION_IMPLIED_VOLATILITY"),
            bus.subjects.rpc_history(),
            HistoryProvided,
            timeout=10,
        )
        assert again.bars == history.bars  # the trading day's cache
        await md.wait_for(MarketDataUpdated, symbol="VIX")
        update = await md.wait_for(MarketDataUpdated, symbol="SPY")
        assert update.market_time is not None and update.producer == "execution"


async def test_the_operators_halt_survives_a_restart(config: Config, sim: Simulator, bus: Bus):
    cfg = service_config(config, sim.port, list(SIM.symbols))
    async with run_service(services.execution.SERVICE, cfg):
        await until_synchronised(bus)
        await bus.publish(Halt(reason="maintenance"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not (await health(bus))["halted"]:
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
    async with run_service(services.execution.SERVICE, cfg):
        assert (await until_synchronised(bus))["halted"] is True
