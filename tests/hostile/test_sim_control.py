"""The simulator's control channel can move prices and drop connections: off unless enabled."""

from __future__ import annotations

import json

import nats.errors
import pytest

from services.ibsim.server import Simulator
from shared.bus import Bus
from shared.config import SimConfig


async def _ask_state(bus: Bus) -> bytes:
    msg = await bus.nc.request(bus.subjects.sim("state"), b"{}", timeout=0.5)
    return msg.data


async def test_control_channel_is_off_without_control_enabled(bus: Bus, nats_url: str) -> None:
    sim = Simulator(SimConfig(), port=0, nats_url=nats_url, subject_prefix=bus.subjects.prefix)
    async with sim:
        with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
            await _ask_state(bus)


async def test_control_channel_answers_once_enabled(bus: Bus, nats_url: str) -> None:
    config = SimConfig(control_enabled=True)
    async with Simulator(config, port=0, nats_url=nats_url, subject_prefix=bus.subjects.prefix):
        reply = json.loads(await _ask_state(bus))
    assert reply["ok"] is True
