"""The NATS server killed (SIGKILL) mid-cycle and restarted on the same port with its file store:
streams and consumers survive, services reconnect, the pending decision is carried out once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fault_harness import assert_closed_once, on_server
from fixtures.system import system_on

from shared.config import Config
from shared.enums import Action
from shared.natsserver import NatsServer

pytestmark = pytest.mark.slow


async def test_nats_killed_after_a_close_decision_the_exit_still_happens_once(
    config: Config, data_root: Path, tmp_path: Path
):
    server = NatsServer(tmp_path / "nats")
    async with server, system_on(on_server(config, server.url), data_root) as system:
        system.make_neutral("SPY")
        await system.start()
        await system.wait_market_data()
        built = await system.open_strategy("SPY")
        await system.take_profit(built.strategy_id, Action.CLOSE)

        await asyncio.to_thread(server.kill)  # the decision is in the stream, its exit not
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.start)

        await assert_closed_once(system, built.strategy_id, built.quantity)
