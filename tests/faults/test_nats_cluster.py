"""The system on a three-server NATS cluster with R3 streams: the server leading the decisions
stream is killed mid-cycle and restarted later; the exit still happens once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fault_harness import assert_closed_once, on_server
from fixtures.system import system_on

from shared.bus import STREAMS, connect, ensure_streams
from shared.config import Config, NatsConfig
from shared.enums import Action
from shared.natsserver import NatsCluster

pytestmark = pytest.mark.slow


async def _streams_once_a_leader_is_elected(config: NatsConfig, attempts: int = 40) -> None:
    # the cluster elects its JetStream meta leader in its own time; until then the API is mute
    bus = await connect(config, "test")
    try:
        for attempt in range(attempts):
            try:
                await ensure_streams(bus.js, config)
                return
            except Exception:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.25)
    finally:
        await bus.close(grace_s=1.0)


async def test_a_cluster_member_killed_mid_cycle_the_exit_still_happens_once(
    config: Config, data_root: Path, tmp_path: Path
):
    cluster = NatsCluster(tmp_path / "cluster")
    await asyncio.to_thread(cluster.start)
    try:
        cfg = on_server(config, cluster.url, replicas=3)
        await _streams_once_a_leader_is_elected(cfg.nats)
        async with system_on(cfg, data_root) as system:
            system.make_neutral("SPY")
            await system.start()
            await system.wait_market_data()
            built = await system.open_strategy("SPY")
            (decisions,) = [s for s in STREAMS if s.key == "decisions"]
            info = await system.bus.js.stream_info(decisions.name(cfg.nats.subject_prefix))
            assert info.config.num_replicas == 3 and info.cluster is not None
            leader = next(n for n in cluster.nodes if n.extra_args[1] == info.cluster.leader)

            await system.take_profit(built.strategy_id, Action.CLOSE)
            await asyncio.to_thread(leader.kill)  # the stream's leader, while the exit works
            await assert_closed_once(system, built.strategy_id, built.quantity)
            await asyncio.to_thread(leader.start)  # it rejoins and catches up
            await assert_closed_once(system, built.strategy_id, built.quantity)
    finally:
        await asyncio.to_thread(cluster.stop)
