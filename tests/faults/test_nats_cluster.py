"""The system on a three-server NATS cluster with R3 streams: the server leading the decisions
stream is killed mid-cycle and restarted later; the exit still happens once. The server leading
the execution lease's bucket is killed: the holder keeps its lease through the election."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from fault_harness import assert_closed_once, on_server
from fixtures.lease import ValiditySampler
from fixtures.system import system_on
from fixtures.waiting import until

from services.execution.lease import open_lease
from shared.bus import STREAMS, connect, ensure_streams
from shared.bus.streams import ensure_lease_bucket, lease_bucket
from shared.config import Config, ExecutionLeaseConfig, NatsConfig
from shared.enums import Action
from shared.natsserver import NatsCluster

pytestmark = pytest.mark.slow


async def _streams_once_a_leader_is_elected(
    config: NatsConfig, attempts: int = 40, lease_ttl_s: float | None = None
) -> None:
    # the cluster elects its JetStream meta leader in its own time; until then the API is mute
    bus = await connect(config, "test")
    try:
        for attempt in range(attempts):
            try:
                if lease_ttl_s is None:
                    await ensure_streams(bus.js, config)
                else:
                    await ensure_lease_bucket(bus.js, config, lease_ttl_s)
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


async def test_the_execution_lease_survives_the_loss_of_the_server_leading_its_bucket(
    config: Config, tmp_path: Path
):
    cluster = NatsCluster(tmp_path / "cluster")
    await asyncio.to_thread(cluster.start)
    buses = []
    try:
        # the default lease: what a deployment on the cluster runs with
        cfg = msgspec.structs.replace(
            on_server(config, cluster.url, replicas=3), execution_lease=ExecutionLeaseConfig()
        )
        await _streams_once_a_leader_is_elected(cfg.nats, lease_ttl_s=cfg.execution_lease.ttl_s)
        buses = [await connect(cfg.nats, "execution") for _ in range(2)]
        holder, contender = [await open_lease(bus, cfg) for bus in buses]
        assert await holder.try_acquire()
        sampler = ValiditySampler(holder)
        renewing = asyncio.create_task(holder.keep())
        bucket = await buses[0].js.stream_info(f"KV_{lease_bucket(cfg.nats.subject_prefix)}")
        assert bucket.config.num_replicas == 3 and bucket.cluster is not None
        leader = next(n for n in cluster.nodes if n.extra_args[1] == bucket.cluster.leader)

        before = holder.revision
        await asyncio.to_thread(leader.kill)
        await until(lambda: holder.revision > before, "a renewal after the election", 30, 0.05)
        await until(lambda: holder.revision > before + 2, "renewals going on", 10)
        await sampler.stop()
        assert not renewing.done() and holder.valid()
        assert holder.instance not in sampler.lapsed  # it could trade all along
        assert not await contender.try_acquire()

        await asyncio.to_thread(leader.start)  # it rejoins; the holder keeps renewing
        renewed = holder.revision
        await until(lambda: holder.revision > renewed + 1, "renewals with all three back", 10)
        renewing.cancel()
    finally:
        for bus in buses:
            await bus.close(grace_s=1.0)
        await asyncio.to_thread(cluster.stop)
