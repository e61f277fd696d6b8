"""Every stream is bounded by count, size and age, the oldest messages going first, so that no
publisher can grow one without end (nats.stream_max_* settings)."""

from __future__ import annotations

import msgspec
from fixtures.events import make
from nats.js.api import DiscardPolicy, StreamConfig

from shared.bus import Bus, connect, ensure_streams
from shared.bus.streams import STREAMS, stream_config
from shared.config import Config
from shared.events import DeadLettered


def _limits(config: StreamConfig) -> tuple[object, ...]:
    return (config.max_msgs, config.max_bytes, config.max_age, config.discard)


async def test_every_stream_is_created_with_the_configured_limits(bus: Bus, config: Config):
    nats_cfg = config.nats
    wanted = (
        nats_cfg.stream_max_msgs,
        nats_cfg.stream_max_bytes,
        nats_cfg.stream_max_age_s,
        DiscardPolicy.OLD,
    )
    for spec in STREAMS:
        info = await bus.js.stream_info(spec.name(nats_cfg.subject_prefix))
        assert _limits(info.config) == wanted, spec.key


async def test_a_stream_made_before_the_limits_gets_them_at_the_next_start(config: Config):
    nats_cfg = msgspec.structs.replace(config.nats, stream_max_msgs=1000, stream_max_age_s=3600.0)
    bus = await connect(nats_cfg, "test")
    try:
        dlq = next(s for s in STREAMS if s.key == "dlq")
        # as the streams were made before they had limits
        old = stream_config(dlq, nats_cfg)
        old.max_msgs, old.max_bytes, old.max_age = -1, -1, 0
        await bus.js.add_stream(old)
        await ensure_streams(bus.js, nats_cfg)
        info = await bus.js.stream_info(old.name)
    finally:
        await bus.close(grace_s=1.0)
    assert (info.config.max_msgs, info.config.max_age) == (1000, 3600.0)


async def test_a_full_stream_drops_its_oldest_messages(config: Config):
    nats_cfg = msgspec.structs.replace(config.nats, stream_max_msgs=3)
    bus = await connect(nats_cfg, "test")
    try:
        await ensure_streams(bus.js, nats_cfg)
        for n in range(5):
            await bus.publish(make(DeadLettered, service="test", error=f"letter {n}"))
        dlq = next(s for s in STREAMS if s.key == "dlq")
        state = (await bus.js.stream_info(dlq.name(nats_cfg.subject_prefix))).state
    finally:
        await bus.close(grace_s=1.0)
    assert (state.messages, state.first_seq, state.last_seq) == (3, 3, 5)
