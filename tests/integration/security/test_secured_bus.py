"""A secured nats-server with the generated users: each may do its job and nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import nats.errors
import pytest
from fixtures.events import make
from fixtures.waiting import until
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from services.execution.lease import open_lease
from shared.bus import Delivery, consumer
from shared.events import (
    AcknowledgeAlert,
    ChainProvided,
    ChainRequested,
    DeadLettered,
    DecisionMade,
    Event,
    ExitExecuted,
    Halt,
    OrderFilled,
    PositionSnapshot,
    StrategyBuilt,
    decode,
)


@pytest.mark.parametrize(
    ("publisher", "event", "service", "stream"),
    [
        ("entry", make(StrategyBuilt, symbol="SPY"), "execution", "strategy_built"),
        ("execution", make(OrderFilled, strategy_id="s-1"), "monitor", "orders"),
        ("execution", make(ExitExecuted, strategy_id="s-1"), "decision", "exits"),
        ("decision", make(DecisionMade, strategy_id="s-1"), "execution", "decisions"),
        ("v6-cli", Halt(reason="news"), "entry", "commands"),
        ("v6-cli", make(AcknowledgeAlert, alert_id="a-1"), "decision", "commands"),
    ],
)
async def test_a_service_publishes_its_events_and_the_consumer_service_gets_them(
    login, publisher: str, event: Event, service: str, stream: str
):
    received: list[Event] = []

    async def on_event(ev: Event, delivery: Delivery) -> None:
        received.append(ev)

    consuming = await login(service)
    await consuming.consume(consumer(service, stream), on_event)
    sent = await (await login(publisher)).publish(event)
    await until(lambda: bool(received))
    assert [(e.event_id, e.producer) for e in received] == [(sent.event_id, publisher)]


async def test_position_snapshots_reach_decision_over_core_nats(login):
    received: list[Event] = []

    async def on_snapshot(ev: Event) -> None:
        received.append(ev)

    await (await login("decision")).subscribe("v6.position.>", on_snapshot, PositionSnapshot)
    sent = await (await login("monitor")).publish(make(PositionSnapshot, strategy_id="s-1"))
    await until(lambda: bool(received))
    assert received[0].event_id == sent.event_id


@pytest.mark.parametrize(
    ("user", "subject"),
    [
        ("decision", "v6.order.status.s-1"),
        ("tap", "v6.cmd.halt"),
        ("entry", "v6.decision.s-1"),
        ("monitor", "v6.cmd.close_all"),
        ("execution", "v6.sim.advance"),
        ("monitor", "$KV.V6_EXECUTION_LEASE.gateway.127.0.0.1.4002.1"),
        ("entry", "$KV.V6_EXECUTION_LEASE.gateway.127.0.0.1.4002.1"),
    ],
)
async def test_a_forbidden_publish_is_refused_and_never_delivered(raw, user: str, subject: str):
    observer = await raw("admin")
    seen: list[Any] = []

    async def on_msg(msg: Any) -> None:
        seen.append(msg)

    await observer.nc.subscribe(subject, cb=on_msg)
    await observer.nc.flush()
    intruder = await raw(user)
    await intruder.nc.publish(subject, b"forged")
    await intruder.nc.flush()
    await until(lambda: bool(intruder.errors))
    await observer.nc.flush()  # a forged message the server let through has arrived by now
    assert "permissions violation" in str(intruder.errors[0])
    assert seen == []


async def test_execution_holds_renews_and_releases_its_lease_on_the_provisioned_bucket(
    secured, login
):
    first, second = await login("execution"), await login("execution")
    holder = await open_lease(first, secured.config)  # no right to create it: the admin did
    contender = await open_lease(second, secured.config)
    assert await holder.try_acquire()
    assert not await contender.try_acquire()
    renewing = asyncio.create_task(holder.keep())
    taken = holder.revision
    await until(lambda: holder.revision > taken, "a renewal", 5)
    renewing.cancel()
    await holder.release()
    assert await contender.try_acquire()  # over the released key's delete marker


async def test_the_tap_user_reads_every_event(raw, login):
    tap = await raw("tap")
    seen: list[str] = []

    async def on_msg(msg: Any) -> None:
        seen.append(msg.subject)

    await tap.nc.subscribe("v6.>", cb=on_msg)
    await tap.nc.flush()
    await (await login("v6-cli")).publish(Halt(reason="x"))
    await until(lambda: "v6.cmd.halt" in seen)
    assert tap.errors == []


async def test_a_service_cannot_create_a_stream(raw):
    decision = await raw("decision")
    with pytest.raises(nats.errors.TimeoutError):
        await decision.nc.jetstream(timeout=0.5).add_stream(
            StreamConfig(name="ROGUE", subjects=["v6.rogue.>"])
        )
    admin = await raw("admin")
    with pytest.raises(NotFoundError):
        await admin.nc.jetstream().stream_info("ROGUE")


async def test_a_wrong_producer_or_unknown_schema_ends_on_the_dead_letter_subject(raw, login):
    letters: list[DeadLettered] = []

    async def on_letter(msg: Any) -> None:
        letters.append(decode(msg.data))

    observer = await raw("admin")
    await observer.nc.subscribe("v6.dlq.>", cb=on_letter)
    handled: list[Event] = []

    async def on_decision(ev: Event, delivery: Delivery) -> None:
        handled.append(ev)

    await (await login("execution")).consume(consumer("execution", "decisions"), on_decision)
    decision = await login("decision")
    forged = await decision.publish(make(DecisionMade, strategy_id="s-1", producer="monitor"))
    future = await decision.publish(make(DecisionMade, strategy_id="s-2", schema=99))
    good = await decision.publish(make(DecisionMade, strategy_id="s-3"))
    await until(lambda: len(letters) == 2 and len(handled) == 1)
    assert [e.event_id for e in handled] == [good.event_id]
    by_type = {letter.error_type: letter for letter in letters}
    assert set(by_type) == {"WrongProducer", "UnknownSchemaVersion"}
    assert all(letter.service == "execution" for letter in letters)
    wrong = by_type["WrongProducer"]
    assert "'monitor'" in wrong.error
    assert decode(wrong.payload).event_id == forged.event_id
    unknown = msgspec.msgpack.decode(by_type["UnknownSchemaVersion"].payload)
    assert unknown["event_id"] == future.event_id


async def test_a_wrong_producer_on_a_core_subscription_is_dead_lettered(raw, login):
    letters: list[DeadLettered] = []

    async def on_letter(msg: Any) -> None:
        letters.append(decode(msg.data))

    await (await raw("admin")).nc.subscribe("v6.dlq.decision", cb=on_letter)
    handled: list[Event] = []

    async def on_snapshot(ev: Event) -> None:
        handled.append(ev)

    await (await login("decision")).subscribe("v6.position.>", on_snapshot, PositionSnapshot)
    await (await login("monitor")).publish(
        make(PositionSnapshot, strategy_id="s-1", producer="execution")
    )
    await until(lambda: bool(letters))
    assert letters[0].error_type == "WrongProducer"
    assert handled == []


@pytest.mark.parametrize(
    ("user", "subject"),
    [
        ("entry", "_INBOX_execution.>"),
        ("tap", "_INBOX_operator.>"),
        ("monitor", "v6.sim.>"),
        ("decision", "v6.cmd.>"),
    ],
)
async def test_a_user_may_not_read_another_users_replies_or_foreign_subjects(
    raw, user: str, subject: str
):
    client = await raw(user)
    await client.nc.subscribe(subject)
    await client.nc.flush()
    await until(lambda: bool(client.errors))
    assert "permissions violation" in str(client.errors[0])


async def test_chains_are_asked_of_execution_by_entry_and_by_no_one_else(login):
    async def provide(request: ChainRequested) -> ChainProvided:
        return make(ChainProvided, symbol=request.symbol)

    await (await login("execution")).serve("v6.rpc.chain", provide, ChainRequested)
    ask = make(ChainRequested, symbol="SPY")
    reply = await (await login("entry")).request(ask, "v6.rpc.chain", ChainProvided, timeout=2.0)
    assert (reply.symbol, reply.producer) == ("SPY", "execution")
    with pytest.raises(nats.errors.TimeoutError):
        await (await login("decision")).request(ask, "v6.rpc.chain", ChainProvided, timeout=0.5)
