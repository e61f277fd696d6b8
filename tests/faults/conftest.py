"""The ``system`` fixture for fault tests on the session's NATS server (``fixtures.system``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fixtures.system import System, open_system

from shared.bus import Bus
from shared.config import Config


@pytest.fixture
async def system(config: Config, bus: Bus, data_root: Path) -> AsyncIterator[System]:
    async with open_system(config, bus, data_root) as system:
        yield system
