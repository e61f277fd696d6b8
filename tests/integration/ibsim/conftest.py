"""Fixtures: a fresh simulator per test, and an ib_async client whose error logs fail the test.

ib_async's decoder swallows a malformed message and only logs it; the ``ib_errors`` fixture
turns every such log into a test failure. IB error codes (``Error 200, reqId …``) are logged by
the wrapper at ERROR level too: a test that provokes one declares it with ``ib_errors.expect``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from fixtures import waiting
from ib_async import IB

from services.ibsim import Simulator
from shared.config import SimConfig
from shared.natsserver import NatsServer

START = "2026-06-15T10:30:00"  # a Monday, 10:30 New York
_IB_CODE = re.compile(r"^(?:Error|Warning) (\d+), reqId")


class IBErrorLog(logging.Handler):
    """Collects ERROR records from the ib_async loggers."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._expected: list[re.Pattern[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def expect(self, pattern: str) -> None:
        """Allow ERROR logs matching ``pattern`` (e.g. ``"Error 200"``)."""
        self._expected.append(re.compile(pattern))

    def codes(self) -> list[int]:
        return [int(m.group(1)) for r in self.records if (m := _IB_CODE.match(r.getMessage()))]

    def unexpected(self) -> list[str]:
        out = []
        for record in self.records:
            text = record.getMessage()
            decoder = record.name in ("ib_async.decoder", "ib_async.Decoder")
            if decoder or not any(p.search(text) for p in self._expected):
                out.append(f"{record.name}: {text}")
        return out


@pytest.fixture
def ib_errors() -> Iterator[IBErrorLog]:
    handler = IBErrorLog()
    logger = logging.getLogger("ib_async")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
    unexpected = handler.unexpected()
    assert not unexpected, f"ib_async logged errors: {unexpected}"


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(start_time=START, tick_interval_s=0.02)


@pytest.fixture
async def sim(sim_config: SimConfig) -> AsyncIterator[Simulator]:
    async with Simulator(sim_config) as simulator:
        yield simulator


@pytest.fixture
async def connect(
    sim: Simulator, ib_errors: IBErrorLog
) -> AsyncIterator[Callable[..., Awaitable[IB]]]:
    """``await connect(client_id)``: an ib_async client connected to the simulator."""
    clients: list[IB] = []

    async def _connect(client_id: int = 1) -> IB:
        ib = IB()
        await ib.connectAsync("127.0.0.1", sim.port, clientId=client_id, timeout=3)
        clients.append(ib)
        return ib

    yield _connect  # type: ignore[misc]
    for ib in clients:
        ib.disconnect()


@pytest.fixture
async def ib(connect: Callable[..., Awaitable[IB]]) -> IB:
    return await connect(1)


@pytest.fixture
def until() -> Callable[..., Awaitable[object]]:
    """``await until(lambda: trade.isDone())``: wait for something the client receives."""
    return waiting.until


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    """A throw-away nats-server of this test's own."""
    with NatsServer(tmp_path / "nats") as server:
        yield server.url
