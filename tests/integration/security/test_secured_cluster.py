"""Three routed servers running the same generated users: R3 streams, least privilege kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from fixtures.events import make
from fixtures.waiting import until

from desk.cli.up import provision_as_admin
from shared.bus import Delivery, connect, consumer, credentials
from shared.config import Config, load_config
from shared.events import DecisionMade, Event
from shared.natsserver import NatsCluster


@pytest.mark.slow
async def test_a_secured_cluster_replicates_streams_and_serves_each_user(tmp_path: Path):
    secrets = tmp_path / "secrets"
    conf = credentials.generate("v6", secrets, tmp_path / credentials.AUTH_CONF)
    with NatsCluster(tmp_path / "cluster", config_file=conf) as cluster:
        config = load_config(
            env={},
            overrides={
                "nats": {
                    "url": cluster.url,
                    "credentials_dir": str(secrets),
                    "manage_streams": False,
                    "replicas": 3,
                }
            },
        )
        nats_cfg = config.nats
        await _provision_once_a_leader_is_elected(config)
        admin = await connect(nats_cfg, "admin")
        stream = await admin.js.stream_info("V6_DECISIONS")
        assert stream.config.num_replicas == 3
        handled: list[Event] = []

        async def on_decision(ev: Event, delivery: Delivery) -> None:
            handled.append(ev)

        execution = await connect(nats_cfg, "execution")
        await execution.consume(consumer("execution", "decisions"), on_decision)
        decision = await connect(
            msgspec.structs.replace(nats_cfg, url=cluster.nodes[2].url), "decision"
        )
        sent = await decision.publish(make(DecisionMade, strategy_id="s-1"))
        await until(lambda: bool(handled), timeout=10.0)
        assert handled[0].event_id == sent.event_id
        for bus in (decision, execution, admin):
            await bus.close(grace_s=1.0)


async def _provision_once_a_leader_is_elected(config: Config, attempts: int = 40) -> None:
    # the cluster elects its JetStream meta leader in its own time; until then the API is mute
    for attempt in range(attempts):
        try:
            await provision_as_admin(config, config.nats.url or "")
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.25)
