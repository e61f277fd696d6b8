"""One active execution per IB account: the lease in its JetStream key-value bucket, on a real
nats-server, and the execution service holding it against the simulator.

Times are wall seconds (the lease is market-independent); the lease here is short so that a
lapse takes two seconds.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest
from fixtures.execution import build, chain_of, condor_event, service_config, sim_orders, teardown
from fixtures.inbox import Inbox
from fixtures.lease import ValiditySampler
from fixtures.waiting import until

import services.execution
from services.execution.ib_client import BrokerUnavailable, IBClient
from services.execution.lease import LeaseMisconfigured, LeaseRole, lease_key, open_lease
from services.ibsim.server import Simulator
from shared.bus import Bus, connect
from shared.bus.streams import ensure_lease_bucket, lease_bucket
from shared.config import Config, ExecutionLeaseConfig
from shared.domain.chain import OptionChain
from shared.enums import BrokerState
from shared.events import BrokerConnectionChanged, ChainRequested, OrderPlaced
from shared.natsserver import NatsServer, free_port
from shared.service import run_service

LEASE = ExecutionLeaseConfig(ttl_s=2.0, renew_every_s=0.5)


def leased(config: Config, lease: ExecutionLeaseConfig = LEASE) -> Config:
    return msgspec.structs.replace(config, execution_lease=lease)


async def test_a_contender_is_refused_while_the_lease_is_renewed_and_takes_over_once_it_lapses(
    config: Config, bus: Bus
):
    first, second = await open_lease(bus, leased(config)), await open_lease(bus, leased(config))
    assert first.key == second.key and first.instance != second.instance
    assert await first.try_acquire()
    sampler = ValiditySampler(first, second)
    renewing = asyncio.create_task(first.keep())
    acquired = time.monotonic()
    created = first.revision
    # renewed for longer than the TTL: the key is still the first's
    await until(lambda: time.monotonic() - acquired > 2 * LEASE.ttl_s, "twice the TTL", 10)
    assert first.revision >= created + 3 and first.valid()
    assert not await second.try_acquire()

    renewing.cancel()  # the holder dies: no more renewals, no release
    died = time.monotonic()
    await asyncio.wait_for(second.acquire(), LEASE.ttl_s + 2)
    took = time.monotonic() - died
    await until(lambda: second.instance in sampler.first_valid, "a sample of the new holder")
    await sampler.stop()

    # the last renewal went out at most one period before the holder died
    assert LEASE.ttl_s - LEASE.renew_every_s <= took <= LEASE.ttl_s + 2 * LEASE.renew_every_s
    # the holder stopped by its own clock before the standby held the lease
    assert sampler.last_valid[first.instance] < sampler.first_valid[second.instance]
    assert second.role is LeaseRole.HOLDER and second.valid() and not first.valid()


async def test_a_renewal_that_finds_another_instance_in_the_key_loses_the_lease_at_once(
    config: Config, bus: Bus
):
    holder = await open_lease(bus, leased(config))
    assert await holder.try_acquire()
    renewing = asyncio.create_task(holder.keep())
    await holder.kv.put(holder.key, b"another instance")  # the revision changed hands
    changed = time.monotonic()
    await asyncio.wait_for(renewing, LEASE.renew_every_s + 1)
    assert time.monotonic() - changed <= LEASE.renew_every_s + 0.5
    assert holder.lost.is_set() and holder.role is LeaseRole.LOST and not holder.valid()
    assert (await holder.kv.get(holder.key)).value == b"another instance"  # left as it found it


async def test_a_holder_whose_key_was_taken_places_nothing_more(
    config: Config, bus: Bus, sim: Simulator
):
    lease = await open_lease(bus, leased(config))
    assert await lease.try_acquire()
    renewing = asyncio.create_task(lease.keep())
    h = await build(sim, may_trade=lease.valid)
    try:
        reply = await h.relay.on_chain_requested(
            ChainRequested(symbol="SPY", min_dte=35, max_dte=60, strikes_around=12)
        )
        chain = OptionChain.from_event(reply)
        await h.flows.entries.on_strategy_built(condor_event(chain, "held"))
        await h.wait_for(OrderPlaced, strategy_id="held")

        await lease.kv.put(lease.key, b"another instance")
        await asyncio.wait_for(renewing, LEASE.renew_every_s + 1)
        with pytest.raises(BrokerUnavailable) as refused:
            await h.flows.entries.on_strategy_built(condor_event(chain, "after-loss"))
        assert "lease" in str(refused.value)
        assert h.client.connected  # refused by the lease, not for want of a connection
        assert not sim_orders(sim, "after-loss")
        assert not h.of(OrderPlaced, strategy_id="after-loss")
        assert [o.order_ref for o in sim_orders(sim, "held")] == ["v6:held:entry:0"]
    finally:
        await teardown(h)


async def test_a_holder_cut_off_from_nats_stops_trading_before_a_standby_can_take_over(
    config: Config, tmp_path: Path
):
    # a server of the test's own, with file storage, so it comes back with the key
    port = free_port()
    server = NatsServer(tmp_path / "nats", port=port)
    await asyncio.to_thread(server.start)
    cfg = leased(config)
    cfg = msgspec.structs.replace(
        cfg, nats=msgspec.structs.replace(cfg.nats, url=server.url, storage="file")
    )
    holder_bus = await connect(cfg.nats, "execution")
    other_bus: Bus | None = None
    try:
        holder = await open_lease(holder_bus, cfg)
        assert await holder.try_acquire()
        sampler = ValiditySampler(holder)
        renewing = asyncio.create_task(holder.keep())
        await until(lambda: holder.revision >= 3, "two renewals", 5)

        await asyncio.to_thread(server.kill)
        cut = time.monotonic()
        await asyncio.wait_for(renewing, LEASE.ttl_s + 1)  # it gives up by its own clock
        assert holder.role is LeaseRole.LOST
        # it traded no longer than the TTL less a renewal period after its last renewal
        assert sampler.last_valid[holder.instance] - cut <= LEASE.ttl_s - LEASE.renew_every_s

        await asyncio.to_thread(server.start)
        other_bus = await connect(cfg.nats, "execution")
        standby = await open_lease(other_bus, cfg)
        await asyncio.wait_for(standby.acquire(), LEASE.ttl_s + 5)
        await sampler.stop()
    finally:
        for b in (other_bus, holder_bus):
            if b is not None:
                await b.close(grace_s=1.0)
        await asyncio.to_thread(server.stop)


def _broker_states(tap: Inbox, state: BrokerState) -> int:
    return len(tap.of(BrokerConnectionChanged, state=state))


async def test_a_standby_execution_does_not_touch_ib_and_takes_over_when_the_holder_stops(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox
):
    cfg = leased(service_config(config, sim.port, ["SPY"]))
    async with run_service(services.execution.SERVICE, cfg) as first:
        await tap.wait_for(BrokerConnectionChanged, state=BrokerState.SYNCHRONIZED)
        async with run_service(services.execution.SERVICE, cfg) as second:
            assert first.health()["lease"] == "holder"
            assert second.health()["lease"] == "standby"
            assert "broker" not in second.health()  # it built no IB client at all
            assert _broker_states(tap, BrokerState.CONNECTED) == 1

            await first.stop()  # a clean stop releases the lease
            stopped = time.monotonic()
            await tap.wait_for(
                BrokerConnectionChanged, count=2, state=BrokerState.SYNCHRONIZED, timeout=10
            )
            # released: no TTL to wait out, a try of the standby and a connect
            assert time.monotonic() - stopped < LEASE.ttl_s
            assert second.health()["lease"] == "holder"
            ev = condor_event(await chain_of(bus, "SPY"), "after-takeover")
            await bus.publish(ev)
            await tap.wait_for(OrderPlaced, strategy_id="after-takeover")


async def test_an_execution_that_loses_its_lease_leaves_ib_and_stops_with_status_1(
    config: Config, sim: Simulator, bus: Bus, tap: Inbox
):
    cfg = leased(service_config(config, sim.port, ["SPY"]))
    async with run_service(services.execution.SERVICE, cfg) as rt:
        await tap.wait_for(BrokerConnectionChanged, state=BrokerState.SYNCHRONIZED)
        kv = await bus.js.key_value(lease_bucket(cfg.nats.subject_prefix))
        await kv.put(lease_key(cfg.ib), b"another instance")
        await until(rt.stop_event.is_set, "the service asking to stop", LEASE.ttl_s)
        assert rt.exit_code == 1
        report = rt.health()
        assert report["lease"] == "lost" and report["broker_ready"] is False
        # its client id is free again: the simulator (like IB, error 326) takes one per id
        client = IBClient(cfg.ib)
        await client.start()
        try:
            await client.wait_ready(5)
        finally:
            await client.stop()


async def test_the_lease_bucket_follows_the_configured_ttl_and_a_secured_service_checks_it(
    config: Config, bus: Bus
):
    await ensure_lease_bucket(bus.js, config.nats, 5.0)
    await ensure_lease_bucket(bus.js, config.nats, LEASE.ttl_s)  # updated in place
    name = lease_bucket(config.nats.subject_prefix)
    status = await (await bus.js.key_value(name)).status()
    assert status.ttl == LEASE.ttl_s and status.history == 1

    provisioned = msgspec.structs.replace(
        leased(config, ExecutionLeaseConfig(ttl_s=9.0, renew_every_s=1.0)),
        nats=msgspec.structs.replace(config.nats, manage_streams=False),
    )
    with pytest.raises(LeaseMisconfigured) as refused:
        await open_lease(bus, provisioned)
    assert "9.0" in str(refused.value) and "2.0" in str(refused.value)
