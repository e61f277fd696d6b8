"""The whole system for end-to-end tests (the harness itself is ``fixtures.system``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fixtures.system import (
    SERVICES,
    START,
    System,
    now_of,
    open_system,
    sim_config,
    system_config,
    table_rows,
)

from shared.bus import Bus
from shared.config import Config

__all__ = ["SERVICES", "START", "System", "now_of", "sim_config", "system_config", "table_rows"]


@pytest.fixture
async def system(config: Config, bus: Bus, data_root: Path) -> AsyncIterator[System]:
    async with open_system(config, bus, data_root) as system:
        yield system
