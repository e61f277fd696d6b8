"""The entry service end to end: a real nats-server, real Delta tables, the simulator's market.

Execution's side (market data, chain and history answers, order and fill events) is played by
the test: ``MarketDesk`` answers from the IB simulator's market model, and fills are published
as execution publishes them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from entry_desk import MarketDesk, wait_status
from fixtures.consumers import wait_acked
from fixtures.events import leg_fills
from fixtures.market import START
from fixtures.tables import table_rows

from services.entry import SERVICE
from services.entry.tables import SIGNALS
from shared.bus import STREAMS, Bus
from shared.config import Config, dump_config, load_config
from shared.domain.strategy import order_ref
from shared.enums import Direction, OrderPurpose, OrderSide, Right, StrategyType, Trend
from shared.events import (
    EntrySignalEvaluated,
    EvaluateEntry,
    Halt,
    OrderFilled,
    OrderPlaced,
    Resume,
    StrategyBuilt,
    encode,
)
from shared.service import run_service


def _failed(signal: EntrySignalEvaluated) -> dict[str, Any]:
    return {c.name: c for c in signal.checks if not c.passed}


async def _built_in_stream(bus: Bus) -> int:
    spec = next(s for s in STREAMS if s.key == "strategy_built")
    info = await bus.js.stream_info(spec.name(bus.config.subject_prefix))
    return info.state.messages


async def _fill(bus: Bus, built: StrategyBuilt) -> None:
    """What execution publishes when the entry combo fills completely at its limit."""
    ref = order_ref(built.strategy_id, OrderPurpose.ENTRY)
    side = OrderSide.SELL if built.limit_price > 0 else OrderSide.BUY
    common = dict(strategy_id=built.strategy_id, order_ref=ref, purpose=OrderPurpose.ENTRY)
    await bus.publish(
        OrderPlaced(
            **common,
            broker_order_id=7,
            combo=True,
            side=side,
            quantity=built.quantity,
            limit_price=built.limit_price,
            legs=built.legs,
            symbol=built.symbol,
            strategy_type=built.strategy_type,
        )
    )
    await bus.publish(
        OrderFilled(
            **common,
            broker_order_id=7,
            exec_id="0001",
            side=side,
            quantity=built.quantity,
            price=built.limit_price,
            cumulative_quantity=built.quantity,
            total_quantity=built.quantity,
            legs=leg_fills(built.legs, built.quantity),
        )
    )


async def _evaluate(bus: Bus, desk: MarketDesk, inbox: Any) -> EntrySignalEvaluated:
    """Send fresh quotes and an evaluate_entry command; the signal it produced."""
    await desk.publish_quotes(bus)
    seen = len(inbox.of(EntrySignalEvaluated))
    await bus.publish(EvaluateEntry(symbol="SPY"))
    return await inbox.next_of(EntrySignalEvaluated, after=seen)


def _with(config: Config, **entry: Any) -> Config:
    tree = dump_config(config)
    tree["entry"].update(entry)
    return load_config(env={}, overrides=tree)


async def test_high_iv_rank_builds_a_condor_that_opens_on_its_fill(
    entry_config, bus, desk, inbox, data_root
):
    desk.make_neutral("SPY")
    await desk.serve(bus)
    async with run_service(SERVICE, entry_config):
        signal = await _evaluate(bus, desk, inbox)
        assert signal.accepted, signal.reasons
        assert signal.iv_rank > 50
        assert (signal.direction, signal.trend) == (Direction.SELL_PREMIUM, Trend.NEUTRAL)
        assert signal.strategy_type is StrategyType.IRON_CONDOR

        built = await inbox.next_of(StrategyBuilt, after=0)
        assert (built.signal_id, built.correlation_id) == (signal.signal_id, signal.signal_id)
        assert built.strategy_type is StrategyType.IRON_CONDOR
        legs = sorted(built.legs, key=lambda leg: leg.strike)
        assert [(leg.right, leg.quantity) for leg in legs] == [
            (Right.PUT, 1),
            (Right.PUT, -1),
            (Right.CALL, -1),
            (Right.CALL, 1),
        ]
        assert len({leg.expiry for leg in legs}) == 1
        assert built.limit_price > 0 and built.quantity >= 1
        assert built.max_loss <= entry_config.entry.max_position_risk_pct * 100_000.0
        listed = desk.chain("SPY", 35, 60)
        assert {(q.right, q.strike, q.expiry) for q in listed.quotes} >= {
            (leg.right, leg.strike, leg.expiry) for leg in legs
        }
        await wait_status(data_root, built.strategy_id, "pending")

        await _fill(bus, built)
        row = await wait_status(data_root, built.strategy_id, "open")
        assert row["filled_quantity"] == built.quantity
        assert row["fill_price"] == built.limit_price
        assert row["signal_id"] == signal.signal_id
    assert await _built_in_stream(bus) == 1
    signals = await table_rows(data_root, "entry", SIGNALS)
    assert [(r["signal_id"], r["accepted"]) for r in signals] == [(signal.signal_id, True)]


async def test_entry_rejected_when_vix_is_above_the_band(entry_config, bus, desk, inbox):
    desk.make_neutral("SPY")
    desk.market.set_vix(40.0)
    await desk.serve(bus)
    async with run_service(SERVICE, entry_config):
        signal = await _evaluate(bus, desk, inbox)
        await wait_acked(bus, "entry", "commands")  # nothing else came of it
    assert not signal.accepted
    vix = _failed(signal)["vix"]
    assert (vix.value, vix.limit) == (40.0, 35.0)
    assert any(reason.startswith("vix") for reason in signal.reasons)
    assert inbox.of(StrategyBuilt) == []
    assert await _built_in_stream(bus) == 0
    assert desk.chain_requests == 0  # a rejected market step builds nothing


async def test_entry_rejected_by_the_portfolio_delta_limit(entry_config, bus, desk, inbox):
    # the seeded SPY trades above its 20-day average: a put credit spread, long delta
    await desk.serve(bus)
    async with run_service(SERVICE, _with(entry_config, max_portfolio_delta=5.0)):
        signal = await _evaluate(bus, desk, inbox)
        await wait_acked(bus, "entry", "commands")  # nothing else came of it
    assert signal.strategy_type is StrategyType.PUT_CREDIT_SPREAD
    assert not signal.accepted
    failed = _failed(signal)
    assert list(failed) == ["portfolio_delta"]
    assert failed["portfolio_delta"].value > failed["portfolio_delta"].limit == 5.0
    assert inbox.of(StrategyBuilt) == []
    assert await _built_in_stream(bus) == 0


async def test_a_redelivered_evaluation_and_a_second_one_build_one_strategy(
    entry_config, bus, desk, inbox
):
    desk.make_neutral("SPY")
    await desk.serve(bus)
    async with run_service(SERVICE, entry_config):
        await desk.publish_quotes(bus)
        command = await bus.publish(EvaluateEntry(symbol="SPY"))
        # the same command again under another stream message id, as a redelivery after a
        # crash would hand it over: same event id, so the same signal id
        subject = bus.subjects.for_event(command)
        await bus.js.publish(subject, encode(command), headers={"Nats-Msg-Id": "again"})
        first = await inbox.next_of(EntrySignalEvaluated, after=0)
        replay = await inbox.next_of(EntrySignalEvaluated, after=1)
        assert first.signal_id == replay.signal_id
        assert "signal_unused" in _failed(replay)

        other = await _evaluate(bus, desk, inbox)
        await wait_acked(bus, "entry", "commands")  # nothing else came of it
    assert other.signal_id != first.signal_id
    assert "no_conflict" in _failed(other)
    assert len(inbox.of(StrategyBuilt)) == 1
    assert await _built_in_stream(bus) == 1


async def test_a_restart_keeps_the_book_and_the_halt(entry_config, bus, desk, inbox, data_root):
    desk.make_neutral("SPY")
    await desk.serve(bus)
    async with run_service(SERVICE, entry_config):
        assert (await _evaluate(bus, desk, inbox)).accepted
        built = await inbox.next_of(StrategyBuilt, after=0)
    # a pending strategy is announced again at start-up under the same event id
    async with run_service(SERVICE, entry_config):
        await inbox.next_of(StrategyBuilt, after=1)
        await _fill(bus, built)
        await wait_status(data_root, built.strategy_id, "open")
        await bus.publish(Halt(reason="operator test"))
        await wait_acked(bus, "entry", "commands")  # nothing else came of it
    async with run_service(SERVICE, entry_config):
        signal = await _evaluate(bus, desk, inbox)
    failed = _failed(signal)
    assert "halted" in failed and "operator test" in failed["halted"].detail
    assert await _built_in_stream(bus) == 1

    async with run_service(SERVICE, entry_config):
        await bus.publish(Resume())
        await wait_acked(bus, "entry", "commands")  # nothing else came of it
        signal = await _evaluate(bus, desk, inbox)
    assert "halted" not in _failed(signal)
    assert "no_conflict" in _failed(signal)  # the open condor restored from the table
    assert await _built_in_stream(bus) == 1


async def test_the_timer_evaluates_in_market_time_and_enters_once(entry_config, bus, desk, inbox):
    desk.make_neutral("SPY")
    await desk.serve(bus)
    async with run_service(SERVICE, _with(entry_config, interval_s=0.3)):
        await desk.publish_quotes(bus)
        await inbox.next_of(EntrySignalEvaluated, after=2)
    signals = inbox.of(EntrySignalEvaluated)
    accepted = [s for s in signals if s.accepted]
    assert len(accepted) == 1
    # the signal id is the symbol's evaluation interval in market time (the desk's clock)
    assert accepted[0].signal_id.startswith("sig-SPY-20261124T1545")
    assert all(s.signal_id.startswith("sig-SPY-20261124T") for s in signals)
    assert await _built_in_stream(bus) == 1


async def test_the_timer_does_not_evaluate_outside_the_session(entry_config, bus, inbox):
    evening = MarketDesk(start=START.replace(hour=1))  # 20:45 New York, the day before
    await evening.serve(bus)
    async with run_service(SERVICE, _with(entry_config, interval_s=0.2)):
        await evening.publish_quotes(bus)
        await asyncio.sleep(1.0)  # a timer that must not fire: nothing to wait on
    assert inbox.of(EntrySignalEvaluated) == []
    assert evening.history_requests == 0
