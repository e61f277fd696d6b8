"""Every subject each service consumes, fuzzed: garbage ends as a dead letter (or a refusal
with a reason), the service keeps running, and the next valid message has its normal effect."""

from __future__ import annotations

import uuid

import msgspec
from fixtures.consumers import wait_acked
from fixtures.events import make
from hostile.conftest import Hostile, draw, subscribed_subjects
from hostile.payloads import (
    ODD_SYMBOL,
    bad_decisions,
    bad_strategies,
    built,
    odd_market_data,
    stamped,
    template,
    undecodable,
)

from shared.enums import Action, ExitResult, StrategyType
from shared.events import (
    CloseAll,
    DeadLettered,
    DecisionMade,
    EntrySignalEvaluated,
    EvaluateEntry,
    ExitExecuted,
    Halt,
    OrderDenied,
    PositionSnapshot,
    Resume,
    SnapshotNow,
)


async def dead_letters_garbage_on_every_subject(h: Hostile, service: str) -> None:
    for relative in subscribed_subjects(service):
        payloads = draw(undecodable(template(relative)))
        await h.publish_raw(relative, payloads)
        await h.all_dead_lettered(service, payloads)
    await h.assert_alive(service)


async def test_decision_dead_letters_garbage_and_still_decides(hostile: Hostile) -> None:
    await hostile.system.start("decision")
    await dead_letters_garbage_on_every_subject(hostile, "decision")

    sid = f"valid-{uuid.uuid4().hex[:8]}"
    snapshot = make(
        PositionSnapshot,
        producer="test",
        strategy_id=sid,
        symbol="SPY",
        strategy_type=StrategyType.IRON_CONDOR,
        upl_pct=0.9,
        dte=30,
    )
    await hostile.bus.publish(snapshot)
    decision = await hostile.inbox.wait_for(DecisionMade, lambda d: d.strategy_id == sid)
    assert decision.action is not Action.HOLD


async def test_execution_refuses_out_of_range_strategies_and_decisions(hostile: Hostile) -> None:
    await hostile.system.start("execution")
    await dead_letters_garbage_on_every_subject(hostile, "execution")

    for relative, strategy, refused in (
        ("strategy.built.SPY", bad_strategies(), _denied),
        ("decision.SPY", bad_decisions(), _failed_exit),
    ):
        cases = stamped(draw(strategy))
        await hostile.publish_raw(relative, [data for _, data in cases])
        await hostile.all_refused_or_dead_lettered("execution", cases, refused)
    # nothing out of range ever reached the broker
    assert hostile.system.sim.orders == []
    await hostile.assert_alive("execution")

    # the next valid messages have their normal effect on each consumer
    await hostile.bus.publish(make(DecisionMade, producer="test", strategy_id="ghost"))
    await hostile.inbox.wait_for(ExitExecuted, lambda e: _failed_exit(hostile, "ghost"))
    await hostile.bus.publish(Halt(reason="fuzz"))
    await hostile.bus.publish(built("after-halt"))
    denied = await hostile.inbox.wait_for(OrderDenied, lambda e: e.strategy_id == "after-halt")
    assert "halted" in denied.reason
    await hostile.bus.publish(Resume())


async def test_entry_survives_garbage_and_still_evaluates(hostile: Hostile) -> None:
    system = hostile.system
    # subscribers first: the paused market sends VIX and SPY quotes once, when execution starts
    await system.start("entry", "execution")
    await system.wait_market_data("SPY")
    await dead_letters_garbage_on_every_subject(hostile, "entry")
    await hostile.publish_raw(f"md.{ODD_SYMBOL}", draw(odd_market_data(), 20))
    await hostile.assert_alive("entry")

    await hostile.bus.publish(EvaluateEntry(symbol="SPY"))
    await hostile.inbox.wait_for(EntrySignalEvaluated, lambda e: e.symbol == "SPY", timeout=30)


async def test_monitor_survives_garbage_and_still_values_positions(hostile: Hostile) -> None:
    system = hostile.system
    await system.start("entry", "monitor", "execution")
    system.make_neutral("SPY")
    await system.wait_market_data("SPY")
    await dead_letters_garbage_on_every_subject(hostile, "monitor")
    await hostile.publish_raw(f"md.{ODD_SYMBOL}", draw(odd_market_data(), 20))
    await hostile.assert_alive("monitor")

    opened = await system.open_strategy("SPY")
    await hostile.bus.publish(SnapshotNow())
    snapshot = await hostile.inbox.wait_for(
        PositionSnapshot, lambda s: s.strategy_id == opened.strategy_id, timeout=30
    )
    assert snapshot.quantity == opened.quantity


def _denied(h: Hostile, sid: str) -> bool:
    return bool(h.inbox.of(OrderDenied, lambda e: e.strategy_id == sid and e.reason != ""))


def _failed_exit(h: Hostile, sid: str) -> bool:
    return bool(
        h.inbox.of(
            ExitExecuted,
            lambda e: e.strategy_id == sid and e.result is ExitResult.FAILED and e.reason != "",
        )
    )


async def test_a_payload_near_the_size_limit_is_still_dead_lettered(hostile: Hostile) -> None:
    await hostile.system.start("execution")
    # the dead letter wraps the raw payload: it must not outgrow what the server accepts
    garbage = b"\xc1" * (hostile.bus.nc.max_payload - 64)
    await hostile.publish_raw("strategy.built.SPY", [garbage])
    await hostile.inbox.wait_until(
        lambda: any(
            letter.payload == garbage[: len(letter.payload)]
            for letter in hostile.inbox.of(DeadLettered, lambda d: d.service == "execution")
        ),
        "the oversized payload dead-lettered",
        30,
    )
    await hostile.assert_alive("execution")


async def test_an_id_no_subject_can_carry_is_dead_lettered_and_execution_stays_on_the_bus(
    hostile: Hostile,
) -> None:
    # a 5 KB id once made the server close execution's connection for good; one with a space
    # was placed at the broker with no event, no dead letter and no row
    await hostile.system.start("execution")
    payloads = [
        msgspec.msgpack.encode({**msgspec.to_builtins(built("ok")), "strategy_id": bad})
        for bad in ("x" * 5000, "two words", "dotted.id")
    ]
    await hostile.publish_raw("strategy.built.SPY", payloads)
    await hostile.all_dead_lettered("execution", payloads)
    assert hostile.system.sim.orders == []
    await hostile.assert_alive("execution")
    await hostile.bus.publish(CloseAll(symbol="SPY"))  # the next command still goes through
    await wait_acked(hostile.bus, "execution", "commands")
    await hostile.assert_alive("execution")
