"""The bus against a real nats-server: de-duplication, dead letters, retries, request/reply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest
from fixtures.consumers import wait_acked
from fixtures.events import make
from fixtures.inbox import Inbox

from shared.bus import Bus, connect, consumer, ensure_streams
from shared.bus.streams import STREAMS
from shared.config import Config
from shared.errors import Refused, Transient
from shared.events import (
    ChainProvided,
    ChainRequested,
    DeadLettered,
    MarketDataUpdated,
    StrategyBuilt,
    decode,
    encode,
)

DLQ = next(s for s in STREAMS if s.key == "dlq")
BUILT = next(s for s in STREAMS if s.key == "strategy_built")


@pytest.fixture
async def execution_bus(config: Config) -> AsyncIterator[Bus]:
    """A connection named like the execution service, consuming as it does."""
    b = await connect(config.nats, "execution")
    await ensure_streams(b.js, config.nats)
    yield b
    await b.close(grace_s=2.0)


async def dead_letters(bus: Bus, service: str, count: int, timeout: float = 10.0):
    sub = await bus.js.pull_subscribe(
        bus.subjects.dlq(service), stream=DLQ.name(bus.config.subject_prefix)
    )
    try:
        msgs = await sub.fetch(count, timeout=timeout)
    finally:
        await sub.unsubscribe()
    return [decode(m.data) for m in msgs]


async def stream_messages(bus: Bus, key: str) -> int:
    spec = next(s for s in STREAMS if s.key == key)
    info = await bus.js.stream_info(spec.name(bus.config.subject_prefix))
    return info.state.messages


async def test_publishing_the_same_event_twice_stores_it_once(bus: Bus) -> None:
    event = make(StrategyBuilt, symbol="SPY")
    await bus.publish(event)
    await bus.publish(event)
    ack = await bus.js.publish(
        bus.subjects.for_event(event), encode(event), headers={"Nats-Msg-Id": event.event_id}
    )
    assert ack.duplicate is True
    assert await stream_messages(bus, "strategy_built") == 1


async def test_publish_stamps_the_producing_service(bus: Bus) -> None:
    sent = await bus.publish(make(StrategyBuilt, producer=""))
    assert sent.producer == "test"


async def test_market_data_goes_over_core_nats_outside_every_stream(bus: Bus) -> None:
    got: asyncio.Queue[MarketDataUpdated] = asyncio.Queue()

    async def on_md(event: MarketDataUpdated) -> None:
        await got.put(event)

    await bus.subscribe(bus.subjects.md("SPY"), on_md, MarketDataUpdated)
    await bus.nc.flush()
    await bus.publish(make(MarketDataUpdated, symbol="SPY"))
    received = await asyncio.wait_for(got.get(), 5)
    assert received.symbol == "SPY"


async def test_a_malformed_message_is_dead_lettered_and_the_next_one_handled(
    bus: Bus, execution_bus: Bus
) -> None:
    handler = Inbox()
    spec = consumer("execution", "strategy_built")
    await execution_bus.consume(spec, handler.on_delivery, StrategyBuilt)
    subject = bus.subjects.strategy_built("SPY")
    await bus.js.publish(subject, b"\xc1 not msgpack")
    good = await bus.publish(make(StrategyBuilt, symbol="SPY"))

    await handler.wait_for(StrategyBuilt, timeout=10)
    [letter] = await dead_letters(bus, "execution", 1)
    assert [e.event_id for e, _ in handler.deliveries] == [good.event_id]
    assert isinstance(letter, DeadLettered)
    assert letter.subject == subject
    assert letter.error_type == "DecodeError"
    assert letter.payload == b"\xc1 not msgpack"


async def test_a_wrongly_typed_field_is_dead_lettered_with_its_path(
    bus: Bus, execution_bus: Bus
) -> None:
    raw = msgspec.to_builtins(make(StrategyBuilt, symbol="SPY"))
    raw["quantity"] = "two"
    spec = consumer("execution", "strategy_built")
    await execution_bus.consume(spec, Inbox().on_delivery, StrategyBuilt)
    await bus.js.publish(bus.subjects.strategy_built("SPY"), msgspec.msgpack.encode(raw))

    [letter] = await dead_letters(bus, "execution", 1)
    assert letter.error_type == "ValidationError"
    assert "$.quantity" in letter.error


async def test_a_failing_handler_is_retried_then_dead_lettered_at_max_deliveries(
    bus: Bus, execution_bus: Bus, config: Config
) -> None:
    handler = Inbox([RuntimeError("boom")] * 10)
    spec = consumer("execution", "strategy_built")
    await execution_bus.consume(spec, handler.on_delivery, StrategyBuilt)
    event = await bus.publish(make(StrategyBuilt))

    [letter] = await dead_letters(bus, "execution", 1)
    assert [d.deliveries for _, d in handler.deliveries] == [1, 2, 3]
    assert letter.deliveries == config.nats.max_deliveries == 3
    assert "RuntimeError: boom" in letter.error
    assert decode(letter.payload) == event


async def test_a_transient_error_is_retried_and_then_succeeds(bus: Bus, execution_bus: Bus) -> None:
    handler = Inbox([Transient("gateway not connected")])
    spec = consumer("execution", "strategy_built")
    await execution_bus.consume(spec, handler.on_delivery, StrategyBuilt)
    await bus.publish(make(StrategyBuilt))

    await handler.wait_for(StrategyBuilt, timeout=10)
    await wait_acked(bus, "execution", "strategy_built")  # acked: nothing can come back
    assert [d.deliveries for _, d in handler.deliveries] == [1, 2]
    assert await stream_messages(bus, "dlq") == 0


async def test_a_refusal_is_acked_without_retry(bus: Bus, execution_bus: Bus) -> None:
    handler = Inbox([Refused("halted")])
    spec = consumer("execution", "strategy_built")
    await execution_bus.consume(spec, handler.on_delivery, StrategyBuilt)
    await bus.publish(make(StrategyBuilt))

    await wait_acked(bus, "execution", "strategy_built")  # acked: nothing can come back
    assert len(handler.deliveries) == 1
    assert await stream_messages(bus, "dlq") == 0


async def test_request_reply_answers_with_the_typed_reply(bus: Bus, execution_bus: Bus) -> None:
    async def chain(request: ChainRequested) -> ChainProvided:
        return make(ChainProvided, symbol=request.symbol, correlation_id=request.event_id)

    subject = bus.subjects.rpc_chain()
    await execution_bus.serve(subject, chain, ChainRequested)
    await execution_bus.nc.flush()
    request = make(ChainRequested, symbol="QQQ")
    reply = await bus.request(request, subject, ChainProvided, timeout=5)
    assert (reply.symbol, reply.correlation_id, reply.producer) == (
        "QQQ",
        request.event_id,
        "execution",
    )


async def test_serving_a_subject_inside_a_stream_is_refused(bus: Bus) -> None:
    async def nothing(request: ChainRequested) -> ChainProvided:
        raise AssertionError

    with pytest.raises(ValueError, match="inside a stream"):
        await bus.serve(bus.subjects.cmd("halt"), nothing)


async def test_an_undecodable_core_message_is_dead_lettered_and_the_subscription_goes_on(
    bus: Bus,
) -> None:
    got: asyncio.Queue[MarketDataUpdated] = asyncio.Queue()

    async def on_md(event: MarketDataUpdated) -> None:
        await got.put(event)

    await bus.subscribe(bus.subjects.md("SPY"), on_md, MarketDataUpdated)
    await bus.nc.flush()
    await bus.nc.publish(bus.subjects.md("SPY"), b"\xc1")
    await bus.publish(make(MarketDataUpdated, symbol="SPY"))

    assert (await asyncio.wait_for(got.get(), 5)).symbol == "SPY"
    [letter] = await dead_letters(bus, "test", 1)
    assert (letter.subject, letter.payload) == (bus.subjects.md("SPY"), b"\xc1")
