"""A service that loses the bus ends, non-zero, for its supervisor to restart it: it never goes
on (execution: trading over IB) with nobody hearing it. Lost is closed for good, or not back
within nats.max_reconnect_s."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from fault_harness import on_server
from fixtures.processes import Child, wait_for_ping
from fixtures.recorder import SERVICE as RECORDER

from shared.config import Config
from shared.natsserver import NatsServer
from shared.service import BUS_LOST_EXIT, STOP_GRACE_S, Runtime

BOUND_S = 1.0


@pytest.mark.slow
async def test_a_service_whose_server_is_gone_for_good_exits_within_the_bound(
    config: Config, tmp_path: Path, spawn: Callable[..., Child]
):
    server = NatsServer(tmp_path / "nats")
    async with server:
        decision = spawn("decision", on_server(config, server.url, max_reconnect_s=BOUND_S))
        await decision.start()
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(server.kill)
        killed_at = loop.time()
        code = await decision.process.wait(timeout=BOUND_S + STOP_GRACE_S)
        took = loop.time() - killed_at
    output = decision.process.output
    assert code == BUS_LOST_EXIT, output[-3000:]
    assert took >= BOUND_S  # it tried to reconnect first
    assert f"not reconnected within {BOUND_S:g} s" in output
    assert '"service stopped"' in output  # tables flushed, hooks run: a stop, not a crash


async def test_a_connection_the_server_ends_stops_the_service_with_the_bus_lost_status(
    config: Config, nats_url: str
):
    runtime = Runtime(RECORDER, config)
    running = asyncio.create_task(runtime.run())
    await wait_for_ping(nats_url, RECORDER.name)
    # what a strategy id too long for a subject did to execution: the server closes the
    # connection on the over-long control line, and nats-py does not reconnect after that
    await runtime.bus.nc.publish(f"{runtime.subjects.prefix}.x.{'x' * 5000}", b"")
    assert await asyncio.wait_for(running, STOP_GRACE_S) == BUS_LOST_EXIT
    assert runtime.bus_lost == "the connection is closed"
