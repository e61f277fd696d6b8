"""Entry's integration fixtures: the service's config, a market desk, an event inbox."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from entry_desk import MarketDesk

from shared.bus import Bus
from shared.config import Config, dump_config, load_config


class Inbox:
    """Every event seen on a core subscription, and a way to wait for one."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._changed = asyncio.Event()

    async def on_event(self, event: Any) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def next_of(self, kind: type, after: int, timeout: float = 15.0) -> Any:
        """The event of ``kind`` that follows the first ``after`` of them, once it arrives."""
        async with asyncio.timeout(timeout):
            while len(self.of(kind)) <= after:
                self._changed.clear()
                await self._changed.wait()
        return self.of(kind)[after]


@pytest.fixture
def entry_config(config: Config) -> Config:
    """One symbol, and no scheduled evaluation during a test: tests ask with evaluate_entry."""
    tree = dump_config(config)
    tree["universe"]["symbols"] = ["SPY"]
    tree["entry"]["interval_s"] = 36_000.0
    tree["entry"]["rpc_timeout_s"] = 20.0
    return load_config(env={}, overrides=tree)


@pytest.fixture
def desk() -> MarketDesk:
    return MarketDesk()


@pytest.fixture
async def inbox(bus: Bus) -> Inbox:
    box = Inbox()
    await bus.subscribe(bus.subjects.wildcard("signal"), box.on_event)
    await bus.subscribe(bus.subjects.wildcard("strategy", "built"), box.on_event)
    return box
